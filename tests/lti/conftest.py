"""Fixtures for LTI tests: a live tool, a real platform on loopback, and a cookie-keeping "browser"."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.lti.platform import TestPlatform, form_fields, query_params, with_params


@pytest.fixture(autouse=True)
def _lti_settings(settings):
    settings.LTI_COOKIE_SECURE = False  # plain-HTTP loopback: a Secure cookie would never come back


@pytest.fixture
def platform(live_server):
    lms = TestPlatform().start(live_server.url)
    lms.register_with_tool()
    yield lms
    lms.stop()


class Browser:
    """requests.Session that walks the OIDC flow the way a browser would (the tool's JS cookie check
    reloads the login URL with lti1p3_new_window=1 when cookies work)."""

    def __init__(self, platform: TestPlatform) -> None:
        self.platform = platform
        self.http = requests.Session()

    def login(self, user_id: str = "user-1") -> dict[str, str]:
        """Login initiation at the tool; returns the auth request parameters it sends to the platform."""
        url = with_params(self.platform.login_url(user_id), lti1p3_new_window="1")
        resp = self.http.get(url, allow_redirects=False, timeout=10)
        assert resp.status_code == 302, resp.text[:500]
        assert resp.headers["Location"].startswith(self.platform.url + "/auth?")
        return query_params(resp.headers["Location"])

    def post_launch(self, data: dict[str, str]) -> requests.Response:
        return self.http.post(data["launch_url"], data={"id_token": data["id_token"], "state": data["state"]},
                              allow_redirects=False, timeout=10)

    def launch(self, **options: Any) -> requests.Response:
        auth = self.login(options.pop("login_user", "user-1"))
        return self.post_launch(self.platform.authorize(auth, **options))

    def get(self, url: str) -> requests.Response:
        return self.http.get(url, allow_redirects=False, timeout=10)


@pytest.fixture
def browser(platform):
    return Browser(platform)


__all__ = ["Browser", "form_fields"]
