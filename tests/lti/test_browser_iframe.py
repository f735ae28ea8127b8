"""Headless Chromium: an LMS page on another loopback site frames the tool with third-party cookies
blocked; the tool's cookie check offers a new window, and the launch completes there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import system_chromium

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "lti"


@pytest.fixture
def chromium(monkeypatch):
    # Playwright's sync API keeps an event loop on this thread; Django's test-database calls are safe here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # Block third-party cookies, as Safari and Chrome can.
    with system_chromium("--test-third-party-cookie-phaseout") as browser:
        yield browser


def test_launch_inside_a_cross_site_iframe_with_blocked_cookies_gets_in_through_a_new_window(
    chromium, platform, live_server, settings
):
    # The tool is http://localhost:<port>, the LMS http://127.0.0.1:<port>: different sites. Chromium treats
    # localhost as a secure context, so Secure; SameSite=None cookies work as they would over HTTPS.
    settings.LTI_COOKIE_SECURE = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1000, "height": 760})
    page = context.new_page()

    page.goto(platform.url + "/course")
    frame = page.frame_locator("#tool")
    link = frame.get_by_text("Open EduPlatform in a new window")
    link.wait_for(timeout=15_000)
    assert frame.get_by_text("blocks cookies inside the course page").is_visible()
    page.screenshot(path=str(ARTIFACTS / "1-iframe-cookies-blocked.png"))

    with page.expect_popup(timeout=15_000) as popup_info:
        link.click()
    popup = popup_info.value
    popup.wait_for_load_state("networkidle", timeout=30_000)
    popup.get_by_text("Programming 1").first.wait_for(timeout=15_000)
    popup.screenshot(path=str(ARTIFACTS / "2-new-window-signed-in.png"))

    assert "/lti/" in popup.url or "/reports/" in popup.url
    assert popup.get_by_text("Programming 1").first.is_visible()
    assert "could not open" not in popup.content()
    context.close()
