"""Who is answering: an LTI launch or a signed invitation, reduced to a keyed hash per survey.

The respondent key is HMAC(secret, survey id | identity). It is stable for one student and one survey
(so the database can enforce one response each) and unlinkable across surveys; the identity itself is
never stored for anonymous surveys.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.crypto import salted_hmac

from courses.models import Survey
from eduplatform.errors import DomainError

INVITATION_SALT = "courses.surveys.invitation"
RESPONDENT_SALT = "courses.surveys.respondent"
EDIT_KEY_SALT = "courses.surveys.edit-key"
EDIT_KEY_MAX_CHARS = 64
# A token is ~100 characters; anything far longer is not ours and is refused before any crypto.
INVITATION_MAX_CHARS = 512
LEARNER_ROLE_SUFFIXES = ("#Learner", "/Learner", "#Student")


class InvalidInvitation(DomainError):
    """The link was not made by us, or not for this survey."""


class ExpiredInvitation(DomainError):
    """The link was genuine but its time is up."""


class WrongCourse(DomainError):
    """The LTI launch was for another course than the survey's."""


@dataclass(frozen=True)
class Respondent:
    key: str
    label: str  # written only for identified surveys
    via: str  # "lti" or "invitation"
    invitation: str = ""  # the token, carried through the form so the POST needs no session
    is_learner: bool = True  # staff launching from the LMS get a preview and cannot submit


def _secret() -> str:
    secret = settings.SURVEY_RESPONDENT_SECRET
    if not secret:  # production without its own secret: refuse rather than key hashes with ""
        raise ImproperlyConfigured("SURVEY_RESPONDENT_SECRET is not set (see `manage.py check --deploy`).")
    return secret


def respondent_key(survey_id: int, identity: str) -> str:
    return salted_hmac(RESPONDENT_SALT, f"{survey_id}|{identity}", secret=_secret(), algorithm="sha256").hexdigest()


# --- Edit codes of anonymous responses -----------------------------------------------------------------
# An invitation link of an anonymous survey is a bearer token that staff handed out; holding it must not
# reopen someone's answers. On a first answer the student gets a random edit code (shown once and kept
# in a cookie of their browser); only its keyed hash is stored, and editing needs the code itself.


def new_edit_key() -> str:
    return secrets.token_urlsafe(12)


def edit_key_digest(survey_id: int, key: str) -> str:
    return salted_hmac(EDIT_KEY_SALT, f"{survey_id}|{key}", secret=_secret(), algorithm="sha256").hexdigest()


def edit_key_matches(survey_id: int, key: str, digest: str) -> bool:
    if not key or not digest or len(key) > EDIT_KEY_MAX_CHARS:
        return False
    return hmac.compare_digest(edit_key_digest(survey_id, key.strip()), digest)


def make_invitation(survey: Survey, *, recipient: str = "", expires_at: datetime | None = None) -> str:
    """A signed, expiring, per-student token. Anonymous surveys never carry the recipient in it."""
    expires_at = min(expires_at or survey.closes_at, survey.closes_at)
    payload: dict[str, Any] = {"s": survey.pk, "n": secrets.token_urlsafe(12), "x": int(expires_at.timestamp())}
    if recipient and not survey.is_anonymous:
        payload["r"] = recipient[:200]
    return signing.dumps(payload, salt=INVITATION_SALT)


def respondent_from_invitation(token: str, survey: Survey, *, now: datetime | None = None) -> Respondent:
    """Verify the token. A used token is refused later by the one-response-per-respondent constraint."""
    if not token or len(token) > INVITATION_MAX_CHARS:
        raise InvalidInvitation("This invitation link is not valid. Check that you copied the whole link.")
    try:
        payload = signing.loads(token, salt=INVITATION_SALT)
    except signing.BadSignature as exc:
        raise InvalidInvitation("This invitation link is not valid. Check that you copied the whole link.") from exc
    if not isinstance(payload, dict) or payload.get("s") != survey.pk or not isinstance(payload.get("n"), str):
        raise InvalidInvitation("This invitation link is for a different survey.")
    now = now or timezone.now()
    if not isinstance(payload.get("x"), int) or payload["x"] < now.timestamp():
        raise ExpiredInvitation("This invitation link has expired. Ask your course team for a new one.")
    label = "" if survey.is_anonymous else f"invitation: {payload.get('r', payload['n'])}"
    return Respondent(
        key=respondent_key(survey.pk, f"invite|{payload['n']}"), label=label, via="invitation", invitation=token
    )


def respondent_from_lti(identity: object, survey: Survey) -> Respondent | None:
    """The LTI helper's `session["lti_identity"]`; None when absent or malformed."""
    if not isinstance(identity, dict):
        return None
    iss, sub = identity.get("iss"), identity.get("sub")
    if not isinstance(iss, str) or not isinstance(sub, str) or not iss or not sub:
        return None
    try:
        course_id = int(identity.get("course_id"))
    except (TypeError, ValueError):
        return None
    if course_id != survey.course_id:
        raise WrongCourse(
            "This survey belongs to another course. Open it from the course it was set up for."
        )
    roles = identity.get("roles") or []
    is_learner = any(isinstance(r, str) and r.endswith(LEARNER_ROLE_SUFFIXES) for r in roles)
    label = "" if survey.is_anonymous else f"lti: {iss} {sub}"[:255]
    return Respondent(key=respondent_key(survey.pk, f"lti|{iss}|{sub}"), label=label, via="lti",
                      is_learner=is_learner)
