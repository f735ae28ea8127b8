"""Login throttling (django-axes) fitted to this project: see AUTHENTICATION_BACKENDS in settings."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest


class ThrottledLoginBackend(AxesStandaloneBackend):
    """Axes' lockout check for every password login that comes over HTTP.

    Axes refuses an `authenticate()` call without a request; the only such calls here are in-process ones
    (the test client's `login()`, a shell), which no remote attacker can make, so they are let through to
    the next backend instead of failing.
    """

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs: object) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def client_ip(request: HttpRequest) -> str:
    """The address whose failed logins are counted: the one the reverse proxy names, as for survey limits."""
    return request.META.get(settings.SURVEY_CLIENT_IP_META) or request.META.get("REMOTE_ADDR", "")
