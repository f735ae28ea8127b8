"""LTI Dynamic Registration 1.0, the tool's side (https://www.imsglobal.org/spec/lti-dr/v1p0).

An administrator pastes our registration URL into the platform; the platform opens it with
`openid_configuration` (its OpenID configuration URL) and `registration_token`. We read and check that
configuration, POST our client registration to its `registration_endpoint` with the token as a bearer
token, store the client id and deployment it returns, and the page tells the platform's window to close
(`postMessage({subject: "org.imsglobal.lti.close"})`, static/courses/lti-registration-close.js).

Who may: a signed-in administrator (courses.permissions.can_manage_institution), or whoever holds a
one-time, expiring registration link issued by one (RegistrationToken; the LMS usually opens our page in
a frame, where the admin session cookie is not sent). Nothing is stored unless the platform accepted us.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from lti_tool.models import LtiRegistration

from courses.permissions import Action, User, authorize, can_manage_institution
from eduplatform.errors import DomainError

from . import outbound
from .models import RegistrationToken, origin_of
from .outbound import PlatformError, check_platform_url
from .registration import register_platform, tool_urls

logger = logging.getLogger(__name__)

PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
# Without roster access the tool cannot take away a removed instructor's access (NRPS sync): refuse.
REQUIRED_SCOPES = (NRPS_SCOPE,)
# The claims we ask for: who launched, and staff's name and e-mail (alerts); learners' are never stored.
CLAIMS = ["iss", "sub", "name", "email"]
MAX_REGISTRATION_TOKEN_CHARS = 4096
MAX_STORED_URL = 200  # django-lti's URLFields
STATE_SALT = "eduplatform.lti.dynamic-registration"
STATE_MAX_AGE_S = 30 * 60


class RegistrationRefused(DomainError):
    """A registration we will not do, with the status of the page that says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --- Who may register ---------------------------------------------------------------------------


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_registration_token(*, actor: User | None, note: str = "",
                             valid_for: timedelta | None = None) -> tuple[RegistrationToken, str]:
    """A new one-time registration link token (returned once; only its digest is stored)."""
    authorize(actor, Action.REGISTER_PLATFORM, None)
    token = secrets.token_urlsafe(32)
    valid_for = valid_for or timedelta(seconds=settings.LTI_REGISTRATION_TOKEN_TTL_S)
    row = RegistrationToken.objects.create(
        digest=token_digest(token), note=note[:255], created_by=actor if getattr(actor, "pk", None) else None,
        expires_at=timezone.now() + valid_for,
    )
    logger.info("LTI: registration link %s issued by %s, valid until %s", row.pk,
                getattr(actor, "username", None) or "the system", row.expires_at.isoformat())
    return row, token


@dataclass(frozen=True)
class Access:
    """Why this request may register: an administrator's session (user_id) or a link (digest)."""

    user_id: int | None = None
    digest: str | None = None

    def describe(self) -> str:
        return f"administrator {self.user_id}" if self.user_id else f"registration link {self.digest[:8]}…"


def check_access(*, user: User, token: str | None) -> Access:
    """The right to register, checked before anything is fetched (our server fetches the URL we are given)."""
    if token:
        if len(token) > 200:
            raise RegistrationRefused("This registration link is not valid. Copy the whole link from admin.", 403)
        row = RegistrationToken.objects.filter(digest=token_digest(token)).first()
        if row is None:
            raise RegistrationRefused("This registration link is not valid. Copy the whole link from admin, or issue "
                                      "a new one (admin → LTI registration links).", 403)
        if row.used_at is not None:
            raise RegistrationRefused(f"This registration link was already used on {row.used_at:%Y-%m-%d %H:%M %Z}; "
                                      "each link registers one platform. Issue a new one in admin.", 403)
        if row.expires_at <= timezone.now():
            raise RegistrationRefused(f"This registration link expired on {row.expires_at:%Y-%m-%d %H:%M %Z}. "
                                      "Issue a new one in admin (LTI registration links).", 403)
        return Access(digest=row.digest)
    if can_manage_institution(user):
        return Access(user_id=user.pk)
    raise RegistrationRefused(
        "Registering a platform needs an EduPlatform administrator: use a one-time registration link issued in "
        "admin (LTI registration links), or sign in to EduPlatform's admin as an administrator first.", 403)


# --- The platform's configuration -----------------------------------------------------------------


@dataclass(frozen=True)
class PlatformConfiguration:
    url: str
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    audience: str
    product: str
    messages: frozenset[str]
    scopes: frozenset[str]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.product or 'LMS'} ({urlsplit(self.issuer).hostname})"[:255]

    def wanted_scopes(self) -> list[str]:
        """Ours that the platform offers: roster (required) and grades (participation credit, when offered)."""
        scopes = list(REQUIRED_SCOPES)
        if AGS_LINEITEM in self.scopes:
            scopes.append(AGS_LINEITEM)
        elif AGS_LINEITEM_READONLY in self.scopes:
            scopes.append(AGS_LINEITEM_READONLY)
        if AGS_SCORE in self.scopes:
            scopes.append(AGS_SCORE)
        return scopes

    def frame_origins(self) -> list[str]:
        origins = [origin_of(self.url), origin_of(self.issuer)]
        return list(dict.fromkeys(origins))


def request_parameters(params: Any) -> tuple[str, str]:
    """(openid_configuration URL, registration_token) from the platform's request; refused when missing."""
    config_url = params.get("openid_configuration", "")
    registration_token = params.get("registration_token", "")
    if not isinstance(config_url, str) or not config_url:
        raise RegistrationRefused(
            "This page is opened by the learning platform during registration, with an openid_configuration "
            "parameter. Paste this page's address into your platform's tool registration (Moodle: Manage tools → "
            "Tool URL; Canvas: Developer Keys → LTI Registration) instead of opening it here.")
    if not isinstance(registration_token, str) or len(registration_token) > MAX_REGISTRATION_TOKEN_CHARS or any(
            c.isspace() for c in registration_token):
        raise RegistrationRefused("The platform's registration_token is not a valid token.")
    try:
        check_platform_url(config_url, what="openid_configuration URL")
    except PlatformError as exc:
        raise RegistrationRefused(str(exc)) from exc
    return config_url, registration_token


def fetch_platform_configuration(config_url: str) -> PlatformConfiguration:
    try:
        reply = outbound.call("GET", config_url, what="OpenID configuration",
                              headers={"Accept": "application/json"}, max_bytes=settings.LTI_REGISTRATION_MAX_BYTES)
    except PlatformError as exc:
        raise RegistrationRefused(str(exc), 502) from exc
    return validate_configuration(config_url, reply.body)


def _issuer_hosts(issuer: str) -> list[str]:
    host = (urlsplit(issuer).hostname or "").lower()
    extra = settings.LTI_REGISTRATION_ISSUER_DOMAINS.get(issuer.rstrip("/"), [])
    return [host, *(d.lower().lstrip(".") for d in extra)]


def _under(host: str, domains: list[str]) -> bool:
    host = host.lower()
    return any(host == d or host.endswith("." + d) for d in domains if d)


def _url(config: dict[str, Any], key: str) -> str:
    try:
        url = check_platform_url(config.get(key), what=f'configuration\'s "{key}"')
    except PlatformError as exc:
        raise RegistrationRefused(f"The platform's OpenID configuration is not usable: {exc}") from exc
    return url


def validate_configuration(config_url: str, config: Any) -> PlatformConfiguration:
    """The checks of LTI-DR 3.5 plus ours: issuer owns the configuration URL, HTTPS endpoints, RS256 and
    private_key_jwt, resource-link launches and the roster scope offered."""
    if not isinstance(config, dict):
        raise RegistrationRefused("The platform's OpenID configuration is not a JSON object.")
    issuer = _url(config, "issuer")
    config_host = urlsplit(config_url).hostname or ""
    if not _under(config_host, _issuer_hosts(issuer)):
        raise RegistrationRefused(
            f"The OpenID configuration at {config_url[:200]} names the issuer {issuer[:200]}, whose host does not own "
            "that address. A platform's configuration must come from its issuer's host (LTI-DR 3.5.1).", 403)
    endpoints = {key: _url(config, key) for key in
                 ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")}
    registration_host = urlsplit(endpoints["registration_endpoint"]).hostname or ""
    if not _under(registration_host, [config_host.lower(), *_issuer_hosts(issuer)]):
        raise RegistrationRefused(f"The registration endpoint {endpoints['registration_endpoint'][:200]} is not on the "
                                  "platform's host; EduPlatform sends its registration to the platform only.", 403)
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if len(endpoints[key]) > MAX_STORED_URL:
            raise RegistrationRefused(f'The platform\'s "{key}" is longer than {MAX_STORED_URL} characters, more '
                                      "than EduPlatform can store; register it by hand with shorter URLs.")
    if len(issuer) > 255:
        raise RegistrationRefused("The platform's issuer is longer than 255 characters.")
    _expect_listed(config, "id_token_signing_alg_values_supported", "RS256")
    _expect_listed(config, "token_endpoint_auth_methods_supported", "private_key_jwt")
    platform = config.get(PLATFORM_CONFIG)
    if not isinstance(platform, dict):
        raise RegistrationRefused(f'The platform\'s OpenID configuration has no "{PLATFORM_CONFIG}" object; it is '
                                  "not an LTI 1.3 platform configuration.")
    messages_supported = platform.get("messages_supported")
    if not isinstance(messages_supported, list):
        raise RegistrationRefused('The platform configuration\'s "messages_supported" must be a list.')
    messages = frozenset(m.get("type") for m in messages_supported if isinstance(m, dict)
                         and isinstance(m.get("type"), str))
    if RESOURCE_LINK not in messages:
        raise RegistrationRefused(f"The platform does not list {RESOURCE_LINK} among its supported messages; "
                                  "EduPlatform is opened by resource-link launches.")
    scopes_supported = config.get("scopes_supported")
    if not isinstance(scopes_supported, list) or not all(isinstance(s, str) for s in scopes_supported):
        raise RegistrationRefused('The platform\'s "scopes_supported" must be a list of scopes.')
    missing = [s for s in REQUIRED_SCOPES if s not in scopes_supported]
    if missing:
        raise RegistrationRefused(
            f"The platform does not offer the scope {', '.join(missing)} (Names and Role Provisioning). EduPlatform "
            "needs the course roster to give and take away staff access; enable the service on the platform.")
    audience = config.get("authorization_server", "")
    product = platform.get("product_family_code", "")
    return PlatformConfiguration(
        url=config_url, issuer=issuer, audience=audience if isinstance(audience, str) else "",
        product=product[:64] if isinstance(product, str) else "", messages=messages,
        scopes=frozenset(scopes_supported), **endpoints,
    )


def _expect_listed(config: dict[str, Any], key: str, value: str) -> None:
    listed = config.get(key)
    if listed is None:
        return  # optional in LTI-DR; the defaults are what we use
    if not isinstance(listed, list) or value not in listed:
        raise RegistrationRefused(f'The platform does not list {value} in "{key}"; EduPlatform needs it.')


# --- Our configuration, and the registration itself -----------------------------------------------


def tool_configuration(platform: PlatformConfiguration, base_url: str) -> dict[str, Any]:
    """The client registration we POST (LTI-DR 3.6): OIDC client metadata plus the LTI tool configuration."""
    urls = tool_urls(base_url)
    canvas = platform.product.lower() == "canvas"
    messages: list[dict[str, Any]] = []
    if DEEP_LINKING in platform.messages:
        deep_link = {"type": DEEP_LINKING, "target_link_uri": urls["launch_url"], "label": "EduPlatform"}
        if canvas:  # Canvas's placements extension: where the link picker appears
            deep_link["placements"] = ["link_selection", "assignment_selection"]
        messages.append(deep_link)
    if canvas:
        messages.append({"type": RESOURCE_LINK, "target_link_uri": urls["launch_url"], "label": "EduPlatform",
                         "placements": ["course_navigation"]})
    lti_config: dict[str, Any] = {
        "domain": urlsplit(base_url).netloc,
        "description": "Course feedback reports and student surveys.",
        "target_link_uri": urls["launch_url"],
        "custom_parameters": {},
        "claims": CLAIMS,
        "messages": messages,
    }
    if canvas:
        lti_config["https://canvas.instructure.com/lti/privacy_level"] = "public"
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls["login_initiation_url"],
        "redirect_uris": [urls["redirect_uris"]],
        "client_name": "EduPlatform",
        "jwks_uri": urls["jwks_url"],
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(platform.wanted_scopes()),
        TOOL_CONFIG: lti_config,
    }


def sign_state(config_url: str, registration_token: str, access: Access) -> str:
    """What the confirmation form carries to the POST (signed: the LMS frame may send no cookies)."""
    return signing.dumps({"c": config_url, "t": registration_token, "u": access.user_id, "d": access.digest},
                         salt=STATE_SALT, compress=True)


def load_state(value: str, access: Access) -> tuple[str, str]:
    try:
        state = signing.loads(value or "", salt=STATE_SALT, max_age=STATE_MAX_AGE_S)
    except signing.BadSignature as exc:
        raise RegistrationRefused("This registration form expired or was altered; start the registration again "
                                  "from your platform.", 403) from exc
    if not isinstance(state, dict) or (state.get("u"), state.get("d")) != (access.user_id, access.digest):
        raise RegistrationRefused("This registration form was made for another registration link or user; start "
                                  "again from your platform.", 403)
    return state["c"], state["t"]


@dataclass(frozen=True)
class Registered:
    registration: LtiRegistration
    deployment_id: str
    platform: PlatformConfiguration


def register(config_url: str, registration_token: str, *, access: Access, base_url: str) -> Registered:
    """Fetch and check the platform's configuration, register with it, store what it gave us.

    A link is claimed before anything is sent (two clicks cannot register twice) and given back when the
    platform refuses, so the administrator can try again; nothing is stored unless the platform accepted.
    """
    platform = fetch_platform_configuration(config_url)
    if access.digest and not _claim(access.digest):
        raise RegistrationRefused("This registration link was used meanwhile; issue a new one in admin.", 403)
    try:
        client_id, deployment_id, granted = _post_registration(platform, registration_token, base_url)
        with transaction.atomic():
            registration = register_platform(
                name=platform.name, issuer=platform.issuer, client_id=client_id,
                auth_url=platform.authorization_endpoint, token_url=platform.token_endpoint,
                keyset_url=platform.jwks_uri, audience=platform.audience,
                deployment_ids=[deployment_id] if deployment_id else [],
                # Without a deployment id the client (made for us just now) decides: its deployments are accepted.
                accept_new_deployments=not deployment_id, frame_ancestors=" ".join(platform.frame_origins()),
            )
            if access.digest:
                RegistrationToken.objects.filter(digest=access.digest).update(registration=registration)
    except BaseException:
        if access.digest:
            RegistrationToken.objects.filter(digest=access.digest).update(used_at=None)
        raise
    logger.info("LTI: registered %s (issuer %s, client %s, deployment %r, scopes %s) by dynamic registration, "
                "allowed by %s", platform.name, platform.issuer, client_id, deployment_id, granted or "-",
                access.describe())
    return Registered(registration, deployment_id, platform)


def _claim(digest: str) -> bool:
    now = timezone.now()
    return bool(RegistrationToken.objects.filter(digest=digest, used_at__isnull=True, expires_at__gt=now)
                .update(used_at=now))


def _post_registration(platform: PlatformConfiguration, registration_token: str,
                       base_url: str) -> tuple[str, str, str]:
    headers = {"Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    try:
        reply = outbound.call("POST", platform.registration_endpoint, what="registration", headers=headers,
                              json_body=tool_configuration(platform, base_url),
                              max_bytes=settings.LTI_REGISTRATION_MAX_BYTES)
    except PlatformError as exc:
        raise RegistrationRefused(str(exc), 502) from exc
    body = reply.body
    if not isinstance(body, dict):
        raise RegistrationRefused("The platform's answer to the registration is not a JSON object.", 502)
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > 255:
        raise RegistrationRefused("The platform's answer to the registration has no usable client_id.", 502)
    tool_config = body.get(TOOL_CONFIG) if isinstance(body.get(TOOL_CONFIG), dict) else {}
    deployment_id = tool_config.get("deployment_id", "")
    if not isinstance(deployment_id, str) or len(deployment_id) > 255:
        raise RegistrationRefused("The platform's answer to the registration has a deployment_id that is not a "
                                  "string of at most 255 characters.", 502)
    granted = body.get("scope", "")
    return client_id, deployment_id, granted if isinstance(granted, str) else ""
