"""Read-only queries for courses and feedback."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Course, Feedback
from .screening import shown_to_course_staff


def feedback_for_course(course: Course) -> QuerySet[Feedback]:
    """The course's feedback as staff may see it: screened clear or released, and today's anonymous answers
    not before tomorrow (courses.screening.shown_to_course_staff)."""
    return shown_to_course_staff(Feedback.objects.filter(course=course)).select_related("module")


def existing_external_ids(course: Course, external_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(external_ids), 5000):
        chunk = external_ids[start : start + 5000]
        found.update(
            Feedback.objects.filter(course=course, external_id__in=chunk).values_list("external_id", flat=True)
        )
    return found


def course_by_code(code: str) -> Course | None:
    return Course.objects.filter(code=code).first()
