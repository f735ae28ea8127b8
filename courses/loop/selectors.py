"""What students and staff see of "you said, we did": published responses only, of one course."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Max

from courses.models import Course, Survey

from .models import LoopResponse, LoopStatus


def published_for_course(course: Course) -> list[LoopResponse]:
    """The course's published responses, module order, newest first within a module (course-wide first)."""
    return list(LoopResponse.objects.filter(course=course, status=LoopStatus.PUBLISHED)
                .select_related("module").order_by("module__position", "module__title", "-published_at", "-id"))


def published_for_survey(survey: Survey) -> list[LoopResponse]:
    """The survey's course's published responses, those of the survey's own module first."""
    items = published_for_course(survey.course)
    return sorted(items, key=lambda r: r.module_id != survey.module_id) if survey.module_id else items


def published_by_module(course: Course) -> dict[int | None, list[LoopResponse]]:
    grouped: dict[int | None, list[LoopResponse]] = defaultdict(list)
    for item in published_for_course(course):
        grouped[item.module_id].append(item)
    return dict(grouped)


def fingerprint(course: Course) -> tuple[int, str]:
    """Changes whenever a response of the course changes: part of the cached report page's key."""
    row = LoopResponse.objects.filter(course=course).aggregate(n=Count("id"), last=Max("updated_at"))
    return row["n"], row["last"].isoformat() if row["last"] else ""
