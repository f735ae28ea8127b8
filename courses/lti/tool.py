"""pylti1p3 wired to our registrations, with the checks pylti1p3 and django-lti leave out.

Closed here (1EdTech Security Framework 5.1.3; each one has a test in tests/lti/):
- the state must be ours (issued server-side at login), match the browser's state cookie, and is
  single-use: pylti1p3 re-accepts any (state, id_token) pair it has seen, i.e. replays;
- the nonce must be the one issued with that state and is consumed atomically in the shared cache
  (pylti1p3 only checks that it exists, so a fresh token could reuse it);
- the same id_token is never accepted twice;
- `aud` must contain our client id and, with several audiences, `azp` must be ours (never checked);
- `exp` and `iat` are required and `iat` must be recent;
- the payload is a JSON object and every claim the tool reads has its LTI type (claims.py), checked
  before anything acts on the launch (a malformed claim used to fail after the user was signed in);
- the platform keyset is cached and re-fetched (throttled) when an unknown `kid` arrives;
- an unknown deployment id becomes an inactive deployment unless the platform's policy accepts it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from lti_tool.models import LtiDeployment
from lti_tool.utils import DjangoToolConfig
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.contrib.django.cookie import DjangoCookieService
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException

from .claims import InvalidClaims, check_claims
from .models import PlatformPolicy

logger = logging.getLogger(__name__)


class LaunchRejected(LtiException):
    """A launch we refuse, with the HTTP status the error page gets (always 4xx)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class ServerSideStorage(DjangoCacheDataStorage):
    """Launch state in the shared cache, never keyed by a cookie.

    pylti1p3 prefixes keys with a `lti1p3-session-id` cookie over HTTPS; that cookie is what browsers
    blocking third-party cookies drop inside the LMS iframe. Our keys are random (state, nonce) and the
    browser binding is the state cookie checked in `HardenedMessageLaunch.validate_state`.
    """

    def get_session_cookie_name(self) -> None:
        return None

    def consume(self, key: str) -> bool:
        """Delete `key`; True only for the one caller that deleted it (Redis DEL is atomic)."""
        return bool(self._get_cache().delete(self._prepare_key(key)))


class FrameCookieService(DjangoCookieService):
    """State cookies that survive the LMS iframe: SameSite=None needs Secure (settings.LTI_COOKIE_SECURE)."""

    def update_response(self, response: Any) -> None:
        for key, data in self._cookie_data_to_set.items():
            secure = settings.LTI_COOKIE_SECURE or self._request.is_secure()
            response.set_cookie(
                key, data["value"], max_age=data["exp"], path="/", httponly=True, secure=secure,
                samesite="None" if secure else "Lax",
            )


class ToolConfig(DjangoToolConfig):
    """django-lti's DB-backed config; unknown deployment ids follow the platform's policy.

    With a registration uuid (the login URL `/lti/login/<uuid>/`), a login initiation without
    `client_id` (Canvas leaves it out) finds the registration by uuid and issuer; django-lti looked it
    up with client_id=None and found nothing.
    """

    def find_registration_by_params(self, iss: str, client_id: str | None, *args: Any, **kwargs: Any):
        if not client_id and self.registration_uuid is not None:
            return self.find_registration_by_issuer(iss)
        return super().find_registration_by_params(iss, client_id, *args, **kwargs)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any):
        if self.registration is None:
            return None
        deployment, created = LtiDeployment.objects.get_or_create(
            registration=self.registration, deployment_id=deployment_id
        )
        if created:
            policy = PlatformPolicy.objects.filter(registration=self.registration).first()
            if policy is not None and policy.accept_new_deployments:
                deployment.is_active = True
                deployment.save(update_fields=["is_active"])
                logger.warning("LTI: activated new deployment %r of %s (policy accepts new deployments)",
                               deployment_id, self.registration)
            else:
                logger.warning("LTI: new deployment %r of %s recorded inactive; activate it in admin",
                               deployment_id, self.registration)
        self.deployment = deployment
        return Deployment().set_deployment_id(deployment.deployment_id)


def token_hash(id_token: str) -> str:
    return hashlib.sha256(id_token.encode()).hexdigest()


class HardenedMessageLaunch(DjangoMessageLaunch):
    """A resource-link or deep-linking launch validated with every check listed in the module docstring."""

    _launch_data_storage: ServerSideStorage

    def __init__(self, request: Any, tool_config: ToolConfig, **kwargs: Any) -> None:
        kwargs["launch_data_storage"] = storage = ServerSideStorage()
        super().__init__(request, tool_config, **kwargs)
        self._launch_data_storage = storage
        self.set_launch_data_lifetime(settings.LTI_LAUNCH_DATA_TTL_S)
        self._jwt_verify_options = {"verify_aud": False, "require": ["exp", "iat"]}
        self._state_params: dict[str, Any] = {}

    def get_client_id(self) -> str:
        # pylti1p3 takes aud[0]; with several audiences the authorized party names the client.
        body = self._jwt.get("body", {})
        aud = body.get("aud")
        if isinstance(aud, list):
            return body.get("azp") or (aud[0] if aud else "")
        return aud or ""

    def validate(self) -> HardenedMessageLaunch:
        if self._restored:
            raise LtiException("Can't validate restored launch")
        self._validated = True
        try:
            self.validate_state()
            self.validate_jwt_format()
            self.validate_payload_is_object()
            self.validate_registration()
            self.validate_jwt_signature()
            self.validate_claim_types()
            self.validate_audience_and_times()
            self.validate_deployment()
            self.validate_message()
            self.consume_single_use_values()
            self.save_launch_data()
        except Exception:
            self._validated = False
            raise
        return self

    def validate_state(self) -> HardenedMessageLaunch:
        state = self._get_request_param("state")
        if not state:
            raise LaunchRejected("The launch has no state parameter.")
        params = self._session_service.get_state_params(state)
        id_token = self._get_request_param("id_token") or ""
        if not params and id_token and cache.get(f"lti-idtoken-{token_hash(id_token)}"):
            raise LaunchRejected("This id_token was already used (replayed launch).", status=403)
        if not params:
            raise LaunchRejected("The launch state is unknown, expired or already used; start again from the course.")
        if self._cookie_service.get_cookie(state) != state:
            raise LaunchRejected(
                "The launch state does not match this browser (its state cookie is missing or different). "
                "If your browser blocks cookies in frames, open the tool in a new window.", status=403,
            )
        self._state_params = params
        return self

    def validate_payload_is_object(self) -> HardenedMessageLaunch:
        # Before the registration lookup, which reads the header, iss, aud and azp with dict methods.
        for part, name in (("header", "header"), ("body", "payload")):
            if not isinstance(self._jwt.get(part), dict):
                raise LaunchRejected(f"The id_token's {name} must be a JSON object, not "
                                     f"{type(self._jwt.get(part)).__name__}.")
        try:
            check_claims(self._jwt["body"], only=("iss", "aud", "azp"))
        except InvalidClaims as exc:
            raise LaunchRejected(exc.reason) from exc
        return self

    def validate_claim_types(self) -> HardenedMessageLaunch:
        try:
            check_claims(self._jwt["body"])
        except InvalidClaims as exc:
            raise LaunchRejected(exc.reason) from exc
        return self

    def validate_nonce(self) -> HardenedMessageLaunch:
        return self  # replaced by consume_single_use_values(), after the signature is verified

    def validate_audience_and_times(self) -> HardenedMessageLaunch:
        body = self._jwt["body"]
        client_id = self._registration.get_client_id()
        aud = body.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if client_id not in audiences:
            raise LaunchRejected(f"The id_token's audience {aud!r} does not include our client id.", status=403)
        azp = body.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != client_id:
            raise LaunchRejected(
                f"The id_token lists several audiences and its authorized party {azp!r} is not our client id.",
                status=403,
            )
        now = time.time()
        iat = body["iat"]
        if not isinstance(iat, int | float) or iat > now + settings.LTI_CLOCK_SKEW_S:
            raise LaunchRejected("The id_token was issued in the future; check the platform's clock.")
        if iat < now - settings.LTI_ID_TOKEN_MAX_AGE_S:
            raise LaunchRejected("The id_token is too old; start again from the course.")
        return self

    def consume_single_use_values(self) -> HardenedMessageLaunch:
        body = self._jwt["body"]
        exp_in = max(int(body["exp"] - time.time()), 1) + settings.LTI_CLOCK_SKEW_S
        if not cache.add(f"lti-idtoken-{token_hash(self._get_id_token())}", 1, timeout=exp_in):  # SET NX
            raise LaunchRejected("This id_token was already used (replayed launch).", status=403)
        nonce = body.get("nonce")
        if not nonce or not self._launch_data_storage.consume(self._session_service._get_key("nonce", nonce)):
            raise LaunchRejected("The id_token's nonce is unknown or was already used.", status=403)
        if nonce != self._state_params.get("nonce"):
            raise LaunchRejected("The id_token's nonce was not issued for this login.", status=403)
        state_key = self._session_service._get_key(self._get_request_param("state"))
        if not self._launch_data_storage.consume(state_key):
            raise LaunchRejected("The launch state was already used.", status=403)
        return self

    def save_launch_data(self) -> HardenedMessageLaunch:
        # No "state is valid for this token" marker: that is what let pylti1p3 accept replays.
        self._session_service.save_launch_data(self._launch_id, self._jwt["body"])
        return self

    def fetch_public_key(self, key_set_url: str) -> dict[str, Any]:
        try:
            resp = requests.get(key_set_url, timeout=settings.LTI_KEYSET_TIMEOUT_S)
            resp.raise_for_status()
            keyset = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise LaunchRejected(f"Could not fetch the platform's keyset from {key_set_url}: {exc}", 502) from exc
        if not isinstance(keyset, dict) or not isinstance(keyset.get("keys"), list):
            raise LaunchRejected(f"The platform's keyset at {key_set_url} is not a JWKS.")
        return keyset

    def get_public_key(self) -> tuple[str, str]:
        url = self._registration.get_key_set_url()
        kid = self._jwt.get("header", {}).get("kid")
        cache_key = f"lti-keyset-{hashlib.sha256(url.encode()).hexdigest()}"
        keyset = cache.get(cache_key)
        known = keyset is not None and any(k.get("kid") == kid for k in keyset["keys"])
        # An unknown kid means the platform rotated its key; re-fetch, but at most once per interval
        # per keyset so that tokens with random kids cannot make us hammer the platform.
        if keyset is None or (not known and cache.add(f"{cache_key}-refetch", 1, settings.LTI_KEYSET_REFETCH_S)):
            keyset = self.fetch_public_key(url)
            cache.set(cache_key, keyset, settings.LTI_KEYSET_CACHE_S)
        self._registration.set_key_set(keyset)
        return super().get_public_key()


class LoginInitiation(DjangoOIDCLogin):
    """OIDC third-party login initiation; the nonce is recorded with the state it belongs to."""

    def __init__(self, request: Any, tool_config: ToolConfig) -> None:
        storage = ServerSideStorage()
        super().__init__(request, tool_config, launch_data_storage=storage)
        self._cookie_service = FrameCookieService(self._request)
        storage.set_request(self._request)
        self._session_service.set_data_storage(storage)
        self._session_service.set_launch_data_lifetime(settings.LTI_LOGIN_STATE_TTL_S)
        self._state_params = {}

    def _generate_nonce(self) -> str:
        nonce = super()._generate_nonce()
        self._state_params = {"nonce": nonce}
        return nonce
