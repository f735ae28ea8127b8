"""Content-Security-Policy on every response, and plain-text error replies for bad input.

The policy: scripts, frames, fonts, connections and everything else from our own origin only; no inline
script (our templates load their scripts from static files), so text that slips into a page unescaped
still cannot run. Inline *styles* stay allowed: label colour swatches and Django admin widgets use style
attributes, and CSS cannot run script. `frame-ancestors` comes from the response: the LTI middleware and the
survey pages set it per response (who may frame them) and it is kept; else X-Frame-Options DENY becomes 'none'.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",  # charts and Swagger UI icons are data: images
    "worker-src": "'self' blob:",  # Redoc's search runs in a blob: worker
    "object-src": "'none'",
    "base-uri": "'self'",
}
HEADER = "Content-Security-Policy"
_SCRIPT = re.compile(rb"<script\b[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def parse_policy(header: str) -> dict[str, str]:
    """`"a x; b y z"` → {"a": "x", "b": "y z"}."""
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name.lower()] = value.strip()
    return out


def allow_inline_scripts(response: HttpResponse) -> HttpResponse:
    """Allow exactly the inline scripts of a page a library wrote (pylti1p3's cookie check), by hash.

    For library pages only, whose scripts embed no unescaped request data; our templates use static files.
    """
    hashes = [base64.b64encode(hashlib.sha256(body).digest()).decode()
              for body in _SCRIPT.findall(response.content) if body.strip()]
    response.csp_script_hashes = hashes  # type: ignore[attr-defined]
    return response


class ContentSecurityPolicyMiddleware:
    """Sets POLICY on every response, keeping directives a view or inner middleware already set.

    Must come before (outside) courses.lti.middleware.LtiFrameMiddleware so it sees that middleware's
    frame-ancestors.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = {**POLICY, **parse_policy(response.headers.get(HEADER, ""))}
        if "frame-ancestors" not in policy and response.headers.get("X-Frame-Options") == "DENY":
            policy["frame-ancestors"] = "'none'"  # the CSP form of DENY (browsers prefer it when both are set)
        hashes = getattr(response, "csp_script_hashes", None)
        if hashes:
            policy["script-src"] += "".join(f" 'sha256-{h}'" for h in hashes)
        response[HEADER] = "; ".join(f"{name} {value}" for name, value in policy.items())
        return response


def bad_request(message: str, status: int = 400) -> HttpResponse:
    """An error reply that may quote what the user sent: plain text (with nosniff), never parsed as HTML."""
    response = HttpResponse(message, content_type="text/plain; charset=utf-8", status=status)
    response["X-Content-Type-Options"] = "nosniff"
    return response
