"""Requests the tool makes to a platform (registration, rosters, grades), bounded and checked.

A platform URL comes from a platform's own configuration or launch, i.e. from outside: each call is
HTTPS only (plain HTTP only to loopback hosts, and only where settings.LTI_ALLOW_HTTP_LOOPBACK allows it,
as in development and tests), follows no redirects, has a timeout and stops reading a body past a size
limit. Every failure is a PlatformError whose message says what went wrong, for a page, a log line or a
sync record; nothing here raises anything else.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from eduplatform.errors import DomainError

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_URL_CHARS = 2000
USER_AGENT = "EduPlatform-LTI-tool"


class PlatformError(DomainError):
    """A platform URL we will not call, or a call that failed; `status` is the platform's HTTP status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def check_platform_url(url: Any, *, what: str) -> str:
    """`url` when it is an absolute HTTPS URL (or HTTP to a loopback host where allowed); else PlatformError."""
    if not isinstance(url, str) or not url.strip():
        raise PlatformError(f"The {what} is missing.")
    if len(url) > MAX_URL_CHARS:
        raise PlatformError(f"The {what} is longer than {MAX_URL_CHARS} characters.")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise PlatformError(f"The {what} {url[:200]!r} is not a URL.") from exc
    if not host or parts.username or parts.password or any(c.isspace() for c in url):
        raise PlatformError(f"The {what} {url[:200]!r} is not an absolute URL of a host.")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and host in LOOPBACK_HOSTS and settings.LTI_ALLOW_HTTP_LOOPBACK:
        return url
    raise PlatformError(f"The {what} {url[:200]!r} does not use HTTPS; EduPlatform talks to platforms over HTTPS only.")


@dataclass(frozen=True)
class PlatformReply:
    status: int
    headers: requests.structures.CaseInsensitiveDict
    body: Any  # parsed JSON, or None for an empty body
    links: dict[str, str]  # Link header: rel -> URL


def call(
    method: str, url: str, *, what: str, headers: dict[str, str] | None = None, data: Any = None,
    json_body: Any = None, max_bytes: int | None = None, expect_json: bool = True,
) -> PlatformReply:
    """One request to a platform; a non-2xx answer, a timeout, a redirect, a body over `max_bytes` or a body
    that is not JSON (when `expect_json`) is a PlatformError naming `what` was asked."""
    check_platform_url(url, what=what)
    max_bytes = max_bytes or settings.LTI_PLATFORM_MAX_BYTES
    try:
        resp = requests.request(
            method, url, headers={"User-Agent": USER_AGENT, **(headers or {})}, data=data, json=json_body,
            timeout=settings.LTI_PLATFORM_TIMEOUT_S, allow_redirects=False, stream=True,
        )
    except requests.Timeout as exc:
        raise PlatformError(f"The platform did not answer the {what} request within "
                            f"{settings.LTI_PLATFORM_TIMEOUT_S} seconds.") from exc
    except requests.RequestException as exc:
        raise PlatformError(f"The {what} request could not reach the platform: {type(exc).__name__}.") from exc
    try:
        content = _read_capped(resp, max_bytes, what)
    finally:
        resp.close()
    if 300 <= resp.status_code < 400:
        raise PlatformError(f"The platform answered the {what} request with a redirect (HTTP {resp.status_code}); "
                            "EduPlatform follows none. Use the final URL.", status=resp.status_code)
    if not 200 <= resp.status_code < 300:
        raise PlatformError(f"The platform refused the {what} request (HTTP {resp.status_code}): "
                            f"{_snippet(content)}", status=resp.status_code)
    body = None
    if content.strip():
        try:
            body = json.loads(content)
        except (ValueError, UnicodeDecodeError) as exc:
            if expect_json:
                raise PlatformError(f"The platform's answer to the {what} request is not JSON.",
                                    status=resp.status_code) from exc
    links = {rel: link["url"] for rel, link in resp.links.items() if isinstance(link, dict) and "url" in link}
    return PlatformReply(resp.status_code, resp.headers, body, links)


def _read_capped(resp: requests.Response, max_bytes: int, what: str) -> bytes:
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PlatformError(f"The platform's answer to the {what} request is larger than {max_bytes:,} bytes.")
    chunks, size = [], 0
    # The timeout bounds each socket wait; a body dripping in byte by byte is cut at twice it in total.
    deadline = time.monotonic() + 2 * settings.LTI_PLATFORM_TIMEOUT_S
    try:
        for chunk in resp.iter_content(65536):
            size += len(chunk)
            if time.monotonic() > deadline:
                raise PlatformError(f"The platform's answer to the {what} request took too long to arrive.")
            if size > max_bytes:
                raise PlatformError(f"The platform's answer to the {what} request is larger than {max_bytes:,} bytes.")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise PlatformError(f"The platform's answer to the {what} request broke off: {type(exc).__name__}.") from exc
    return b"".join(chunks)


def _snippet(content: bytes) -> str:
    text = content[:300].decode("utf-8", "replace").strip()
    return " ".join(text.split()) or "(no details)"


def same_origin(url: str, other: str) -> bool:
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
