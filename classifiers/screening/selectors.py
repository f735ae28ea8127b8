"""Screening's reads: the review queue (screeners only) and the screening report (administrators only).

`shown_to_course_staff` (the rule of every staff-facing list of comment text: report quotes, themes, CSV,
API, annotate view, admin) and `counted_for_course_staff` (the rule of staff-facing counts) live in
courses.screening, where courses' own lists need them; they are re-exported here for classifiers' features.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from statistics import median

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from classifiers.ml.screening import REASONS
from classifiers.reports.selectors import fewer_than
from classifiers.reports.suppression import group_minimums
from classifiers.screening.models import Decision, ScreeningDecision
from courses.models import Course, Faculty, Feedback, ScreeningStatus
from courses.permissions import Action, User, authorize, courses_to_screen
from courses.screening import counted_for_course_staff, shown_to_course_staff
from courses.surveys.anonymity import visible_to_staff

__all__ = ["counted_for_course_staff", "shown_to_course_staff", "review_queue", "queue_item", "screening_report"]

HELD_STATUSES = (ScreeningStatus.HELD, ScreeningStatus.URGENT)
EVER_HELD = (*HELD_STATUSES, ScreeningStatus.RELEASED, ScreeningStatus.REMOVED)


def _queue(user: User) -> QuerySet[Feedback]:
    """Held and urgent comments `user` may decide: of the courses they may screen (their faculty's or all, none
    where they hold a role: courses.permissions); today's anonymous answers from tomorrow, as for everyone
    (courses.surveys.anonymity)."""
    rows = Feedback.objects.filter(screening__in=HELD_STATUSES, course__in=courses_to_screen(user))
    return visible_to_staff(rows)


def review_queue(user: User, *, exclude: list[int] | tuple = (), limit: int = 10) -> list[Feedback]:
    """The next held comments for a screener, oldest first. Refused for anyone but a screener."""
    authorize(user, Action.SCREEN, None)
    rows = _queue(user).exclude(pk__in=list(exclude)).select_related("course", "module")
    return list(rows.order_by("created_at", "pk")[:limit])


def queue_size(user: User) -> int:
    authorize(user, Action.SCREEN, None)
    return _queue(user).count()


def queue_item(user: User, feedback_id: int) -> Feedback | None:
    """One held comment of `user`'s queue (None when it is not in it: decided, not held, their own course)."""
    authorize(user, Action.SCREEN, None)
    return _queue(user).select_related("course", "module").filter(pk=feedback_id).first()


def queue_payload(item: Feedback) -> dict:
    """What the queue shows of a held comment: its redacted text, course, module, day, and the screen's verdict."""
    return {
        "id": item.pk, "text": item.redacted_text, "course": item.course.code, "course_title": item.course.title,
        "module": item.module.title if item.module_id else None,
        "date": timezone.localtime(item.created_at).date().isoformat(), "source": item.get_source_display(),
        "verdict": item.screening, "reasons": list(item.screening_reasons), "score": item.screening_score,
        "screen": item.screened_with,
    }


# --- The report -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseRow:
    code: str
    title: str
    shown: bool
    note: str = ""
    held: int | None = None  # held by a screen in the period (decided since or not)
    urgent: int | None = None
    awaiting: int | None = None
    released: int | None = None
    removed: int | None = None
    median_hours: float | None = None


@dataclass(frozen=True)
class FacultyRow:
    """The courses of a faculty that the report shows one by one, added up (a course too small to show is in
    "other courses", never in its faculty's row: a faculty total would reveal it by subtraction)."""

    code: str  # "" for courses of no faculty
    name: str
    courses: int
    held: int
    urgent: int
    awaiting: int
    released: int
    removed: int
    median_hours: float | None  # None when fewer decisions than the minimum


@dataclass(frozen=True)
class ReasonRow:
    reason: str
    held: int | None  # comments a screen held for this reason; None when fewer than the minimum
    confirmed: int | None  # screeners' decisions giving this reason
    note: str = ""


@dataclass(frozen=True)
class ScreeningReport:
    since: date | None
    until: date | None
    minimum: int
    held: int
    awaiting: int
    decisions: int
    median_hours: float | None
    p90_hours: float | None
    by_reason: list[ReasonRow] = field(default_factory=list)
    by_course: list[CourseRow] = field(default_factory=list)
    by_faculty: list[FacultyRow] = field(default_factory=list)
    by_action: dict[str, int] = field(default_factory=dict)


def _faculty_row(faculty: Faculty | None, shown: list[tuple[CourseRow, list[float]]], floor: int) -> FacultyRow:
    waits = [w for _, course_waits in shown for w in course_waits]
    return FacultyRow(
        faculty.code if faculty else "", faculty.name if faculty else "(no faculty)", len(shown),
        *(sum(getattr(row, key) for row, _ in shown) for key in ("held", "urgent", "awaiting", "released", "removed")),
        _hours(waits)[0] if len(waits) >= floor else None,
    )


def _hours(seconds: list[float]) -> tuple[float | None, float | None]:
    if not seconds:
        return None, None
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return round(median(ordered) / 3600, 1), round(p90 / 3600, 1)


def _period(rows: QuerySet, path: str, since: date | None, until: date | None) -> QuerySet:
    tz = timezone.get_current_timezone()
    if since:
        rows = rows.filter(**{f"{path}__gte": datetime.combine(since, time.min, tz)})
    if until:
        rows = rows.filter(**{f"{path}__lte": datetime.combine(until, time.max, tz)})
    return rows


def screening_report(user: User, *, since: date | None = None, until: date | None = None) -> ScreeningReport:
    """For administrators: comments held per reason, per course and per faculty, decisions and the time they
    took, in the period (by the comment's arrival). A course (or reason) with fewer held comments than its minimum group
    size shows no numbers; those courses are pooled as "other courses" when the pool reaches the site's
    floor, and every total is a sum of what is shown, so nothing hidden is revealed by subtraction."""
    authorize(user, Action.VIEW_SCREENING_REPORT, None)
    floor = settings.MIN_GROUP_SIZE_FLOOR
    held = _period(visible_to_staff(Feedback.objects.filter(screening__in=EVER_HELD)), "created_at", since, until)
    decisions = _period(ScreeningDecision.objects.all(), "arrived_at", since, until)
    per_course: dict[int, dict] = defaultdict(lambda: defaultdict(int))
    reason_counts: dict[str, int] = defaultdict(int)
    for course_id, status, reasons in held.values_list("course_id", "screening", "screening_reasons").iterator():
        row = per_course[course_id]
        row["held"] += 1
        row["urgent"] += "distress" in reasons
        row["awaiting"] += status in HELD_STATUSES
        row["released"] += status == ScreeningStatus.RELEASED
        row["removed"] += status == ScreeningStatus.REMOVED
        for reason in reasons:
            reason_counts[reason] += 1
    waits: dict[int | None, list[float]] = defaultdict(list)
    confirmed: dict[str, int] = defaultdict(int)
    actions: dict[str, int] = defaultdict(int)
    for course_id, action, reasons, waited in decisions.annotate(waited=F("decided_at") - F("arrived_at")).values_list(
            "course_id", "action", "reasons", "waited").iterator():
        waits[course_id].append(waited.total_seconds())
        actions[action] += 1
        for reason in reasons:
            confirmed[reason] += 1
    courses = {c.pk: c for c in Course.objects.filter(pk__in=list(per_course)).select_related("faculty")}
    rows: list[CourseRow] = []
    faculties: dict[Faculty | None, list[tuple[CourseRow, list[float]]]] = defaultdict(list)
    pool: dict[str, int] = defaultdict(int)
    pool_waits: list[float] = []
    shown_waits: list[float] = []
    for course_id, counts in sorted(per_course.items(), key=lambda item: courses[item[0]].code):
        course, course_waits = courses[course_id], waits.get(course_id, [])
        minimum = group_minimums(course).course
        if counts["held"] < minimum:
            rows.append(CourseRow(course.code, course.title, False, fewer_than(minimum, "held comments")))
            for key, value in counts.items():
                pool[key] += value
            pool_waits += course_waits
            continue
        rows.append(CourseRow(course.code, course.title, True, "", counts["held"], counts["urgent"],
                              counts["awaiting"], counts["released"], counts["removed"], _hours(course_waits)[0]))
        faculties[course.faculty].append((rows[-1], course_waits))
        shown_waits += course_waits
    if pool["held"] >= floor:
        rows.append(CourseRow("(other courses)", "courses with fewer held comments than their minimum", True, "",
                              pool["held"], pool["urgent"], pool["awaiting"], pool["released"], pool["removed"],
                              _hours(pool_waits)[0]))
        shown_waits += pool_waits
    shown = [row for row in rows if row.shown]
    median_h, p90_h = _hours(shown_waits) if len(shown_waits) >= floor else (None, None)
    return ScreeningReport(
        since=since, until=until, minimum=floor,
        held=sum(row.held for row in shown), awaiting=sum(row.awaiting for row in shown),
        decisions=len(shown_waits), median_hours=median_h, p90_hours=p90_h,
        by_reason=[ReasonRow(reason, reason_counts[reason] if reason_counts[reason] >= floor else None,
                             confirmed[reason] if confirmed[reason] >= floor else None,
                             "" if reason_counts[reason] >= floor else fewer_than(floor, "comments"))
                   for reason in REASONS],
        by_course=rows,
        by_faculty=[_faculty_row(faculty, shown_rows, floor) for faculty, shown_rows in
                    sorted(faculties.items(), key=lambda item: (item[0] is None, item[0].code if item[0] else ""))],
        by_action={action.label: n for action in Decision if (n := actions.get(action.value, 0)) >= floor},
    )
