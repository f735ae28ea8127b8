"""Real workers on the real broker: a student's completed survey is posted once to the gradebook even when the
worker is killed in the middle of the post. Worker A takes the task and is SIGKILLed while the platform holds
the score request; the platform then records it. After A's claim runs out, the beat's sweep on worker B posts
the row again with the same timestamp; the platform answers "already recorded" and the gradebook keeps one
result for the student."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from courses.lti import grades
from courses.lti.models import ParticipationLineItem, ScorePost, ScoreStatus
from courses.lti.selectors import context_key
from courses.models import SurveyResponse
from tests.conftest import start_celery_worker
from tests.factories import CourseFactory
from tests.lti.advantage import Advantage
from tests.surveys.conftest import build_survey, form_data, lti_login

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLAIM_S = 3


def start_worker(log: Path, name: str) -> subprocess.Popen:
    """A solo-pool worker (the task runs in the process we kill) reaching the loopback test platform."""
    return start_celery_worker(log, name=name, queues="default", pool=("--pool=solo",), ready_s=240,
                               env={"LTI_ALLOW_HTTP_LOOPBACK": "true", "LTI_SCORE_CLAIM_S": str(CLAIM_S)})


def test_a_worker_killed_during_the_post_still_leaves_exactly_one_score(platform, settings, tmp_path):
    from eduplatform.celery import app

    settings.LTI_ALLOW_HTTP_LOOPBACK = True
    app.control.purge()
    lms = Advantage(platform)
    course = CourseFactory(code="CS101", lti_context_id=context_key(platform.issuer, "ctx-1"))
    now = timezone.now()
    survey = build_survey(course, is_anonymous=False, opens_at=now - timedelta(days=1),
                          closes_at=now + timedelta(days=1))
    line = lms.create_line_item("ctx-1", {"scoreMaximum": 1, "label": "P", "resourceId": grades.resource_id(survey)})
    item = ParticipationLineItem.objects.create(
        survey=survey, registration=platform.register_with_tool(), context_key=course.lti_context_id,
        resource_link_id="link-9", lineitem_url=line["id"], lineitems_url=lms.lineitems_url("ctx-1"))
    lms.score_gate = threading.Event()  # the platform holds the first score request until we have killed A

    worker_a = start_worker(tmp_path / "a.log", "a")
    try:
        student = Client()
        lti_login(student, course, sub="student-7")
        session = student.session
        session["lti_identity"] = {**session["lti_identity"], "iss": platform.issuer, grades.SESSION_KEY: item.pk}
        session.save()
        sent = student.post(f"/surveys/{survey.pk}/", form_data(survey))
        assert sent.status_code == 303
        assert lms.score_arrived.wait(120), (tmp_path / "a.log").read_text()[-3000:]
        worker_a.send_signal(signal.SIGKILL)  # killed between the response and the end of the post
        worker_a.wait(10)
    finally:
        if worker_a.poll() is None:
            worker_a.kill()
    lms.score_gate.set()  # the platform records the score A sent; A never hears back
    row = ScorePost.objects.get()
    assert row.status == ScoreStatus.PENDING and row.user_id_on_platform == "student-7"

    time.sleep(CLAIM_S + 0.5)  # A's claim runs out
    worker_b = start_worker(tmp_path / "b.log", "b")
    try:
        from courses.lti.tasks import sweep_scores_task

        sweep_scores_task.delay()  # what the beat schedule runs every few minutes
        deadline = time.monotonic() + 180  # generous: this 2-core machine is shared
        while ScorePost.objects.get().status != ScoreStatus.POSTED:
            assert time.monotonic() < deadline, (tmp_path / "b.log").read_text()[-3000:]
            time.sleep(0.3)
    finally:
        worker_b.terminate()
        try:
            worker_b.wait(60)
        except subprocess.TimeoutExpired:
            worker_b.kill()

    assert len(lms.score_posts) == 2  # A's (recorded, unanswered) and B's (same timestamp: already recorded)
    assert lms.score_posts[0]["timestamp"] == lms.score_posts[1]["timestamp"]
    assert list(lms.scores_of(line["id"])) == ["student-7"]  # exactly one score in the gradebook
    assert SurveyResponse.objects.count() == 1
    assert ScorePost.objects.get().user_id_on_platform == ""
