"""System checks of the survey settings (registered in CoursesConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

MIN_SECRET_CHARS = 32


@register(Tags.security, deploy=True)
def check_respondent_secret(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Production needs its own respondent secret: it keys every respondent hash, so it must not be
    SECRET_KEY (which falls back only under DEBUG) and must be long enough not to be guessed."""
    secret = settings.SURVEY_RESPONDENT_SECRET or ""
    if len(secret) >= MIN_SECRET_CHARS and (settings.DEBUG or secret != settings.SECRET_KEY):
        return []
    return [Error(
        "SURVEY_RESPONDENT_SECRET is missing, shorter than 32 characters or equal to SECRET_KEY.",
        hint="Set SURVEY_RESPONDENT_SECRET to a random value of its own, e.g. "
             "python -c 'import secrets; print(secrets.token_urlsafe(50))', and keep it for the life "
             "of every open survey.",
        id="courses.E001",
    )]
