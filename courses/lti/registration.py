"""Registering platforms, and the URLs a platform administrator needs to register us."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.urls import reverse
from lti_tool.models import LtiDeployment, LtiRegistration

from .models import PlatformPolicy
from .services import ensure_tool_key

logger = logging.getLogger(__name__)


def register_platform(
    *,
    name: str,
    issuer: str,
    client_id: str,
    auth_url: str,
    token_url: str,
    keyset_url: str,
    deployment_ids: Iterable[str] = (),
    accept_new_deployments: bool = False,
    frame_ancestors: str = "",
    audience: str = "",
) -> LtiRegistration:
    """Create or update the registration (issuer, client_id); listed deployment ids are activated."""
    validate = URLValidator(schemes=["http", "https"])
    for label, url in (("auth login URL", auth_url), ("token URL", token_url), ("keyset URL", keyset_url)):
        try:
            validate(url)
        except ValidationError as exc:
            raise ValidationError(f"{label} {url!r} is not an http(s) URL") from exc
    if not issuer or not client_id:
        raise ValidationError("issuer and client id are required")
    ensure_tool_key()
    with transaction.atomic():
        registration, created = LtiRegistration.objects.update_or_create(
            issuer=issuer, client_id=client_id,
            defaults={"name": name, "auth_url": auth_url, "token_url": token_url, "keyset_url": keyset_url,
                      "audience": audience, "is_active": True},
        )
        PlatformPolicy.objects.update_or_create(
            registration=registration,
            defaults={"accept_new_deployments": accept_new_deployments, "frame_ancestors": frame_ancestors},
        )
        for deployment_id in deployment_ids:
            LtiDeployment.objects.update_or_create(
                registration=registration, deployment_id=deployment_id, defaults={"is_active": True}
            )
    logger.info("LTI: %s registration %s (%s, %s)", "created" if created else "updated", name, issuer, client_id)
    return registration


def tool_urls(base_url: str, registration: LtiRegistration | None = None) -> dict[str, str]:
    """Every URL the tool exposes, absolute. The login URL names the registration when given, for
    platforms (Canvas) that leave client_id out of the login initiation."""
    base = base_url.rstrip("/")
    login = reverse("lti:login")
    if registration is not None:
        login = reverse("lti:login_for", kwargs={"registration_uuid": registration.uuid})
    return {
        "login_initiation_url": base + login,
        "launch_url": base + reverse("lti:launch"),
        "redirect_uris": base + reverse("lti:launch"),
        "deep_linking_url": base + reverse("lti:launch"),
        "jwks_url": base + reverse("lti:jwks"),
        "canvas_config_url": base + reverse("lti:canvas_config"),
        # Dynamic Registration for a signed-in administrator; a one-time link is /lti/register/<token>/.
        "dynamic_registration_url": base + reverse("lti:register"),
    }
