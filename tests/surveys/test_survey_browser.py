"""The survey in headless Chromium: axe-core (no serious or critical violations), keyboard only, phone width,
inside an iframe. Screenshots are kept under artifacts/surveys/ for people to look at."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from courses.models import SurveyResponse
from courses.surveys.identity import make_invitation
from tests.browser import system_chromium
from tests.surveys.conftest import build_survey

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "assets" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts" / "surveys"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}


@pytest.fixture
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls around it are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with system_chromium() as chromium:
        yield chromium
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def axe_serious(page, name: str) -> list[dict]:
    """Serious and critical axe-core violations (WCAG 2.1 A/AA and best practices) on the current page."""
    page.evaluate(AXE.read_text())  # evaluated, not a <script> tag: the page's CSP refuses inline scripts
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    found = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(result["violations"], indent=1))
    return found


def shoot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_survey_error_and_thank_you_pages_pass_axe_and_fit_the_screen(browser, live_server, course, viewport):
    survey = build_survey(course, allow_edit=True)
    url = f"{live_server.url}/surveys/{survey.pk}/?invite={make_invitation(survey)}"
    page = browser.new_page(viewport=VIEWPORTS[viewport])
    page.goto(url)
    assert page.get_by_role("heading", level=1).inner_text() == survey.title
    assert axe_serious(page, f"survey-{viewport}") == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    shoot(page, f"survey-{viewport}")

    page.get_by_role("button", name="Send my answers").click()  # the required question is unanswered
    assert page.get_by_role("alert").is_visible()
    assert axe_serious(page, f"survey-errors-{viewport}") == []
    shoot(page, f"survey-errors-{viewport}")

    page.get_by_role("group", name="1. The lectures help me learn.").get_by_label("Agree", exact=True).check()
    page.get_by_label("What works well?").fill("The worked examples in week 3.")
    page.get_by_role("button", name="Send my answers").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Thank you, your answers are saved"
    assert axe_serious(page, f"thanks-{viewport}") == []
    shoot(page, f"thanks-{viewport}")
    assert SurveyResponse.objects.filter(survey=survey).count() == 1


def test_survey_can_be_answered_with_the_keyboard_alone(browser, live_server, course):
    survey = build_survey(course)
    page = browser.new_page(viewport=VIEWPORTS["desktop"])
    page.goto(f"{live_server.url}/surveys/{survey.pk}/?invite={make_invitation(survey)}")
    page.keyboard.press("Tab")  # skip link
    assert page.evaluate("document.activeElement.textContent") == "Skip to the survey"
    page.keyboard.press("Tab")  # first radio group
    page.keyboard.press("ArrowDown")  # radios: focus lands on option 1 unchecked; arrows move and select
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")  # second radio group, left unanswered
    page.keyboard.press("Tab")  # first text area
    page.keyboard.type("Clear slides.")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the submit button
    assert page.evaluate("document.activeElement.textContent").strip() == "Send my answers"
    shoot(page, "survey-keyboard-focus")
    page.keyboard.press("Enter")
    page.wait_for_url("**/thanks/")
    response = SurveyResponse.objects.get(survey=survey)
    assert list(response.answers.exclude(likert_value=None).values_list("likert_value", flat=True)) == [3]
    assert response.answers.get(feedback__isnull=False).feedback.original_text == "Clear slides."


def test_survey_works_inside_an_lms_style_iframe(browser, live_server, course):
    survey = build_survey(course)
    frame_src = f"/surveys/{survey.pk}/?invite={make_invitation(survey)}"
    page = browser.new_page(viewport=VIEWPORTS["desktop"])
    # A parent page served (by Playwright) from the tool's origin, as an LMS page embeds the tool.
    page.route(f"{live_server.url}/lms-course-page", lambda route: route.fulfill(
        content_type="text/html",
        body=f'<!doctype html><title>LMS</title><iframe title="Survey" src="{frame_src}" '
             f'style="width:100%;height:1200px"></iframe>'))
    page.goto(f"{live_server.url}/lms-course-page")
    frame = page.frame_locator("iframe")
    frame.get_by_role("group", name="1. The lectures help me learn.").get_by_label("Strongly agree").check()
    frame.get_by_role("button", name="Send my answers").click()
    frame.get_by_role("heading", name="Thank you, your answers are saved").wait_for()
    shoot(page, "survey-in-iframe")
    assert SurveyResponse.objects.filter(survey=survey).count() == 1


def test_the_axe_check_catches_a_real_violation(browser):
    page = browser.new_page()
    page.set_content('<!doctype html><html><body><main><input type="text"></main></body></html>')
    assert {v["id"] for v in axe_serious(page, "control-unlabelled-input")} >= {"label"}
