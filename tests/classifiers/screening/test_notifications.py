"""Urgent comments reach student support (issue 19, item 4): at once (on commit, through Celery), once, by
e-mail and/or webhook, with the comment and course and never the identity behind an anonymous survey."""

from __future__ import annotations

import json
import threading
import urllib.error
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.test import Client

from classifiers.screening.models import NotificationStatus, UrgentNotification
from classifiers.screening.notifications import (
    queue_urgent_notifications,
    send_urgent_notification,
    sweep_urgent_notifications,
    urgent_message,
)
from courses.models import Feedback, ScreeningStatus
from tests.support import drop_task_messages, queued_task_messages
from tests.surveys.conftest import build_survey, form_data, lti_login, survey_url

pytestmark = pytest.mark.django_db

URGENT = "I have been thinking about suicide since the exams started, nobody notices"
SUB, ISS = "lti-sub-secret-77", "moodle.example.edu"


def _answer(course, *, anonymous: bool, settings) -> Feedback:  # noqa: ANN001
    """An urgent answer sent through the survey page by an LTI learner."""
    settings.SURVEY_RATE_LIMIT_PER_IP = 1000
    survey = build_survey(course, is_anonymous=anonymous)
    student = Client()
    lti_login(student, course, sub=SUB)
    assert student.post(survey_url(survey), form_data(survey, texts=(URGENT, ""))).status_code == 303
    return Feedback.objects.get(original_text=URGENT)


@pytest.fixture(autouse=True)
def _no_broker_leftovers():
    yield
    drop_task_messages("default", queued_task_messages("default", "send_urgent_notification_task"))


def test_the_message_of_an_anonymous_answer_has_the_comment_and_course_and_nobody(course, settings):
    item = _answer(course, anonymous=True, settings=settings)
    message = urgent_message(item)
    text = message["subject"] + message["body"] + json.dumps(message["payload"])
    assert URGENT in message["body"] and "CS101 (Programming 1)" in message["body"]
    assert "anonymous survey" in message["body"] and "nobody, this platform included, knows who wrote it" in text
    assert SUB not in text and ISS not in text and "Respondent" not in message["body"]
    assert message["payload"]["respondent"] is None and message["payload"]["anonymous"] is True


def test_the_message_of_an_identified_answer_names_the_respondent(course, settings):
    item = _answer(course, anonymous=False, settings=settings)
    message = urgent_message(item)
    assert f"Respondent: lti: https://{ISS} {SUB}" in message["body"]
    assert message["payload"]["respondent"] == f"lti: https://{ISS} {SUB}"


def test_it_is_sent_once_by_e_mail_to_the_configured_contact(course, settings):
    settings.SCREENING_SUPPORT_EMAIL = "care@uni.example"
    item = _answer(course, anonymous=True, settings=settings)
    (notification_id,) = queue_urgent_notifications([item.pk])
    assert queue_urgent_notifications([item.pk]) == []  # one row per comment
    sent = send_urgent_notification(notification_id)
    again = send_urgent_notification(notification_id)
    assert (sent.status, sent.sent_to, again.status) == (NotificationStatus.SENT, ["e-mail care@uni.example"], "sent")
    assert [m.to for m in mail.outbox] == [["care@uni.example"]]
    assert URGENT in mail.outbox[0].body and SUB not in mail.outbox[0].body


def test_the_policy_contact_overrides_the_setting(course, settings, administrator):
    from classifiers.screening.services import update_screening_policy

    settings.SCREENING_SUPPORT_EMAIL = "env@uni.example"
    update_screening_policy(actor=administrator, support_email="policy@uni.example")
    item = _answer(course, anonymous=True, settings=settings)
    (notification_id,) = queue_urgent_notifications([item.pk])
    send_urgent_notification(notification_id)
    assert [m.to for m in mail.outbox] == [["policy@uni.example"]]


def test_without_a_contact_it_says_nobody_was_told(course, settings, caplog):
    settings.SCREENING_SUPPORT_EMAIL = settings.SCREENING_SUPPORT_WEBHOOK_URL = ""
    item = _answer(course, anonymous=True, settings=settings)
    (notification_id,) = queue_urgent_notifications([item.pk])
    notification = send_urgent_notification(notification_id)
    assert notification.status == NotificationStatus.NO_CONTACT and mail.outbox == []
    assert "no student-support contact is configured" in caplog.text
    item.refresh_from_db()
    assert item.screening == ScreeningStatus.URGENT  # still held


class _Hook(BaseHTTPRequestHandler):
    received: list = []
    status = 204

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook(settings):
    _Hook.received, _Hook.status = [], 204
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.SCREENING_SUPPORT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/urgent"
    yield _Hook
    server.shutdown()


def test_a_webhook_gets_the_comment_as_json_and_a_failure_is_retried_without_mailing_twice(course, settings, webhook):
    settings.SCREENING_SUPPORT_EMAIL = "care@uni.example"
    item = _answer(course, anonymous=True, settings=settings)
    (notification_id,) = queue_urgent_notifications([item.pk])
    webhook.status = 500
    with pytest.raises(urllib.error.URLError):
        send_urgent_notification(notification_id)
    failed = UrgentNotification.objects.get()
    assert failed.status == NotificationStatus.FAILED and failed.sent_to == ["e-mail care@uni.example"]
    webhook.status = 204
    sent = send_urgent_notification(notification_id)  # the task's retry
    assert sent.status == NotificationStatus.SENT and sent.attempts == 2
    assert len(mail.outbox) == 1  # the e-mail went out on the first attempt only
    payload = webhook.received[-1]
    assert payload["comment"] == item.redacted_text and payload["course"] == "CS101" and payload["anonymous"] is True
    assert payload["respondent"] is None and SUB not in json.dumps(payload)


def test_the_sweep_queues_an_urgent_comment_nobody_queued(course, settings):
    item = _answer(course, anonymous=True, settings=settings)  # no on-commit hooks ran in this test
    assert not UrgentNotification.objects.exists()
    assert sweep_urgent_notifications() == {"queued": 1, "requeued": 0}
    assert UrgentNotification.objects.get().feedback == item
    assert len(queued_task_messages("default", "send_urgent_notification_task")) == 1
