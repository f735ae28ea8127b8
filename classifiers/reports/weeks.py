"""The report week: reports, summary cells and alerts count in weeks that start on Monday."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import QuerySet


def week_of(day: date) -> date:
    """The Monday of `day`'s week (the summary's `date_trunc('week', ...)` in Python)."""
    return day - timedelta(days=day.weekday())


def in_weeks(rows: QuerySet, field: str, since: date | None, until: date | None) -> QuerySet:
    """`rows` whose date `field` falls in the weeks of `since` to `until`, both weeks whole (either may be None)."""
    if since:
        rows = rows.filter(**{f"{field}__gte": week_of(since)})
    if until:
        rows = rows.filter(**{f"{field}__lt": week_of(until) + timedelta(days=7)})
    return rows
