"""Integration accounts: a service-account user, its course roles, and an OAuth2 client-credentials app.

The token an integration gets from /api/oauth/token/ acts as the application's user, so that user's
course memberships are the integration's permissions, checked like anyone else's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

from eduplatform.errors import DomainError

from .models import Course, CourseMembership, Role


class ApiClientRefused(DomainError):
    pass


@dataclass(frozen=True)
class ApiClient:
    application: Application
    client_secret: str  # shown once: the database keeps only its hash


def create_api_client(
    username: str, *, name: str, roles: Sequence[tuple[Course, str]] = ()
) -> ApiClient:
    """A confidential client-credentials application for `username` (created, password-less, if new)."""
    bad = sorted({role for _, role in roles} - set(Role.values))
    if bad:
        raise ApiClientRefused(f"unknown role(s): {', '.join(bad)} (roles: {', '.join(Role.values)})")
    with transaction.atomic():
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()  # a service account never signs in to the admin
            user.save(update_fields=["password"])
        for course, role in roles:
            CourseMembership.objects.update_or_create(user=user, course=course, defaults={"role": role})
        secret = generate_client_secret()
        application = Application.objects.create(
            name=name, user=user, client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS, client_secret=secret,
        )
    return ApiClient(application, secret)
