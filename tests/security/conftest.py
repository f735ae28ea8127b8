"""The LTI fixtures of tests/lti (a real platform on loopback and a cookie-keeping browser)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.lti.conftest import browser, platform  # noqa: F401  (fixtures for test_lti_attacks)


@pytest.fixture
def lti_settings(settings):
    """tests/lti's autouse settings, for the LTI tests here only (the redaction tests need no cache)."""
    settings.LTI_COOKIE_SECURE = False  # plain-HTTP loopback: a Secure cookie would never come back
    cache.clear()
    yield
    cache.clear()
