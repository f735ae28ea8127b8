"""'You said, we did' on the learner's LTI landing page: launched through the real test platform, only the
launch's own course's published responses; the landing page and the survey intro at phone width (375 px)
pass axe with no serious or critical violations (browser, slow; screenshots in artifacts/loop/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from courses.loop.services import publish_loop_response, write_loop_response
from courses.models import Course, CourseMembership
from courses.surveys.identity import make_invitation
from tests.browser import system_chromium
from tests.factories import CourseFactory, MembershipFactory
from tests.lti.platform import INSTRUCTOR, LEARNER
from tests.surveys.conftest import build_survey

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "assets" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts" / "loop"


def serious_violations(page) -> list[str]:
    page.evaluate(AXE.read_text())  # evaluated, not a <script> tag: the page's CSP refuses inline scripts
    result = page.evaluate("async () => await axe.run(document, {runOnly: {type: 'tag', values: "
                           "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})")
    return [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]


def course_with_responses(browser) -> Course:
    """The instructor launches (the course is created), writes two drafts and publishes one; another course
    has a published response of its own."""
    assert browser.launch(roles=(INSTRUCTOR,), sub="teacher").status_code == 302
    course = Course.objects.get()
    teacher = CourseMembership.objects.get(course=course).user
    published = write_loop_response(course, module=None, you_said="Feedback on the labs came too late.",
                                    we_did="Marked labs come back within a week, from week 4.", actor=teacher)
    publish_loop_response(published, actor=teacher)
    write_loop_response(course, module=None, you_said="DRAFT: the exam", we_did="DRAFT: undecided", actor=teacher)
    other = CourseFactory(code="HIST200")
    colleague = MembershipFactory(course=other, role="instructor").user
    publish_loop_response(write_loop_response(other, module=None, you_said="OTHER COURSE", we_did="OTHER",
                                              actor=colleague), actor=colleague)
    return course


def test_a_learner_launch_shows_the_published_responses_of_its_own_course_only(browser, platform):
    course_with_responses(browser)
    learner = type(browser)(platform)
    page = learner.launch(roles=(LEARNER,), sub="student-7")  # no open survey: the course landing page
    assert page.status_code == 200, page.text[:500]
    assert "You said, we did" in page.text and "Marked labs come back within a week" in page.text
    assert "DRAFT" not in page.text and "OTHER COURSE" not in page.text


@pytest.mark.slow
def test_the_landing_page_at_phone_width_passes_axe(browser, platform, live_server, monkeypatch, settings):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    course = course_with_responses(browser)
    survey = build_survey(course)
    # The tool (localhost) and the platform (127.0.0.1) are different sites: the launch's state cookie must be
    # SameSite=None; Secure, which Chromium accepts on localhost as it would over HTTPS.
    settings.LTI_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    platform.launch_options = {"roles": (LEARNER,), "sub": "student-8"}
    with system_chromium() as chromium:
        page = chromium.new_page(viewport={"width": 375, "height": 740})
        page.goto(platform.login_url("student-8"))  # login → platform auth → auto-posted launch → landing
        page.get_by_role("heading", name="You said, we did").wait_for()
        page.screenshot(path=str(ARTIFACTS / "landing-375.png"), full_page=True)
        assert serious_violations(page) == []
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # The survey's intro shows them too (an invitation link here: the launch above had no survey).
        page.goto(f"{live_server.url}/surveys/{survey.pk}/?invite={make_invitation(survey)}")
        page.get_by_role("heading", name="You said, we did").wait_for()
        page.screenshot(path=str(ARTIFACTS / "survey-375.png"), full_page=True)
        assert serious_violations(page) == []
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert os.path.exists(ARTIFACTS / "landing-375.png") and os.path.exists(ARTIFACTS / "survey-375.png")
