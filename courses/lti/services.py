"""What a validated launch does here: link course, module and user, and decide where the user lands."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.text import slugify
from lti_tool.lti_core.utils import normalize_role
from lti_tool.models import Key, LtiLaunch
from lti_tool.utils import (
    sync_context_from_launch,
    sync_deployment_from_launch,
    sync_platform_instance_from_launch,
    sync_resource_link_from_launch,
)

from courses.models import Course, CourseMembership, MembershipSource, Module, Role

from . import selectors
from .models import LtiIdentity

logger = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
STAFF_ROLES = {
    f"{MEMBERSHIP}#Instructor": Role.INSTRUCTOR,
    f"{MEMBERSHIP}#Administrator": Role.INSTRUCTOR,
    f"{MEMBERSHIP}/Instructor#TeachingAssistant": Role.TEACHING_ASSISTANT,
}


class NotLinked(Exception):
    """A launch we understand but cannot serve yet (e.g. a learner in a course no instructor opened)."""


@dataclass
class Launch:
    """The claims of a validated launch that matter here."""

    issuer: str
    sub: str
    roles: list[str]
    context_id: str
    context_title: str = ""
    context_label: str = ""
    resource_link_id: str = ""
    resource_link_title: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    email: str = ""

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Launch:
        """From claims whose types tool.HardenedMessageLaunch has already checked (claims.py)."""
        context = claims.get(CLAIM + "context") or {}
        link = claims.get(CLAIM + "resource_link") or {}
        return cls(
            issuer=claims["iss"], sub=claims["sub"], roles=list(claims.get(CLAIM + "roles") or []),
            context_id=context.get("id", ""), context_title=(context.get("title") or "")[:255],
            context_label=context.get("label") or "", resource_link_id=link.get("id", ""),
            resource_link_title=(link.get("title") or "")[:255], custom=claims.get(CLAIM + "custom") or {},
            name=claims.get("name") or "", email=claims.get("email") or "",
        )

    @property
    def staff_role(self) -> str | None:
        """Instructor wins over teaching assistant; learners and others get None."""
        roles = [STAFF_ROLES.get(normalize_role(r)) for r in self.roles]
        if Role.INSTRUCTOR in roles:
            return Role.INSTRUCTOR
        return Role.TEACHING_ASSISTANT if Role.TEACHING_ASSISTANT in roles else None


def ensure_tool_key() -> Key:
    """The tool's active signing key, generated on first use (rotate with `manage.py rotate_keys`)."""
    key = Key.objects.active().order_by("-datetime_created").first()
    return key or Key.objects.generate()


def _unique_course_code(launch: Launch) -> str:
    base = slugify(launch.context_label or launch.context_title)[:48] or "lti-course"
    code = base
    while Course.objects.filter(code=code).exists():
        code = f"{base}-{secrets.token_hex(3)}"
    return code


def link_course(launch: Launch, *, create: bool) -> Course | None:
    """The course of the launch's context; created (from its title/label) only when `create`."""
    if not launch.context_id:
        raise NotLinked("The launch has no course context; add the tool inside a course.")
    course = selectors.course_for_lms_context(launch.issuer, launch.context_id)
    if course is not None or not create:
        return course
    key = selectors.context_key(launch.issuer, launch.context_id)
    try:
        with transaction.atomic():
            course = Course.objects.create(
                code=_unique_course_code(launch), lti_context_id=key,
                title=launch.context_title or launch.context_label or f"Course {launch.context_id}",
            )
    except IntegrityError:  # two instructors launched the new context at once
        return selectors.course_for_lms_context(launch.issuer, launch.context_id)
    logger.info("LTI: created course %s for context %s of %s", course.code, launch.context_id, launch.issuer)
    return course


def link_module(course: Course, launch: Launch) -> Module | None:
    """The module of the launch's resource link, created when staff launch a link we do not know."""
    if not launch.resource_link_id:
        return None
    module = selectors.module_for_resource_link(course, launch.resource_link_id)
    if module is not None:
        return module
    title = launch.resource_link_title or f"Activity {launch.resource_link_id}"
    if Module.objects.filter(course=course, title=title).exists():
        title = f"{title} ({launch.resource_link_id})"[:255]
    position = (Module.objects.filter(course=course).aggregate(m=Max("position"))["m"] or 0) + 1
    module, _ = Module.objects.get_or_create(
        course=course, lti_resource_link_id=launch.resource_link_id,
        defaults={"title": title, "position": position},
    )
    return module


def _username_for(email: str) -> str:
    base = re.sub(r"[^\w.@+-]", "", (email.split("@")[0] if email else "")) or "lti"
    return f"{base[:100]}-{secrets.token_hex(4)}"


def new_staff_user(*, name: str, email: str) -> AbstractBaseUser:
    """A Django user for a platform staff member: signs in by launch only (no usable password)."""
    user = get_user_model().objects.create_user(
        username=_username_for(email), email=email, first_name=name[:150], is_staff=True,
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def mirror_launch(lti_launch: LtiLaunch) -> None:
    """django-lti's mirror of the launch, without its people.

    django-lti's `sync_data_from_launch` also copies every launching user's name, e-mail and `sub`
    (learners included) into `lti_tool.LtiUser` and their roles into `LtiMembership`; nothing here reads
    them, and a learner's identity next to an anonymous survey is what we promise not to keep. We keep
    the deployment, context, resource link and platform records (no personal data).
    """
    sync_deployment_from_launch(lti_launch)
    if not lti_launch.is_data_privacy_launch:
        context = sync_context_from_launch(lti_launch)
        if not lti_launch.is_deep_link_launch:
            sync_resource_link_from_launch(lti_launch, context)
    sync_platform_instance_from_launch(lti_launch)


def staff_user_for(launch: Launch, course: Course, role: str) -> AbstractBaseUser:
    """The Django user of (issuer, sub), with the launch's role in `course`.

    What is stored, and why: staff get a Django user (their name and e-mail are kept so colleagues and
    alert e-mails can address them) tied to (issuer, sub) by LtiIdentity. Learners get nothing: their
    launch lives in the session only (`learner_identity`), and if they were staff before, the identity
    row (issuer, sub -> user) is all that maps them, so their staff roles can be taken away.
    """
    with transaction.atomic():
        identity = LtiIdentity.objects.select_for_update().filter(issuer=launch.issuer, sub=launch.sub).first()
        if identity is None:
            user = new_staff_user(name=launch.name, email=launch.email)
            identity = LtiIdentity.objects.create(issuer=launch.issuer, sub=launch.sub, user=user)
        else:
            identity.save(update_fields=["last_launch_at"])
        user = identity.user
        # The platform is the source of truth for roles it gave (promotions and demotions); a membership
        # an administrator created by hand is theirs to change, and a launch leaves it alone.
        membership = CourseMembership.objects.select_for_update().filter(user=user, course=course).first()
        if membership is None:
            CourseMembership.objects.create(user=user, course=course, role=role, source=MembershipSource.LTI)
        elif membership.source == MembershipSource.LTI and membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
        elif membership.source != MembershipSource.LTI and membership.role != role:
            logger.info("LTI: %s launched %s as %s; kept the %s role added by hand", user, course.code, role,
                        membership.role)
    return user


def end_staff_roles(launch: Launch, course: Course) -> int:
    """A launch without a staff role ends the staff role an earlier launch gave in this context (the
    platform says the person is a learner here now). Roles added by hand stay. Returns how many ended."""
    identity = LtiIdentity.objects.filter(issuer=launch.issuer, sub=launch.sub).first()
    if identity is None:
        return 0
    deleted, _ = CourseMembership.objects.filter(
        user=identity.user, course=course, source=MembershipSource.LTI
    ).delete()
    if deleted:
        logger.info("LTI: %s launched %s without a staff role; its LTI staff role ended", identity.user, course.code)
    return deleted


def learner_identity(launch: Launch, course: Course) -> dict[str, Any]:
    """What the survey pages read from the session to recognise the student (never shown to staff)."""
    return {
        "iss": launch.issuer, "sub": launch.sub, "course_id": course.pk, "roles": launch.roles,
        "resource_link_id": launch.resource_link_id,
    }
