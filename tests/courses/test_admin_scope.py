"""Admin shows staff only their own courses' rows, and never the original (unredacted) text."""

import pytest
from django.urls import reverse

from tests.factories import FeedbackFactory

pytestmark = pytest.mark.django_db


def test_feedback_changelist_lists_only_own_course_and_redacted_text(client, course, other_course, instructor):
    FeedbackFactory(course=course, original_text="mail x@y.org", redacted_text="mail [EMAIL] mine")
    FeedbackFactory(course=other_course, redacted_text="someone else's comment")
    client.force_login(instructor)
    body = client.get(reverse("admin:courses_feedback_changelist")).content.decode()
    assert "mail [EMAIL] mine" in body and "x@y.org" not in body
    assert "someone else" not in body


def test_other_course_objects_are_not_reachable_by_url(client, course, other_course, instructor):
    theirs = FeedbackFactory(course=other_course)
    client.force_login(instructor)
    response = client.get(reverse("admin:courses_feedback_change", args=[theirs.pk]))
    assert response.status_code in (302, 403, 404)
    assert theirs.redacted_text not in response.content.decode()
    assert client.get(reverse("admin:courses_course_change", args=[other_course.pk])).status_code in (302, 403, 404)


def test_feedback_change_page_hides_original_text(client, course, instructor):
    fb = FeedbackFactory(course=course, original_text="call 555 123 4567", redacted_text="call [PHONE]")
    client.force_login(instructor)
    body = client.get(reverse("admin:courses_feedback_change", args=[fb.pk])).content.decode()
    assert "call [PHONE]" in body and "555 123 4567" not in body
