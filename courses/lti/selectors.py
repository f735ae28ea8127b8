"""Read-only queries for LTI launches: which course, module and survey a launch means."""

from __future__ import annotations

import hashlib

from django.db.models import QuerySet
from django.utils import timezone

from courses.models import Course, Module, Survey

# Course.lti_context_id is globally unique, but context ids are only unique within a platform (two
# Moodles both have a course "2"), so we store the issuer with the id.
_MAX_CONTEXT_KEY = 255


def context_key(issuer: str, context_id: str) -> str:
    key = f"{issuer}#{context_id}"
    if len(key) > _MAX_CONTEXT_KEY:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def course_for_lms_context(issuer: str, context_id: str) -> Course | None:
    return Course.objects.filter(lti_context_id=context_key(issuer, context_id)).first()


def module_for_resource_link(course: Course, resource_link_id: str) -> Module | None:
    return Module.objects.filter(course=course, lti_resource_link_id=resource_link_id).first()


def open_surveys(course: Course) -> QuerySet[Survey]:
    now = timezone.now()
    return Survey.objects.filter(course=course, opens_at__lte=now, closes_at__gt=now)


def survey_for_launch(course: Course, *, resource_link_id: str, survey_id: str | None) -> Survey | None:
    """The open survey a learner's launch points at: the `survey_id` custom parameter (looked up inside
    the launch's course only) or the open survey of the module linked to the resource link."""
    surveys = open_surveys(course)
    if survey_id:
        return surveys.filter(pk=int(survey_id)).first() if survey_id.isdigit() else None
    return surveys.filter(module__lti_resource_link_id=resource_link_id).order_by("-opens_at").first()


def deep_link_choices(course: Course) -> tuple[QuerySet[Module], QuerySet[Survey]]:
    modules = Module.objects.filter(course=course).order_by("position", "title")
    surveys = Survey.objects.filter(course=course, closes_at__gt=timezone.now()).order_by("opens_at")
    return modules, surveys


def synced_learner_count(course: Course) -> int | None:
    """Learners on the course's LMS roster at the last successful sync (NRPS); None when never synced.
    Reports use it for response rates in preference to a number typed in by hand."""
    from .models import RosterSync

    return RosterSync.objects.filter(course=course, learner_count__isnull=False).values_list(
        "learner_count", flat=True).first()
