"""Calling a platform's LTI Advantage services (NRPS, AGS) as the tool.

The access token comes from the platform's token endpoint by the client-credentials grant with a signed
JWT assertion (1EdTech Security Framework 4.1: iss = sub = our client id, aud = the platform's audience or
token URL, a unique jti, signed with our key) and is cached until shortly before it expires. Requests go
through outbound.call (HTTPS, timeouts, size limits); a service URL on another origin than the one the
platform gave is refused before our bearer token is sent there.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import jwt
from django.core.cache import cache
from lti_tool.models import Key, LtiRegistration

from . import outbound
from .outbound import PlatformError, PlatformReply

TOKEN_GRACE_S = 60  # ask for a new token this long before the old one expires
ASSERTION_LIFETIME_S = 300


def _signing_key(registration: LtiRegistration) -> tuple[str, str]:
    """(private key PEM, kid): the registration's own key, else the tool's newest active key."""
    if registration.has_key:
        from jwcrypto.jwk import JWK

        kid = JWK.from_pem(registration.public_key.encode()).thumbprint()
        return registration.private_key, kid
    from .services import ensure_tool_key

    key: Key = ensure_tool_key()
    return key.private_key, key.as_jwk()["kid"]


def _token_cache_key(registration: LtiRegistration, scopes: list[str]) -> str:
    digest = hashlib.sha256("|".join(sorted(scopes)).encode()).hexdigest()[:16]
    return f"lti-access-token:{registration.pk}:{digest}"


def access_token(registration: LtiRegistration, scopes: list[str]) -> str:
    key = _token_cache_key(registration, scopes)
    cached = cache.get(key)
    if cached:
        return cached
    private_key, kid = _signing_key(registration)
    now = int(time.time())
    assertion = jwt.encode(
        {"iss": registration.client_id, "sub": registration.client_id,
         "aud": registration.audience or registration.token_url, "iat": now - 5, "exp": now + ASSERTION_LIFETIME_S,
         "jti": f"eduplatform-{uuid.uuid4()}"},
        private_key, algorithm="RS256", headers={"kid": kid},
    )
    reply = outbound.call("POST", registration.token_url, what="access token", headers={"Accept": "application/json"},
                          data={"grant_type": "client_credentials",
                                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                                "client_assertion": assertion, "scope": " ".join(scopes)})
    body = reply.body if isinstance(reply.body, dict) else {}
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise PlatformError("The platform's token endpoint answered without an access_token.")
    expires_in = body.get("expires_in")
    lifetime = int(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 3600
    if lifetime > TOKEN_GRACE_S:
        cache.set(key, token, lifetime - TOKEN_GRACE_S)
    return token


def forget_token(registration: LtiRegistration, scopes: list[str]) -> None:
    cache.delete(_token_cache_key(registration, scopes))


def request(registration: LtiRegistration, method: str, url: str, *, scopes: list[str], what: str, accept: str,
            content_type: str | None = None, body: Any = None, origin: str | None = None) -> PlatformReply:
    """One authorized service request. `origin`: the URL whose origin `url` must share (a next-page link
    must stay on the platform that gave the first URL, or our bearer token would travel elsewhere)."""
    if origin is not None and not outbound.same_origin(url, origin):
        raise PlatformError(f"The platform's {what} link points to another site ({url[:200]}); not followed.")
    headers = {"Accept": accept, "Authorization": f"Bearer {access_token(registration, scopes)}"}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        return outbound.call(method, url, what=what, headers=headers, json_body=body)
    except PlatformError as exc:
        if exc.status == 401:  # revoked or expired early: the next call fetches a new token
            forget_token(registration, scopes)
        raise
