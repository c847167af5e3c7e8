"""graflow's ``graflow.hitl.types`` path: the feedback types (``core/feedback_store.py`` and
friends) and ``FeedbackTimeoutError``."""

from graflow_celery import FeedbackRequest, FeedbackResponse, FeedbackTimeoutError, FeedbackType

__all__ = ["FeedbackRequest", "FeedbackResponse", "FeedbackTimeoutError", "FeedbackType"]
