"""A verdict at ingest, in the one place feedback is made: survey submissions, API, imports. Urgent comments
are announced on commit (anonymous ones too); a failing screen stores the comment hidden, never loses it."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from classifiers.imports.services import import_feedback_file
from classifiers.screening.models import UrgentNotification
from courses.importers import ImportOptions
from courses.models import Feedback, ScreeningStatus
from courses.screening import install_screen
from courses.signals import feedback_urgent
from tests.support import drop_task_messages, queued_task_messages, token_client
from tests.surveys.conftest import build_survey, form_data, survey_url

pytestmark = pytest.mark.django_db

ABUSE = "Easy class but the guy is a complete ass."
DISTRESS = "Honestly I want to die, I can't cope with anything this term"
FINE = "The labs were well organised."


def _urgent_listener(received: list) -> object:
    def listener(sender, course_id, feedback_ids, **_):  # noqa: ANN001, ANN202
        received.extend(feedback_ids)
    return listener


def test_survey_answers_get_their_verdict_in_the_submission(client, course, settings):
    settings.SURVEY_RATE_LIMIT_PER_IP = 1000
    survey = build_survey(course, is_anonymous=False)
    from courses.surveys.identity import make_invitation

    response = client.post(survey_url(survey), form_data(survey, invite=make_invitation(survey), texts=(FINE, ABUSE)))
    assert response.status_code == 303
    fine, held = (Feedback.objects.get(original_text=t) for t in (FINE, ABUSE))
    assert (fine.screening, fine.screening_reasons) == (ScreeningStatus.CLEAR, [])
    assert (held.screening, held.screening_reasons) == (ScreeningStatus.HELD, ["offensive"])
    assert held.screening_score > 0.9 and fine.screening_score < 0.5
    assert held.screened_with.startswith("default (alt-profanity-check 1.9.1, rules 1)")


def test_api_bulk_and_import_are_screened_alike(course, instructor):
    api = token_client(instructor)
    resp = api.post(f"/api/courses/{course.code}/feedback/bulk/",
                    {"items": [{"text": FINE}, {"text": "watch your back, prof"}]}, format="json")
    assert resp.status_code == 201, resp.content
    import_feedback_file(course.code, f"text\n{FINE} again\n{ABUSE} again\n".encode(), filename="f.csv",
                         options=ImportOptions(text_col="text"), actor=instructor)
    verdicts = dict(Feedback.objects.values_list("original_text", "screening"))
    assert verdicts == {FINE: "clear", "watch your back, prof": "held", f"{FINE} again": "clear",
                        f"{ABUSE} again": "held"}


def test_the_screen_reads_the_redacted_text(course, instructor):
    api = token_client(instructor)
    api.post(f"/api/courses/{course.code}/feedback/", {"text": "mail me at suicidal.fan@uni.example please"},
             format="json")
    item = Feedback.objects.get()
    assert "[EMAIL]" in item.redacted_text and item.screening == ScreeningStatus.CLEAR


@pytest.mark.parametrize("anonymous", [True, False])
def test_an_urgent_survey_answer_is_announced_on_commit_even_when_anonymous(
    course, anonymous, django_capture_on_commit_callbacks, settings
):
    settings.SURVEY_RATE_LIMIT_PER_IP = 1000
    survey = build_survey(course, is_anonymous=anonymous)
    from courses.surveys.identity import make_invitation

    received: list[int] = []
    listener = _urgent_listener(received)
    feedback_urgent.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            resp = Client().post(survey_url(survey), form_data(survey, invite=make_invitation(survey),
                                                               texts=(FINE, DISTRESS)))
            assert resp.status_code == 303
            assert received == []  # not before the commit
    finally:
        feedback_urgent.disconnect(listener)
    urgent = Feedback.objects.get(original_text=DISTRESS)
    assert received == [urgent.pk] and urgent.screening == ScreeningStatus.URGENT
    notification = UrgentNotification.objects.get(feedback=urgent)
    queued = queued_task_messages("default", "send_urgent_notification_task")
    assert len(queued) == 1 and str(notification.pk).encode() in queued[0]
    drop_task_messages("default", queued)


def test_a_failing_screen_stores_the_comment_pending_and_hidden_and_says_so(course, instructor, caplog):
    def broken(text: str):  # noqa: ANN202
        raise RuntimeError("model file missing")

    from classifiers.screening.screens import ingest_screen

    install_screen(broken)
    try:
        with caplog.at_level(logging.ERROR):
            resp = token_client(instructor).post(f"/api/courses/{course.code}/feedback/", {"text": FINE},
                                                 format="json")
    finally:
        install_screen(ingest_screen)
    assert resp.status_code == 201
    item = Feedback.objects.get()
    assert item.screening == ScreeningStatus.PENDING
    assert "screening failed at ingest" in caplog.text and "model file missing" in caplog.text
    listed = token_client(instructor).get(f"/api/courses/{course.code}/feedback/").json()
    assert listed["count"] == 0


def _task_args(message: bytes) -> list:
    """The positional arguments of a queued Celery message (protocol 2: base64 JSON body [args, kwargs, …])."""
    return json.loads(base64.b64decode(json.loads(message)["body"]))[0]


@pytest.mark.parametrize("decided_at_ingest", [True, False])
def test_only_comments_left_pending_at_ingest_are_queued_for_screening_on_arrival(
    course, decided_at_ingest, django_capture_on_commit_callbacks, settings
):
    """The submission names the pending ones itself (no query for them after the commit): a trained screen
    serving leaves a comment pending, which goes to the screening task; one decided at ingest never does."""
    from classifiers.screening.screens import ingest_screen
    from courses.screening import Verdict
    from courses.surveys.identity import make_invitation

    settings.SURVEY_RATE_LIMIT_PER_IP = 1000
    survey = build_survey(course, is_anonymous=False)
    waiting = "The pace of the lectures"

    def screen(text: str) -> Verdict:
        if text == waiting and not decided_at_ingest:
            return Verdict(ScreeningStatus.PENDING, screen="waiting for the trained screen")
        return Verdict(ScreeningStatus.CLEAR, screen="test")

    install_screen(screen)
    try:
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            resp = Client().post(survey_url(survey), form_data(survey, invite=make_invitation(survey),
                                                               texts=(FINE, waiting)))
    finally:
        install_screen(ingest_screen)
    assert resp.status_code == 303
    queued = queued_task_messages("inference", "screen_feedback_task")
    drop_task_messages("inference", queued)
    assert not [q for q in queries.captured_queries  # the receiver no longer looks them up
                if q["sql"].startswith("SELECT") and '"courses_feedback"."screening"' in q["sql"]]
    pending, clear = (Feedback.objects.get(original_text=t) for t in (waiting, FINE))
    assert clear.screening == ScreeningStatus.CLEAR
    if decided_at_ingest:
        assert pending.screening == ScreeningStatus.CLEAR and queued == []
    else:
        assert pending.screening == ScreeningStatus.PENDING
        assert [_task_args(m) for m in queued] == [[[pending.pk]]]
