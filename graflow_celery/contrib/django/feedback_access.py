"""Who may see and answer which request for feedback, on the approvals page and its JSON views.

A task names the permission a request needs in its metadata, as Django's ``permission_required``
does for a view - one permission, or a list of permissions that are all needed::

    ctx.request_approval("Refund 120 EUR?", metadata={"permission_required": "shop.approve_refund"})

By default (``by_permission``) an active user may see and answer a request if they have
``graflow.answer_feedback`` and every permission the request names (a superuser has them all).
``CELERY_GRAFLOW_FEEDBACK_ACCESS`` (``graflow_feedback_access`` in the Celery app's configuration)
names a function ``(request, feedback_request) -> bool`` to decide instead; it is also called with
``feedback_request=None``: may this user use the approvals page at all (False: someone not logged
in is sent to log in, anyone else gets 403).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.http import HttpRequest

from graflow_celery.contrib.django.access import configured
from graflow_celery.contrib.django.models import ANSWER_FEEDBACK
from graflow_celery.core.feedback import FeedbackRequest

FeedbackCheck = Callable[[HttpRequest, FeedbackRequest | None], bool]

ANSWER_PERMISSION = f"graflow.{ANSWER_FEEDBACK}"
PERMISSION_REQUIRED = "permission_required"  # the metadata key naming a request's own permission(s)


def required_permissions(feedback: FeedbackRequest) -> tuple[str, ...] | None:
    """The permissions ``feedback`` names in its metadata - none if it names none - or None if the
    value is neither a permission nor a list of them."""
    named = feedback.metadata.get(PERMISSION_REQUIRED)
    if named is None:
        return ()
    if isinstance(named, str):
        return (named,)
    if isinstance(named, list | tuple) and all(isinstance(p, str) for p in named):
        return tuple(named)
    return None


def by_permission(request: HttpRequest, feedback: FeedbackRequest | None) -> bool:
    """An active user with ``graflow.answer_feedback`` and the request's own permissions, if it
    names any. A request whose ``permission_required`` is malformed (a number, say) needs a
    permission nobody holds: only superusers see it - failing closed, not open."""
    user = getattr(request, "user", None)  # none without django.contrib.auth: nobody may
    if user is None or not user.is_active or not user.has_perm(ANSWER_PERMISSION):
        return False
    if feedback is None:
        return True
    needed = required_permissions(feedback)
    return bool(user.is_superuser) if needed is None else bool(user.has_perms(needed))


def feedback_check() -> FeedbackCheck:
    """The function that decides: ``CELERY_GRAFLOW_FEEDBACK_ACCESS``'s, or ``by_permission``."""
    return configured("graflow_feedback_access", by_permission)


def answerable(request: HttpRequest, waiting: Iterable[FeedbackRequest]) -> list[FeedbackRequest]:
    """The requests of ``waiting`` the user of ``request`` may see and answer, in their order
    (none if they may not use the approvals page at all)."""
    check = feedback_check()
    if not check(request, None):
        return []
    return [feedback for feedback in waiting if check(request, feedback)]
