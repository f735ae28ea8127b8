"""The report's "What students talk about" in headless Chromium at an LMS iframe's 600 px and at 1280 px.

Screenshots go to artifacts/themes/ (looked at by a person: bars, names, quotes, nothing cut off)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from classifiers.themes.services import run_theme_run, start_theme_run
from tests.browser import system_chromium
from tests.classifiers.themes.helpers import add_comments
from tests.factories import ModuleFactory

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "themes"


@pytest.fixture
def themed(transactional_db, course, instructor):
    lectures = ModuleFactory(course=course, title="Data wrangling with pandas", position=1)
    labs = ModuleFactory(course=course, title="Visualisation", position=2)
    for weeks_ago in range(3):
        add_comments(course, "exam", 12, module=lectures, label="negative", weeks_ago=weeks_ago, seed=weeks_ago)
        add_comments(course, "slides", 8, module=lectures, label="neutral", weeks_ago=weeks_ago, seed=weeks_ago)
        add_comments(course, "lab", 10, module=labs, label="positive", weeks_ago=weeks_ago, seed=weeks_ago)
    add_comments(course, "parking", 4, module=labs, label="negative")  # a theme of 4: never shown
    run = run_theme_run(start_theme_run(course, actor=None, dispatch=False).pk)
    assert run.status == "succeeded", run.error
    return course


@pytest.mark.parametrize("width", [600, 1280])
def test_the_themes_section_reads_well_in_an_iframe_and_on_a_wide_screen(themed, instructor, live_server, client,
                                                                         settings, monkeypatch, width):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    client.force_login(instructor)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    url = live_server.url + reverse("reports:course_report", kwargs={"course_code": themed.code})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with system_chromium() as browser:
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        page = context.new_page()
        page.goto(url)
        section = page.locator('section.themes[aria-label="What students talk about in Data wrangling with pandas"]')
        section.locator("details.theme").first.locator("summary").click()
        section.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"themes-{width}px-full.png"), full_page=True)
        section.screenshot(path=str(ARTIFACTS / f"themes-{width}px-module.png"))
        chart = page.locator("#chart-themes-0")
        assert chart.is_visible() and chart.get_attribute("role") == "img"
        assert chart.bounding_box()["width"] <= width
        assert "exam" in page.locator("#chart-themes-0-desc").text_content()
        first = section.locator("details.theme").first
        assert first.locator("blockquote").count() == 3 and first.locator("blockquote").first.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        assert "parking" not in page.content().lower()
