"""A real Celery worker on the real broker raises the weekly alert and e-mails the instructors once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from classifiers.reports.models import Alert
from classifiers.tasks import scan_report_alerts_task
from eduplatform.celery import app
from tests.classifiers.reports.report_data import add_feedback, version
from tests.factories import ModuleFactory

pytestmark = pytest.mark.slow


@pytest.fixture
def mail_dir(tmp_path, monkeypatch):
    # The worker subprocess inherits os.environ: file-based mail lets the test read what it sent.
    path = tmp_path / "mail"
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
    monkeypatch.setenv("EMAIL_FILE_PATH", str(path))
    return path


def _wait(result, proc, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while not result.ready():
        if time.monotonic() > deadline:
            pytest.fail("worker did not finish:\n" + proc.log_path.read_text()[-3000:])
        time.sleep(0.3)
    return result.get(timeout=5)


def test_worker_emails_rising_negative_share_once(transactional_db, mail_dir, request, course, instructor, settings):
    proc = request.getfixturevalue("celery_worker_process")
    instructor.email = "ines@uni.example"
    instructor.save()
    model = version(course)
    module = ModuleFactory(course=course, title="Recursion")
    this_week = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    start = timezone.make_aware(timezone.datetime.combine(this_week, timezone.datetime.min.time()))
    items = add_feedback(course, module, ["negative"] * 2 + ["positive"] * 10, model=model)
    items += add_feedback(course, module, ["negative"] * 10 + ["positive"] * 2, model=model)
    for i, item in enumerate(items):  # first 12 last week, last 12 this week (so far)
        item.submitted_at = start + (timedelta(days=-7, minutes=i) if i < 12 else timedelta(minutes=i))
        item.save(update_fields=["submitted_at"])

    assert "report-alerts" in app.conf.beat_schedule
    first = _wait(scan_report_alerts_task.delay(), proc)
    second = _wait(scan_report_alerts_task.delay(), proc)
    assert first == {"raised": 1, "emailed": 1} and second == {"raised": 0, "emailed": 0}
    alert = Alert.objects.get()
    assert alert.module == module and alert.emailed_at is not None and alert.week == this_week
    mails = list(mail_dir.glob("*.log"))
    text = "".join(p.read_text() for p in mails)
    assert text.count("Subject: [CS101] Negative feedback rising in Recursion") == 1
    assert "To: ines@uni.example" in text and "/reports/CS101/" in text
