"""A launch with the roster claim queues the sync; a real Celery worker reads 1,200 members in pages of 100
from the test platform in one task; the report's response rate is computed from that count. And a launch
whose sync cannot be queued still works, with the failure on the sync record."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse
from kombu.exceptions import OperationalError

from courses.lti.models import RosterSync, RosterSyncStatus
from courses.models import Course, SurveyResponse
from tests.classifiers.reports.report_data import add_feedback, version
from tests.factories import ModuleFactory, SurveyFactory
from tests.lti.advantage import INSTRUCTOR, Advantage, member
from tests.lti.conftest import Browser

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def loopback(settings, monkeypatch):
    settings.LTI_ALLOW_HTTP_LOOPBACK = True
    monkeypatch.setenv("LTI_ALLOW_HTTP_LOOPBACK", "true")  # for the worker process, which reads the environment


@pytest.mark.slow
def test_a_worker_syncs_a_roster_of_1200_in_pages_of_100_and_reports_use_it(loopback, celery_worker_process,
                                                                            platform, live_server):
    lms = Advantage(platform, page_size=100)
    lms.set_roster("ctx-1", [*(member(f"s{i:05d}") for i in range(1200)), member("user-1", INSTRUCTOR)])
    browser = Browser(platform)

    resp = browser.launch(roles=(INSTRUCTOR,), extra_claims=lms.nrps_claim("ctx-1"))

    assert resp.status_code == 302, resp.text[:500]
    deadline = time.monotonic() + 60
    while not RosterSync.objects.filter(status=RosterSyncStatus.OK).exists():
        assert time.monotonic() < deadline, celery_worker_process.log_path.read_text()[-3000:]
        time.sleep(0.3)
    state = RosterSync.objects.get()
    assert (state.learner_count, state.staff_count) == (1200, 1)
    assert len(lms.nrps_requests) == 13 and lms.token_requests == 1  # 1,201 members, 100 a page, one task
    log = celery_worker_process.log_path.read_text()
    assert log.count("courses.lti.tasks.sync_roster_task") >= 2 and "succeeded" in log  # received + succeeded

    course = Course.objects.get()
    module = ModuleFactory(course=course, title="Week 1")
    survey = SurveyFactory(course=course, module=module)
    SurveyResponse.objects.bulk_create(SurveyResponse(survey=survey, respondent_key=f"k{i}") for i in range(24))
    add_feedback(course, module, ["positive"] * 12 + ["negative"] * 12, model=version(course))
    page = browser.get(live_server.url + reverse("reports:course_report", kwargs={"course_code": course.code}))
    assert page.status_code == 200
    assert "24 survey respondents · response rate 2%" in page.text  # 24 of the 1,200 learners on the roster


def test_a_launch_whose_roster_sync_cannot_be_queued_still_works(loopback, platform, monkeypatch):
    from courses.lti import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.sync_roster_task, "delay", broker_down)
    lms = Advantage(platform)
    resp = Browser(platform).launch(roles=(INSTRUCTOR,), extra_claims=lms.nrps_claim("ctx-1"))
    assert resp.status_code == 302
    state = RosterSync.objects.get()
    assert state.status == RosterSyncStatus.FAILED and "could not be queued (OperationalError)" in state.error
    assert state.memberships_url == lms.memberships_url("ctx-1") and lms.nrps_requests == []
