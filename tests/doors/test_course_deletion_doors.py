"""Deleting a course deletes everything its students wrote: administrators only, at every door."""

from __future__ import annotations

import pytest
from django.urls import reverse

from courses.models import Course, Feedback
from courses.services import delete_course
from eduplatform.errors import PermissionRefused
from tests.factories import FeedbackFactory
from tests.support import ROLES

ALLOWED = {"administrator", "superuser"}


@pytest.mark.parametrize("role", ROLES)
def test_course_deletion_is_for_administrators_in_admin_and_in_the_service(client, course, personas, role):
    FeedbackFactory(course=course)
    user = personas[role]
    client.force_login(user)
    client.post(reverse("admin:courses_course_delete", args=[course.pk]), {"post": "yes"})
    assert Course.objects.filter(pk=course.pk).exists() is (role not in ALLOWED)
    assert Feedback.objects.filter(course_id=course.pk).exists() is (role not in ALLOWED)


@pytest.mark.parametrize("role", ["instructor", "teaching_assistant"])
def test_course_staff_deleting_their_course_through_the_service_is_refused_with_the_reason(course, personas, role):
    with pytest.raises(PermissionRefused, match="only administrators may"):
        delete_course(course, actor=personas[role])
    assert Course.objects.filter(pk=course.pk).exists()
