"""An access rule for the approvals page, as a project names one in
``CELERY_GRAFLOW_FEEDBACK_ACCESS``: the support team answers the address questions of
``asking.questions`` and nothing else, the managers everything else - whatever permissions either
holds."""

from __future__ import annotations

from django.http import HttpRequest

from graflow_celery.core.feedback import FeedbackRequest

TEAMS = {"support", "managers"}


def by_team(request: HttpRequest, feedback: FeedbackRequest | None) -> bool:
    user = request.user
    if not user.is_authenticated:
        return False
    teams = set(user.groups.values_list("name", flat=True))
    if feedback is None:  # the approvals page at all
        return bool(teams & TEAMS)
    return ("support" if feedback.task_id == "fix_address" else "managers") in teams
