"""Browser fixture of the end-to-end tests: the system Chromium (tests.browser.system_chromium)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser import system_chromium


@pytest.fixture
def browser(monkeypatch) -> Iterator[object]:  # noqa: ANN001 - pytest's fixture
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with system_chromium() as chromium:
        yield chromium
