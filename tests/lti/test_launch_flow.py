"""Full OIDC login + launch round trips driven by a real LTI 1.3 platform (lti1p3platform) over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from courses.lti.models import LtiIdentity
from courses.lti.selectors import context_key
from courses.models import Course, CourseMembership, Module, Role, Survey
from tests.lti.platform import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT

pytestmark = pytest.mark.django_db(transaction=True)


def _expected(name: str, **kwargs) -> str | None:
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def test_instructor_launch_creates_course_module_user_and_lands_on_the_report(browser, platform, live_server):
    resp = browser.launch(roles=(INSTRUCTOR,))

    assert resp.status_code == 302, resp.text[:1000]
    course = Course.objects.get(lti_context_id=context_key(platform.issuer, "ctx-1"))
    assert course.title == "Programming 1" and course.code == "cs101-lti"
    module = Module.objects.get(course=course, lti_resource_link_id="link-1")
    assert module.title == "Week 1 feedback"
    identity = LtiIdentity.objects.get(issuer=platform.issuer, sub="user-1")
    assert CourseMembership.objects.get(user=identity.user, course=course).role == Role.INSTRUCTOR
    report = _expected("reports:course_report", course_code=course.code)
    landing = resp.headers["Location"]
    if report is not None:
        assert landing.startswith(report)
    else:
        assert landing == reverse("lti:course", kwargs={"course_code": course.code})
        page = browser.get(live_server.url + landing)
        assert page.status_code == 200 and "Reports are coming" in page.text and "Programming 1" in page.text
        assert "frame-ancestors 'self' " + platform.url in page.headers["Content-Security-Policy"]
        assert "X-Frame-Options" not in page.headers


def test_second_launch_reuses_the_same_user_course_and_module(browser, platform):
    assert browser.launch().status_code == 302
    assert browser.launch().status_code == 302
    assert LtiIdentity.objects.count() == 1
    assert Course.objects.count() == 1 and Module.objects.count() == 1


def test_teaching_assistant_gets_the_teaching_assistant_role(browser, platform):
    assert browser.launch(roles=(TEACHING_ASSISTANT,)).status_code == 302
    assert CourseMembership.objects.get().role == Role.TEACHING_ASSISTANT


def test_learner_lands_on_the_open_survey_of_the_module_without_staff_login(browser, platform, live_server):
    assert browser.launch(roles=(INSTRUCTOR,), sub="teacher").status_code == 302
    course = Course.objects.get()
    module = Module.objects.get(lti_resource_link_id="link-1")
    now = timezone.now()
    survey = Survey.objects.create(course=course, module=module, title="Week 1", opens_at=now - timedelta(days=1),
                                   closes_at=now + timedelta(days=1))
    learner = type(browser)(platform)

    resp = learner.launch(roles=(LEARNER,), sub="student-7")

    assert resp.status_code in (200, 302), resp.text[:1000]
    assert not LtiIdentity.objects.filter(sub="student-7").exists()
    assert CourseMembership.objects.count() == 1  # the instructor's only
    expected = _expected("surveys:survey", survey_id=survey.pk)
    if expected is not None:
        assert resp.status_code == 302 and resp.headers["Location"] == expected
    else:
        assert resp.status_code == 200 and "Week 1" in resp.text and "not enabled" in resp.text
    # The learner's session is not a staff session.
    assert learner.get(live_server.url + reverse("lti:course", kwargs={"course_code": course.code})).status_code == 302


def test_learner_without_open_survey_sees_a_clear_page(browser, platform):
    assert browser.launch(roles=(INSTRUCTOR,), sub="teacher").status_code == 302
    resp = type(browser)(platform).launch(roles=(LEARNER,), sub="student-7")
    assert resp.status_code == 200 and "no open survey" in resp.text


def test_learner_in_a_course_no_instructor_opened_gets_a_404_page_not_a_new_course(browser, platform):
    resp = browser.launch(roles=(LEARNER,), sub="student-7")
    assert resp.status_code == 404 and "not set up in EduPlatform yet" in resp.text
    assert not Course.objects.exists()
