"""Reads about classification progress (operations figures; the rules of what is pending live in services)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Min, Q

from classifiers.classification.services import pending_feedback
from classifiers.models import ModelVersion
from courses.surveys.anonymity import RANDOM_ID_FLOOR


def oldest_unclassified_since() -> datetime | None:
    """Since when the comment waiting longest for its active model has been classifiable (None: nothing waits).

    Anonymous survey answers become classifiable only when their day is over (their time is that day's
    midnight: courses.surveys.anonymity), so they count from the end of that day, not from midnight: the
    figure does not jump by a day every night. One query per active version.
    """
    oldest: datetime | None = None
    for version in ModelVersion.objects.filter(is_active=True).select_related("schema"):
        found = pending_feedback(version).aggregate(
            plain=Min("created_at", filter=Q(pk__lt=RANDOM_ID_FLOOR)),
            anonymous=Min("created_at", filter=Q(pk__gte=RANDOM_ID_FLOOR)),
        )
        for since in (found["plain"], found["anonymous"] and found["anonymous"] + timedelta(days=1)):
            if since is not None and (oldest is None or since < oldest):
                oldest = since
    return oldest
