"""OAuth2 for integrations: client-credentials tokens act as their application's service account."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import AccessToken
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request


class ServiceAccountOAuth2Authentication(OAuth2Authentication):
    """django-oauth-toolkit's DRF class, plus: a client-credentials token names no user (DOT stores it
    without one), so it acts as the application's owner, whose course memberships are then checked
    like anyone's. An application without an active owner is refused rather than left anonymous."""

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, AccessToken] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        if user is None:
            user = token.application.user if token.application_id else None
            if user is None or not user.is_active:
                raise AuthenticationFailed("this OAuth2 application has no active service account")
        return user, token


class ServiceAccountOAuth2Scheme(DjangoOAuthToolkitScheme):
    """The OpenAPI security scheme of the class above (drf-spectacular matches extensions by class)."""

    target_class = ServiceAccountOAuth2Authentication

    def get_security_requirement(self, auto_schema):  # noqa: ANN001, ANN201 - drf-spectacular's signature
        # Course memberships, not scopes, decide access: every operation accepts the token as it is.
        return {self.name: []}
