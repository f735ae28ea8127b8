"""Headless Chromium renders /api/docs/ with every request outside the test server refused (offline)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.browser import system_chromium

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "api"


@pytest.fixture
def chromium(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with system_chromium() as browser:
        yield browser


def test_swagger_ui_renders_every_resource_without_leaving_the_server(chromium, live_server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    own = urlparse(live_server.url).netloc
    refused: list[str] = []
    page = chromium.new_page(viewport={"width": 1200, "height": 1400})

    def offline(route):
        if urlparse(route.request.url).netloc == own:
            return route.continue_()
        refused.append(route.request.url)
        return route.abort()

    page.route("**/*", offline)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=False)
    assert "EduPlatform API" in page.inner_text(".swagger-ui .info")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/feedback/bulk/" in p for p in paths)
    assert refused == []
