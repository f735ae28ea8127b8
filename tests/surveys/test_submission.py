"""The submission service and page: one response each, feedback in the same transaction, edits, dates."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from classifiers.screening.screens import policy_snapshot
from courses.models import Answer, Feedback, FeedbackSource, SurveyResponse
from courses.signals import feedback_created
from courses.surveys.identity import make_invitation, respondent_from_invitation
from courses.surveys.services import AlreadyResponded, SurveyNotOpen, submit_survey_response
from eduplatform.security import parse_policy
from tests.surveys.conftest import build_survey, form_data, lti_login, survey_url

pytestmark = pytest.mark.django_db


def test_submission_stores_answers_and_redacted_feedback_then_announces_on_commit(
    client, course, django_capture_on_commit_callbacks
):
    # Identified survey: anonymous answers are not announced (they wait for the next day's sweep, issue 18;
    # tests/security/test_anonymity.py).
    survey = build_survey(course, is_anonymous=False)
    invite = make_invitation(survey)
    announced = []

    def listener(sender, course_id, feedback_ids, **_):
        announced.append((course_id, feedback_ids))

    feedback_created.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            resp = client.post(survey_url(survey), form_data(survey, invite=invite))
    finally:
        feedback_created.disconnect(listener)
    assert resp.status_code == 303 and resp["Location"].endswith(f"/surveys/{survey.pk}/thanks/")
    response = SurveyResponse.objects.get(survey=survey)
    assert sorted(Answer.objects.filter(response=response, likert_value__isnull=False)
                  .values_list("likert_value", flat=True)) == [2, 4]
    feedback = Feedback.objects.filter(answer__response=response).order_by("answer__question__position")
    assert [f.source for f in feedback] == [FeedbackSource.SURVEY] * 2
    assert feedback[1].original_text == "More examples, mail me at a@b.edu"
    assert "a@b.edu" not in feedback[1].redacted_text
    assert announced == [(survey.course_id, sorted(f.pk for f in feedback))]


def test_thank_you_page_confirms_and_explains_editing(client, course):
    # Issue 18: the page opens only to the browser that answered (tests/security/test_bounds.py).
    survey = build_survey(course, allow_edit=True, is_anonymous=False)
    client.post(survey_url(survey), form_data(survey, invite=make_invitation(survey)))
    resp = client.get(f"/surveys/{survey.pk}/thanks/")
    assert resp.status_code == 200
    assert "your answers are saved" in resp.content.decode()
    assert "You can change your answers until" in resp.content.decode()
    anonymous = build_survey(course, allow_edit=True)  # issue 18: changing anonymous answers needs the edit code
    client.post(survey_url(anonymous), form_data(anonymous, invite=make_invitation(anonymous)))
    assert "Your edit code" in client.get(f"/surveys/{anonymous.pk}/thanks/").content.decode()
    del client.cookies[f"survey_edit_{anonymous.pk}"]  # a browser that does not hold the code
    assert "enter the\n  edit code" in client.get(f"/surveys/{anonymous.pk}/thanks/").content.decode()


def test_duplicate_submission_is_refused_and_stores_nothing_more(client, survey, invite):
    assert client.post(survey_url(survey), form_data(survey, invite=invite)).status_code == 303
    again = client.post(survey_url(survey), form_data(survey, invite=invite, texts=("second try", "")))
    assert again.status_code == 409
    page = again.content.decode()
    assert "already answered" in page and "second try" in page  # the student's text is shown back, not lost
    assert SurveyResponse.objects.filter(survey=survey).count() == 1
    assert not Feedback.objects.filter(original_text="second try").exists()
    # Was: the link's page said "already answered". Issue 18: an anonymous survey's link went through staff's
    # hands, so its page is the same blank form whether it was used or not.
    page = client.get(survey_url(survey), {"invite": invite}).content.decode()
    assert "already answered" not in page and "Send my answers" in page and "The labs" not in page


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submissions_store_exactly_one(course):
    survey = build_survey(course)
    invite = make_invitation(survey)
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def submit():
        try:
            barrier.wait(timeout=10)
            statuses.append(Client().post(survey_url(survey), form_data(survey, invite=invite)).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(statuses) == [303, 409, 409, 409]
    assert SurveyResponse.objects.filter(survey=survey).count() == 1
    assert Feedback.objects.filter(course=course, source=FeedbackSource.SURVEY).count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_service_calls_with_edit_allowed_leave_one_consistent_response(course):
    survey = build_survey(course, allow_edit=True, is_anonymous=False)  # anonymous edits need the edit code
    respondent = respondent_from_invitation(make_invitation(survey), survey)
    questions = list(survey.questions.order_by("position"))
    barrier = threading.Barrier(2)
    results = []

    def submit(text):
        try:
            barrier.wait(timeout=10)
            answers = {questions[0]: 3, questions[2]: text}
            results.append(submit_survey_response(survey, respondent=respondent, answers=answers).created)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(t,)) for t in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [False, True]
    response = SurveyResponse.objects.get(survey=survey)
    assert response.answers.count() == 2
    assert Feedback.objects.filter(course=course, source=FeedbackSource.SURVEY).count() == 1


@pytest.mark.parametrize("shift, title", [(timedelta(days=3), "not open yet"), (timedelta(days=-30), "closed")])
def test_closed_and_not_yet_open_surveys_say_so_and_store_nothing(client, course, shift, title):
    now = timezone.now()
    survey = build_survey(course, opens_at=now + shift, closes_at=now + shift + timedelta(days=7))
    if shift < timedelta(0):
        survey.closes_at = now - timedelta(days=1)
        survey.save()
    invite = make_invitation(survey, expires_at=now + timedelta(days=60))
    page = client.get(survey_url(survey), {"invite": invite})
    assert page.status_code == 200 and title in page.content.decode()
    assert "<form" not in page.content.decode()
    posted = client.post(survey_url(survey), form_data(survey, invite=invite, texts=("keep this text", "")))
    assert posted.status_code == 409 and "keep this text" in posted.content.decode()
    assert SurveyResponse.objects.filter(survey=survey).count() == 0


def test_post_to_a_survey_that_just_closed_shows_the_students_text_back(client, survey, invite):
    now = timezone.now()
    with pytest.raises(SurveyNotOpen, match="closed"):
        submit_survey_response(survey, respondent=respondent_from_invitation(invite, survey), answers={},
                               now=now + timedelta(days=8))
    survey.closes_at = now - timedelta(seconds=1)
    survey.opens_at = now - timedelta(days=2)
    survey.save()
    resp = Client().post(survey_url(survey), form_data(survey, invite=invite, texts=("my long answer", "")))
    assert resp.status_code == 409
    assert "This survey is closed" in resp.content.decode() and "my long answer" in resp.content.decode()
    assert SurveyResponse.objects.count() == 0


def test_edit_until_close_replaces_answers_and_keeps_unchanged_feedback(client, course):
    survey = build_survey(course, allow_edit=True)
    invite = make_invitation(survey)
    url = survey_url(survey)
    assert client.post(url, form_data(survey, invite=invite, texts=("Labs", "Slides"))).status_code == 303
    kept = Feedback.objects.get(original_text="Labs")
    page = client.get(url, {"invite": invite}).content.decode()
    assert "Save my changes" in page and "Slides" in page  # pre-filled with the student's own answers
    resp = client.post(url, form_data(survey, invite=invite, likert=(1, None), texts=("Labs", "Pace")))
    assert resp.status_code == 303 and resp["Location"].endswith("?edited=1")
    response = SurveyResponse.objects.get(survey=survey)
    assert sorted(response.answers.exclude(likert_value=None).values_list("likert_value", flat=True)) == [1]
    texts = set(Feedback.objects.filter(answer__response=response).values_list("original_text", flat=True))
    assert texts == {"Labs", "Pace"}
    assert Feedback.objects.filter(pk=kept.pk).exists()
    assert not Feedback.objects.filter(original_text="Slides").exists()


def _answered_once(course, *, allow_edit):
    survey = build_survey(course, allow_edit=allow_edit)
    respondent = respondent_from_invitation(make_invitation(survey), survey)
    question = survey.questions.order_by("position").first()
    submit_survey_response(survey, respondent=respondent, answers={question: 5})
    return survey, respondent, question


def test_edit_is_refused_after_close(course):
    survey, respondent, q = _answered_once(course, allow_edit=True)
    with pytest.raises(SurveyNotOpen):
        submit_survey_response(survey, respondent=respondent, answers={q: 1},
                               now=survey.closes_at + timedelta(minutes=1))
    assert SurveyResponse.objects.get(survey=survey).answers.get().likert_value == 5


def test_edit_not_allowed_raises_already_responded(course):
    survey, respondent, q = _answered_once(course, allow_edit=False)
    with pytest.raises(AlreadyResponded):
        submit_survey_response(survey, respondent=respondent, answers={q: 1})
    assert SurveyResponse.objects.get(survey=survey).answers.get().likert_value == 5


def test_lti_student_submits_and_staff_only_preview(client, survey):
    lti_login(client, survey.course, roles=("http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",))
    page = client.get(survey_url(survey)).content.decode()
    assert "Preview." in page and "disabled" in page
    assert client.post(survey_url(survey), form_data(survey)).status_code == 403
    lti_login(client, survey.course)
    assert client.post(survey_url(survey), form_data(survey)).status_code == 303
    assert SurveyResponse.objects.filter(survey=survey).count() == 1


def test_lti_launch_for_another_course_is_refused(client, survey, other_course):
    lti_login(client, other_course)
    resp = client.get(survey_url(survey))
    assert resp.status_code == 403 and "another course" in resp.content.decode()


def test_no_identity_is_refused_with_guidance(client, survey):
    resp = client.get(survey_url(survey))
    assert resp.status_code == 403 and "Open the survey from your course page" in resp.content.decode()


def test_csrf_token_in_form_makes_posts_work_and_missing_token_is_refused(survey, invite):
    client = Client(enforce_csrf_checks=True)
    page = client.get(survey_url(survey), {"invite": invite})
    token = page.context["csrf_token"]
    assert 'name="csrfmiddlewaretoken" value="' in page.content.decode()
    refused = client.post(survey_url(survey), form_data(survey, invite=invite))
    assert refused.status_code == 403 and SurveyResponse.objects.count() == 0
    ok = client.post(survey_url(survey), {**form_data(survey, invite=invite), "csrfmiddlewaretoken": str(token)})
    assert ok.status_code == 303


def test_pages_may_be_framed_by_the_lms(client, survey, invite):
    resp = client.get(survey_url(survey), {"invite": invite})
    assert "X-Frame-Options" not in resp
    assert "frame-ancestors" in parse_policy(resp["Content-Security-Policy"])
    assert resp["Cache-Control"] == "no-store"


def test_submission_uses_a_bounded_number_of_queries(client, survey, invite, django_assert_max_num_queries):
    client.get(survey_url(survey), {"invite": invite})  # a student opens the form first
    policy_snapshot()  # and the process has read the screening policy (kept SCREENING_POLICY_CACHE_S)
    with django_assert_max_num_queries(6):
        assert client.post(survey_url(survey), form_data(survey, invite=invite)).status_code == 303


def test_identified_submission_with_on_arrival_work_uses_a_bounded_number_of_queries(
    client, course, django_assert_max_num_queries, django_capture_on_commit_callbacks, settings
):
    """Everything a submission does at the end-of-term peak, on-arrival classification included (bench/surveys.py):
    the one INSERT, then the on-commit receivers (classification: the course's serving versions, from memory after
    the first submission; embedding and screening: nothing, from memory and from the submission itself)."""
    from classifiers.classification import arrivals
    from classifiers.screening.screens import forget_policy
    from eduplatform.telemetry import client as client_redis
    from tests.factories import ModelVersionFactory
    from tests.support import drop_task_messages, queued_task_messages

    settings.SURVEY_RATE_LIMIT_PER_IP = 1000
    settings.SURVEY_DEFINITION_CACHE_S = settings.THEMES_IN_USE_CACHE_S = 300  # none expires on a slow machine
    settings.CLASSIFY_SERVING_CACHE_S = 300
    version = ModelVersionFactory(schema=course.schemas.get(name="sentiment"), is_active=True)
    survey = build_survey(course, is_anonymous=False)
    drop_task_messages("inference", queued_task_messages("inference", "drain_arrivals_task"))  # earlier tests'
    client_redis().delete(arrivals.DUE_KEY, arrivals.FROM_KEY, arrivals.DRAIN_QUEUED_KEY)
    # The first reads the survey, the screening policy, whether themes are in use and the serving versions.
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(survey_url(survey), form_data(survey, invite=make_invitation(survey))).status_code == 303
    data = form_data(survey, invite=make_invitation(survey))
    forget_policy()
    policy_snapshot()  # read afresh: kept SCREENING_POLICY_CACHE_S from now
    # The INSERT alone, with SAVEPOINT and RELEASE around it: the test's transaction (autocommit in production).
    with django_assert_max_num_queries(3), django_capture_on_commit_callbacks(execute=True):
        assert client.post(survey_url(survey), data).status_code == 303
    due = {int(v) for v in client_redis().zrange(arrivals.DUE_KEY, 0, -1)}
    drains = queued_task_messages("inference", "drain_arrivals_task")
    drop_task_messages("inference", drains)
    client_redis().delete(arrivals.DUE_KEY, arrivals.FROM_KEY, arrivals.DRAIN_QUEUED_KEY)
    assert version.pk in due  # classification really was noted for the course's serving version
    assert len(drains) == 1  # one drain for the three submissions: a burst does not queue a task per comment


def test_survey_definition_cache_applies_edits_made_through_the_orm_at_once(client, survey, invite, settings):
    settings.SURVEY_DEFINITION_CACHE_S = 60
    url = survey_url(survey)
    assert "The lectures help me learn." in client.get(url, {"invite": invite}).content.decode()
    question = survey.questions.get(position=1)
    question.prompt = "The lectures are recorded well."
    question.save()
    assert "The lectures are recorded well." in client.get(url, {"invite": invite}).content.decode()
    # A bulk update sends no signal: it shows once the cache delay has passed (here: cache off).
    survey.questions.filter(position=1).update(prompt="Bulk-updated prompt")
    assert "Bulk-updated prompt" not in client.get(url, {"invite": invite}).content.decode()
    settings.SURVEY_DEFINITION_CACHE_S = 0
    assert "Bulk-updated prompt" in client.get(url, {"invite": invite}).content.decode()


@pytest.mark.parametrize("anonymous", [False, True])
def test_a_surveys_insert_is_one_statement_text_psycopg_parses_once_per_process(client, course, monkeypatch, anonymous):
    """Every submission of a survey sends the same statement text with at most psycopg's cacheable number of
    parameters: psycopg then splits it once per process (re-splitting it was a sixth of a submission's CPU)."""
    from psycopg import _queries

    from courses.surveys import storage

    sent = []
    original = storage._run
    monkeypatch.setattr(storage, "_run", lambda conn, sql, params, response: sent.append((sql, params))
                        or original(conn, sql, params, response))
    survey = build_survey(course, is_anonymous=anonymous)
    for texts in (("The labs", "More examples"), ("Slides", "Fewer deadlines in week 5, mail me at a@b.edu")):
        data = form_data(survey, invite=make_invitation(survey), texts=texts)
        assert client.post(survey_url(survey), data).status_code == 303
    (first_sql, first_params), (second_sql, second_params) = sent
    assert first_sql == second_sql
    assert len(first_params) == len(second_params) <= _queries.MAX_CACHED_STATEMENT_PARAMS
    assert len(first_sql.encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH
    assert SurveyResponse.objects.filter(survey=survey).count() == 2
    assert Answer.objects.filter(response__survey=survey).count() == 8
