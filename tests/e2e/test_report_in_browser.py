"""The report in headless Chromium at an LMS iframe's width (600 px): charts visible, readable, private."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from tests.browser import system_chromium
from tests.classifiers.reports.report_data import add_feedback, version
from tests.factories import ModuleFactory

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def seeded(transactional_db, course, instructor):
    model = version(course, f1=0.812, baseline=0.331)
    mods = [ModuleFactory(course=course, title=t, position=i) for i, t in enumerate(
        ["Python refresher", "Data wrangling with pandas", "Visualisation", "Tiny elective"])]
    for week in range(6):
        add_feedback(course, mods[0], ["negative"] * 1 + ["neutral"] * 3 + ["positive"] * 6, week=week, model=model,
                     text="the labs were clear")
        add_feedback(course, mods[1], ["negative"] * (2 + week) + ["neutral"] * 2 + ["positive"] * 4, week=week,
                     model=model, text="merging exercises were rushed")
        add_feedback(course, mods[2], ["negative"] * 3 + ["positive"] * 3 + ["neutral"] * 3, week=week, model=model,
                     text="plots helped")
    add_feedback(course, mods[3], ["negative"] * 4, model=model, text="secret small group")
    return course


def test_report_is_readable_in_a_600px_iframe(seeded, instructor, live_server, client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    client.force_login(instructor)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    url = live_server.url + reverse("reports:course_report", kwargs={"course_code": seeded.code})
    ARTIFACTS.mkdir(exist_ok=True)
    with system_chromium() as browser:
        context = browser.new_context(viewport={"width": 600, "height": 900})
        context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        page = context.new_page()
        page.goto(url)
        page.screenshot(path=str(ARTIFACTS / "report-600px-top.png"))
        page.screenshot(path=str(ARTIFACTS / "report-600px-full.png"), full_page=True)
        for chart_id in ("chart-modules", "chart-trend-course", "chart-trend-0"):
            chart = page.locator(f"#{chart_id}")
            assert chart.is_visible()
            box = chart.bounding_box()
            assert box["width"] <= 600 and box["height"] > 100
            assert chart.get_attribute("role") == "img"
            assert page.locator(f"#{chart_id}-title").text_content()
        assert page.evaluate("document.documentElement.scrollWidth") <= 600  # no sideways scrolling
        hidden = page.locator("article[aria-label=\"Tiny elective\"] .hidden-cell")
        assert hidden.is_visible() and "fewer than 5 responses" in hidden.text_content()
        assert "secret small group" not in page.content()
        assert page.get_by_role("img", name="Share of sentiment labels per module").is_visible()
