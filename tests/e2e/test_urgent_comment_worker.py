"""A real Celery worker on the real broker: an urgent answer to an anonymous survey, sent through the survey
page, reaches student support by e-mail once, on commit, with the comment and course and nobody's identity."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from classifiers.screening.models import NotificationStatus, UrgentNotification
from courses.models import Feedback, ScreeningStatus
from tests.surveys.conftest import build_survey, form_data, lti_login, survey_url

pytestmark = pytest.mark.slow

URGENT = "Honestly I want to die, I can't cope with this term and nobody notices"
SUB = "lti-sub-secret-77"


@pytest.fixture
def support_mail(tmp_path, monkeypatch):
    # The worker subprocess inherits os.environ: file-based mail lets the test read what it sent.
    path = tmp_path / "mail"
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
    monkeypatch.setenv("EMAIL_FILE_PATH", str(path))
    monkeypatch.setenv("SCREENING_SUPPORT_EMAIL", "care@uni.example")
    return path


def test_worker_sends_an_urgent_anonymous_answer_to_student_support_once(
    transactional_db, support_mail, request, course, settings
):
    proc = request.getfixturevalue("celery_worker_process")
    settings.SURVEY_RATE_LIMIT_PER_IP = 1000
    survey = build_survey(course, is_anonymous=True)
    student = Client()
    lti_login(student, course, sub=SUB)
    resp = student.post(survey_url(survey), form_data(survey, texts=(URGENT, "The labs were fine")))
    assert resp.status_code == 303
    item = Feedback.objects.get(original_text=URGENT)
    assert item.screening == ScreeningStatus.URGENT
    deadline = time.monotonic() + 90
    while not UrgentNotification.objects.filter(status=NotificationStatus.SENT).exists():
        if time.monotonic() > deadline:
            pytest.fail("no notification was sent:\n" + proc.log_path.read_text()[-3000:])
        time.sleep(0.3)
    notification = UrgentNotification.objects.get()
    assert notification.feedback == item and notification.sent_to == ["e-mail care@uni.example"]
    time.sleep(1)  # a second delivery, were there one, would have written by now
    text = "".join(p.read_text() for p in support_mail.glob("*.log"))
    assert text.count("Subject: [Urgent] A student comment in CS101 may need student support") == 1
    assert "To: care@uni.example" in text and URGENT in text and "CS101 (Programming 1)" in text
    assert SUB not in text and "moodle.example.edu" not in text and "The labs were fine" not in text
