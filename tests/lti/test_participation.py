"""Participation credit (AGS) at the service level against the test platform's gradebook (lti1p3platform,
real HTTP): one score per student, retries and give-ups, anonymous surveys' batches, and nothing that ties
a score to a response."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from lti_tool.models import Key

from courses.lti import grades
from courses.lti.models import ParticipationLineItem, ScorePost, ScoreStatus
from courses.lti.services import ensure_tool_key
from courses.models import SurveyResponse
from tests.factories import SurveyFactory
from tests.lti.advantage import Advantage
from tests.lti.platform import TestPlatform

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.LTI_ALLOW_HTTP_LOOPBACK = True


@pytest.fixture
def lms():
    platform = TestPlatform().start("http://tool.invalid")
    advantage = Advantage(platform)
    advantage.registration = platform.register_with_tool()
    ensure_tool_key()
    advantage.tool_jwks = Key.objects.as_jwks()
    yield advantage
    platform.stop()


def line_item(lms, course, *, anonymous: bool = False, lineitem: bool = True, closes_in_days: int = 7):
    now = timezone.now()
    survey = SurveyFactory(course=course, is_anonymous=anonymous, opens_at=now - timedelta(days=1),
                           closes_at=now + timedelta(days=closes_in_days))
    url = lms.create_line_item("ctx-1", {"scoreMaximum": 1, "label": "P",
                                         "resourceId": grades.resource_id(survey)})["id"]
    return ParticipationLineItem.objects.create(
        survey=survey, registration=lms.registration, context_key="k", resource_link_id="link-9",
        lineitem_url=url if lineitem else "", lineitems_url=lms.lineitems_url("ctx-1"))


def answered(item, sub: str) -> None:
    """What the survey page does on a student's first response: the credit inside its transaction."""
    with transaction.atomic():
        grades.Credit(item.pk, item.registration.issuer, sub, item.survey.is_anonymous).record()


def test_a_score_of_1_is_posted_once_and_the_student_id_is_then_forgotten(lms, course):
    item = line_item(lms, course)
    answered(item, "student-7")
    answered(item, "student-7")  # a second call for the same student adds nothing
    outcome = grades.post_scores(item.pk)
    assert outcome.posted == 1
    score = lms.scores_of(item.lineitem_url)["student-7"]
    assert (score["scoreGiven"], score["scoreMaximum"], score["activityProgress"], score["gradingProgress"]) == (
        1, 1, "Completed", "FullyGraded")
    row = ScorePost.objects.get()
    assert row.status == ScoreStatus.POSTED and row.user_id_on_platform == "" and row.posted_at
    assert grades.post_scores(item.pk).posted == 0 and len(lms.score_posts) == 1  # posted rows are never re-sent


def test_a_re_post_after_a_crash_keeps_one_result(lms, course):
    item = line_item(lms, course)
    answered(item, "student-7")
    grades.post_scores(item.pk)
    ScorePost.objects.update(status=ScoreStatus.PENDING, user_id_on_platform="student-7")  # as if never marked
    assert grades.post_scores(item.pk).posted == 1  # the platform says "already recorded" (same timestamp)
    assert len(lms.score_posts) == 2 and len(lms.scores_of(item.lineitem_url)) == 1
    assert ScorePost.objects.get().status == ScoreStatus.POSTED


def test_the_tool_creates_the_line_item_when_the_platform_made_none_and_reuses_it(lms, course):
    item = line_item(lms, course, lineitem=False)
    lms.line_items.clear()
    answered(item, "student-1")
    grades.post_scores(item.pk)
    answered(item, "student-2")
    grades.post_scores(item.pk)
    (created,) = lms.line_items.values()
    assert created["resourceId"] == grades.resource_id(item.survey) and created["scoreMaximum"] == 1
    assert created["resourceLinkId"] == "link-9" and created["tag"] == grades.TAG
    assert set(lms.scores_of(created["id"])) == {"student-1", "student-2"}


def test_errors_that_can_heal_are_retried_and_others_give_up(lms, course, settings):
    item = line_item(lms, course)
    answered(item, "student-7")
    lms.fail_scores_with = 503
    outcome = grades.post_scores(item.pk)
    row = ScorePost.objects.get()
    assert outcome.retry and row.status == ScoreStatus.PENDING and row.attempts == 1 and "HTTP 503" in row.last_error
    assert row.claimed_until is None and grades.due_line_items() == [item.pk]
    lms.fail_scores_with = 400
    assert not grades.post_scores(item.pk).retry
    row.refresh_from_db()
    assert row.status == ScoreStatus.FAILED and row.user_id_on_platform == "" and "HTTP 400" in row.last_error
    assert lms.results == {}


def test_anonymous_scores_wait_for_a_batch_of_the_minimum_group_size(lms, course):
    item = line_item(lms, course, anonymous=True)
    for n in range(4):
        answered(item, f"student-{n}")
    assert grades.post_scores(item.pk).posted == 0 and lms.score_posts == []
    answered(item, "student-4")
    assert grades.post_scores(item.pk).posted == 5
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    assert set(ScorePost.objects.values_list("timestamp", flat=True)) == {midnight}  # the day, like the response
    assert set(ScorePost.objects.values_list("posted_at", flat=True)) == {midnight}


def test_a_closed_anonymous_survey_posts_its_last_small_batch(lms, course):
    item = line_item(lms, course, anonymous=True)
    answered(item, "student-1")
    assert grades.post_scores(item.pk).posted == 0
    item.survey.closes_at = timezone.now() - timedelta(minutes=1)
    item.survey.opens_at = timezone.now() - timedelta(days=2)
    item.survey.save()
    assert grades.post_scores(item.pk).posted == 1


def test_nothing_ties_a_score_to_a_response():
    fields = {f.name for f in ScorePost._meta.get_fields()}
    assert not any(getattr(f, "related_model", None) is SurveyResponse for f in ScorePost._meta.get_fields())
    assert fields == {"id", "line_item", "subject_key", "user_id_on_platform", "timestamp", "status", "claimed_until",
                      "attempts", "last_error", "posted_at"}


def test_a_line_item_of_another_site_is_refused(lms, course):
    item = line_item(lms, course, lineitem=False)
    lms.line_items.clear()
    hostile = lms.create_line_item("ctx-1", {"resourceId": grades.resource_id(item.survey), "scoreMaximum": 1,
                                            "resourceLinkId": "link-9"})
    hostile["id"] = "https://collector.example/lineitems/1"  # the platform's answer names another site
    answered(item, "student-1")
    outcome = grades.post_scores(item.pk)
    assert outcome.posted == 0 and ScorePost.objects.get().status == ScoreStatus.PENDING
    assert lms.score_posts == [] and "another site" in ScorePost.objects.get().last_error


def test_the_admin_counts_scores_for_the_courses_staff_and_never_shows_whose(lms, course, other_course):
    from django.test import Client
    from django.urls import reverse

    from courses.models import Role
    from tests.factories import MembershipFactory, UserFactory

    item = line_item(lms, course)
    answered(item, "student-7")
    answered(item, "student-8")
    grades.post_scores(item.pk)
    answered(item, "student-9")
    url = reverse("admin:lti_participationlineitem_changelist")
    for course_, shown in ((course, True), (other_course, False)):
        user = MembershipFactory(course=course_, role=Role.INSTRUCTOR, user=UserFactory(is_staff=True)).user
        client = Client()
        client.force_login(user)
        page = client.get(url).content.decode()
        assert (item.survey.title in page) == shown
        assert "student-" not in page
        detail = client.get(reverse("admin:lti_participationlineitem_change", args=[item.pk]))
        assert detail.status_code == (200 if shown else 404) and "student-" not in detail.content.decode()
