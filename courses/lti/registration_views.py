"""The Dynamic Registration page: the platform opens it, the administrator confirms, we register.

Thin: dynamic_registration.py decides. GET checks who may register, reads the platform's configuration
and shows what will be registered; POST (the confirmation, carrying a signed state instead of relying on
cookies the LMS frame may not send) registers and answers with the page that closes the platform's window.
Every refusal is a 4xx page and a `LTI registration rejected (...)` log line, never a 500.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import dynamic_registration as dr
from .models import origin_of
from .outbound import PlatformError, check_platform_url

logger = logging.getLogger(__name__)


def _frame_origins(params: Any) -> list[str]:
    """Who may frame these pages: the platform whose configuration URL we were given (its admin UI opens us
    in a frame), only when that URL is one we would call."""
    url = params.get("openid_configuration", "") if hasattr(params, "get") else ""
    try:
        check_platform_url(url, what="openid_configuration URL")
    except PlatformError:
        return []
    return [origin_of(url)]


def _page(request: HttpRequest, template: str, context: dict[str, Any], *, origins: list[str],
          status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["Content-Security-Policy"] = "frame-ancestors " + " ".join(["'self'", *origins])
    response["Cache-Control"] = "no-store"
    return response


def _refused(request: HttpRequest, exc: dr.RegistrationRefused, origins: list[str], config_url: str) -> HttpResponse:
    logger.warning("LTI registration rejected (%s): %s [openid_configuration host=%r path=%s]", exc.status, exc,
                   urlsplit(config_url).hostname if isinstance(config_url, str) else None, request.path)
    return _page(request, "lti/register_error.html", {"reason": str(exc)}, origins=origins, status=exc.status)


@csrf_exempt  # the signed state is the form's defence; the LMS frame may send no cookies
@xframe_options_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def dynamic_registration(request: HttpRequest, token: str | None = None) -> HttpResponse:
    params: Any = {}
    config_url = ""
    origins: list[str] = []
    try:
        params = request.GET if request.method == "GET" else request.POST  # a too-large body raises here
        access = dr.check_access(user=request.user, token=token)
        if request.method == "GET":
            config_url, registration_token = dr.request_parameters(request.GET)
            origins = _frame_origins(request.GET)
            platform = dr.fetch_platform_configuration(config_url)
            return _page(request, "lti/register.html", {
                "platform": platform, "scopes": platform.wanted_scopes(),
                "state": dr.sign_state(config_url, registration_token, access),
            }, origins=origins)
        config_url, registration_token = dr.load_state(params.get("state", ""), access)
        origins = _frame_origins({"openid_configuration": config_url})
        done = dr.register(config_url, registration_token, access=access,
                           base_url=request.build_absolute_uri("/"))
        return _page(request, "lti/registered.html", {"done": done}, origins=origins)
    except dr.RegistrationRefused as exc:
        return _refused(request, exc, origins or _frame_origins(params), config_url)
    except Exception:
        # Contract: never a 500. Logged with the traceback so nothing is swallowed.
        logger.exception("LTI: unexpected error in dynamic registration")
        return _refused(request, dr.RegistrationRefused("The registration could not be completed; the error was "
                                                        "logged."), origins, config_url)
