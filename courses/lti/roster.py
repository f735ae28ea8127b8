"""Course rosters from the LMS (LTI Names and Role Provisioning Services 2.0), counts and staff roles only.

https://www.imsglobal.org/spec/lti-nrps/v2p0. A launch carrying the NRPS claim records the context's
membership URL and queues a sync (at most every LTI_ROSTER_LAUNCH_INTERVAL_S); a beat task syncs every
roster older than LTI_ROSTER_SYNC_INTERVAL_S. A sync reads every page (Link rel="next", same origin
only), then in one transaction:
- counts learners (reports' response rate) and staff;
- makes the course's LTI staff memberships match the roster: created for instructors and teaching
  assistants (a Django user like a staff launch makes), changed, and removed for anyone no longer staff
  there, so a removed instructor loses access at once; memberships added by hand are never touched;
- keeps per member only a keyed hash and the role (RosterMember), so that membership differences
  (Link rel="differences", NRPS 2.0 section 2.5) can be applied later without a full read.
Learners' names, e-mails and platform ids are never written. A platform error is recorded on the
RosterSync row (status, error, time) and never breaks the launch that asked for the sync.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from lti_tool.lti_core.utils import normalize_role
from lti_tool.models import LtiRegistration

from courses.models import Course, CourseMembership, MembershipSource, Role
from courses.permissions import Action, User, authorize

from . import outbound, platform_services
from .claims import NRPS_CLAIM
from .models import LtiIdentity, RosterMember, RosterSync, RosterSyncStatus
from .outbound import PlatformError, check_platform_url

logger = logging.getLogger(__name__)

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LEARNER = f"{MEMBERSHIP}#Learner"
STAFF_ROLES = {
    f"{MEMBERSHIP}#Instructor": Role.INSTRUCTOR,
    f"{MEMBERSHIP}#Administrator": Role.INSTRUCTOR,
    f"{MEMBERSHIP}/Instructor#TeachingAssistant": Role.TEACHING_ASSISTANT,
}
MEMBER_KEY_SALT = "courses.lti.roster-member"
GONE = ("Inactive", "Deleted")


# --- At launch ----------------------------------------------------------------------------------------


def note_launch(course: Course, registration: LtiRegistration, claims: dict[str, Any]) -> RosterSync | None:
    """Record the launch's membership URL and queue a sync when one is due. Never raises for the
    platform's sake: a bad claim or a broker that is down is recorded on the sync row and logged."""
    claim = claims.get(NRPS_CLAIM + "namesroleservice")
    if not isinstance(claim, dict):
        return None
    url = claim.get("context_memberships_url")
    sync = RosterSync.objects.filter(course=course).first()
    try:
        check_platform_url(url, what="context_memberships_url")
        versions = claim.get("service_versions") or ["2.0"]
        if not isinstance(versions, list) or "2.0" not in versions:
            raise PlatformError(f"The platform offers NRPS versions {versions!r}; EduPlatform speaks 2.0.")
    except PlatformError as exc:
        if sync is not None:
            _record_failure(sync.pk, f"The launch's roster claim is not usable: {exc}")
        logger.warning("LTI roster: launch in %s has an unusable NRPS claim: %s", course.code, exc)
        return sync
    if sync is None:
        sync, _ = RosterSync.objects.get_or_create(course=course, defaults={
            "registration": registration, "memberships_url": url})
    if (sync.memberships_url, sync.registration_id) != (url, registration.pk):
        # A new URL is a new roster: its differences link no longer applies.
        RosterSync.objects.filter(pk=sync.pk).update(memberships_url=url, registration=registration,
                                                     differences_url="")
        sync.refresh_from_db()
    interval = timedelta(seconds=settings.LTI_ROSTER_LAUNCH_INTERVAL_S)
    if sync.requested_at is None or sync.requested_at < timezone.now() - interval:
        request_sync(sync, actor=None)
    return sync


# --- Queueing -----------------------------------------------------------------------------------------


def request_sync(sync: RosterSync, *, actor: User | None) -> None:
    """Queue a sync of `sync` after this transaction commits; `actor` (admin's "sync now") must manage the
    course. A broker that is down is recorded on the row, not raised (the beat task retries)."""
    authorize(actor, Action.SYNC_ROSTER, sync.course)
    queue_sync(sync.pk)


def queue_sync(sync_id: int) -> None:
    """The system's side of request_sync (the beat task): mark the request, enqueue on commit."""
    RosterSync.objects.filter(pk=sync_id).update(requested_at=timezone.now())

    def enqueue() -> None:
        from .tasks import sync_roster_task

        try:
            sync_roster_task.delay(sync_id)
        except Exception as exc:  # kombu/redis errors differ by transport; recorded, never lost silently
            logger.warning("LTI roster: could not queue the sync of roster %s: %s", sync_id, exc)
            _record_failure(sync_id, f"The sync could not be queued ({type(exc).__name__}); the scheduled sync "
                                     "will try again.")

    transaction.on_commit(enqueue)


def due_rosters() -> list[int]:
    stale = timezone.now() - timedelta(seconds=settings.LTI_ROSTER_SYNC_INTERVAL_S)
    return list(RosterSync.objects.filter(registration__is_active=True)
                .exclude(synced_at__gte=stale).exclude(requested_at__gte=stale).values_list("pk", flat=True))


# --- The sync -----------------------------------------------------------------------------------------


@dataclass
class Member:
    sub: str
    roles: list[str]
    status: str
    name: str = field(default="", repr=False)  # staff only ever use these (their Django user)
    email: str = field(default="", repr=False)

    @property
    def staff_role(self) -> str:
        roles = [STAFF_ROLES.get(normalize_role(r)) for r in self.roles]
        if Role.INSTRUCTOR in roles:
            return Role.INSTRUCTOR
        return Role.TEACHING_ASSISTANT if Role.TEACHING_ASSISTANT in roles else ""

    @property
    def is_learner(self) -> bool:
        return any(normalize_role(r) == LEARNER for r in self.roles) and not self.staff_role

    @property
    def active(self) -> bool:
        return self.status not in GONE


@dataclass(frozen=True)
class SyncOutcome:
    learners: int
    staff: int
    pages: int
    full: bool
    created: int = 0
    changed: int = 0
    removed: int = 0


def sync_roster(sync_id: int) -> SyncOutcome | None:
    """Read the roster and apply it; a platform error is recorded and returned as None."""
    sync = RosterSync.objects.select_related("registration", "course").filter(pk=sync_id).first()
    if sync is None:
        return None
    started = timezone.now()
    full = not sync.differences_url or sync.full_synced_at is None or (
        sync.full_synced_at < started - timedelta(seconds=settings.LTI_ROSTER_FULL_SYNC_S))
    try:
        members, pages, differences = _read(sync, sync.memberships_url if full else sync.differences_url)
    except PlatformError as exc:
        _record_failure(sync.pk, str(exc))
        logger.warning("LTI roster: sync of %s failed: %s", sync.course.code, exc)
        return None
    outcome = _apply(sync.pk, members, full=full, differences=differences, pages=pages, started=started)
    if outcome is not None:
        logger.info("LTI roster: %s synced (%s, %d pages): %d learners, %d staff; memberships +%d ~%d -%d",
                    sync.course.code, "full" if full else "differences", pages, outcome.learners, outcome.staff,
                    outcome.created, outcome.changed, outcome.removed)
    return outcome


def _read(sync: RosterSync, url: str) -> tuple[list[Member], int, str]:
    """Every page from `url`: (members, pages, the differences URL the last page named)."""
    members: list[Member] = []
    pages, differences, seen = 0, "", set()
    while url:
        if pages >= settings.LTI_ROSTER_MAX_PAGES or url in seen:
            raise PlatformError(f"The roster has more than {settings.LTI_ROSTER_MAX_PAGES} pages or its next-page "
                                "links loop; the sync stopped and changed nothing.")
        seen.add(url)
        reply = platform_services.request(sync.registration, "GET", url, scopes=[NRPS_SCOPE], what="roster",
                                          accept=MEDIA_TYPE, origin=sync.memberships_url)
        members.extend(_members(reply.body))
        pages += 1
        differences = reply.links.get("differences", differences)
        url = reply.links.get("next", "")
    if differences:
        try:
            check_platform_url(differences, what="differences link")
        except PlatformError:
            differences = ""
        if differences and not outbound.same_origin(differences, sync.memberships_url):
            differences = ""
    return members, pages, differences


def _members(body: Any) -> list[Member]:
    if not isinstance(body, dict) or not isinstance(body.get("members"), list):
        raise PlatformError('The roster page is not a membership container (no "members" list).')
    out = []
    for raw in body["members"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("user_id"), str) or not raw["user_id"]:
            raise PlatformError("A roster member has no user_id; the sync stopped and changed nothing.")
        roles = raw.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise PlatformError(f"A roster member's roles are not a list of strings ({type(roles).__name__}).")
        status = raw.get("status") if isinstance(raw.get("status"), str) else "Active"
        member = Member(sub=raw["user_id"][:255], roles=roles, status=status)
        if member.staff_role:  # names and e-mails of staff only, for their Django user (alerts)
            member.name = str(raw.get("name") or "")[:150]
            member.email = str(raw.get("email") or "")[:254]
        out.append(member)
    return out


def member_key(course_id: int, issuer: str, sub: str) -> str:
    secret = settings.SURVEY_RESPONDENT_SECRET
    if not secret:
        raise ImproperlyConfigured("SURVEY_RESPONDENT_SECRET is not set (see `manage.py check --deploy`).")
    return salted_hmac(MEMBER_KEY_SALT, f"{course_id}|{issuer}|{sub}", secret=secret,
                       algorithm="sha256").hexdigest()


def _apply(sync_id: int, members: list[Member], *, full: bool, differences: str, pages: int,
           started: Any) -> SyncOutcome | None:
    with transaction.atomic():
        sync = RosterSync.objects.select_for_update().select_related("course", "registration").get(pk=sync_id)
        if sync.synced_at is not None and sync.synced_at > started:
            return None  # a sync that started later already applied a newer roster
        course, issuer = sync.course, sync.registration.issuer
        latest = {m.sub: m for m in members}  # a platform may list someone twice: the last entry wins
        keyed = {member_key(course.pk, issuer, sub): m for sub, m in latest.items()}
        if full:
            RosterMember.objects.filter(roster=sync).delete()
        else:
            RosterMember.objects.filter(roster=sync, member_key__in=keyed).delete()
        RosterMember.objects.bulk_create([
            RosterMember(roster=sync, member_key=key, is_learner=m.is_learner, staff_role=m.staff_role)
            for key, m in keyed.items() if m.active and (m.is_learner or m.staff_role)
        ], batch_size=1000)
        created, changed, removed = _match_staff(course, issuer, latest, full=full)
        learners = RosterMember.objects.filter(roster=sync, is_learner=True).count()
        staff = RosterMember.objects.filter(roster=sync).exclude(staff_role="").count()
        now = timezone.now()
        RosterSync.objects.filter(pk=sync.pk).update(
            learner_count=learners, staff_count=staff, status=RosterSyncStatus.OK, synced_at=now, error="",
            differences_url=differences if full or differences else sync.differences_url,
            **({"full_synced_at": now} if full else {}))
    return SyncOutcome(learners, staff, pages, full, created, changed, removed)


def _match_staff(course: Course, issuer: str, members: dict[str, Member], *, full: bool) -> tuple[int, int, int]:
    """LTI memberships of `course` made to match the roster; memberships added by hand are left alone."""
    staff = {sub: m for sub, m in members.items() if m.active and m.staff_role}
    gone = {sub for sub, m in members.items() if not (m.active and m.staff_role)}
    identities = {i.sub: i for i in LtiIdentity.objects.select_related("user").filter(
        issuer=issuer, sub__in=list(staff) + list(gone))}
    current = {ms.user_id: ms for ms in CourseMembership.objects.select_for_update().filter(course=course)}
    created = changed = removed = 0
    keep: set[int] = set()
    for sub, member in staff.items():
        identity = identities.get(sub) or _new_identity(issuer, member)
        keep.add(identity.user_id)
        membership = current.get(identity.user_id)
        if membership is None:
            CourseMembership.objects.create(user_id=identity.user_id, course=course, role=member.staff_role,
                                            source=MembershipSource.LTI)
            created += 1
        elif membership.source == MembershipSource.LTI and membership.role != member.staff_role:
            CourseMembership.objects.filter(pk=membership.pk).update(role=member.staff_role)
            changed += 1
    lti = [ms for ms in current.values() if ms.source == MembershipSource.LTI]
    if full:  # the whole roster: every LTI role not on it ends
        ending = [ms.pk for ms in lti if ms.user_id not in keep]
    else:  # differences: only those the platform says left or stopped being staff
        ending_users = {identities[sub].user_id for sub in gone if sub in identities}
        ending = [ms.pk for ms in lti if ms.user_id in ending_users]
    if ending:
        removed, _ = CourseMembership.objects.filter(pk__in=ending).delete()
        logger.info("LTI roster: %d LTI staff role(s) in %s ended (no longer staff on the roster)", removed,
                    course.code)
    return created, changed, removed


def _new_identity(issuer: str, member: Member) -> LtiIdentity:
    """A staff member who never launched: the same Django user a staff launch would make."""
    from .services import new_staff_user

    user = new_staff_user(name=member.name, email=member.email)
    identity, _ = LtiIdentity.objects.get_or_create(issuer=issuer, sub=member.sub, defaults={"user": user})
    if identity.user_id != user.pk:  # created meanwhile by a launch
        get_user_model().objects.filter(pk=user.pk).delete()
    return identity


def _record_failure(sync_id: int, message: str) -> None:
    RosterSync.objects.filter(pk=sync_id).update(status=RosterSyncStatus.FAILED, error=message[:2000],
                                                 error_at=timezone.now())
