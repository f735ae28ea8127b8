"""The system Chromium under Playwright, for browser tests (skips when either is missing)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = "/usr/bin/chromium"


@contextmanager
def system_chromium(*extra_args: str) -> Iterator[object]:
    """Callers set DJANGO_ALLOW_ASYNC_UNSAFE (monkeypatch): Playwright's sync API keeps an event loop on
    the test's thread, and Django's test-database calls are safe there."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (make chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu", *extra_args],
        )
        yield browser
        browser.close()
