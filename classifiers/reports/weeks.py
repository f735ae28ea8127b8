"""The report week: reports, summary cells and alerts count in weeks that start on Monday."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import QuerySet

from eduplatform.errors import DomainError


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


class ReportPeriodRefused(DomainError, ValueError):
    """A report period other than the whole course or one week (a ValueError too: pages answer 400)."""

    field = "since"


def report_period(since: date | None, until: date | None) -> tuple[date | None, date | None]:
    """The period a report may cover: the whole course (neither date) or one week, Monday to Sunday.

    Why only these: two free ranges that differ by a week (1-3 and 1-2) subtract into that week's numbers,
    which the trend hides when the week is small. Every published number is then a cell of one table
    (module by week, suppressed as a whole) or a total of the whole course, and no difference of two of
    them is a group below the minimum.
    """
    if since is None and until is None:
        return None, None
    if since is None or until is None or week_of(since) != week_of(until):
        raise ReportPeriodRefused(
            'Reports cover the whole course or one week: give "since" and "until" in the same week '
            "(Monday to Sunday), or neither."
        )
    return week_of(since), week_of(since) + timedelta(days=6)
