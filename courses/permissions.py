"""Who may do what in a course. One home for these rules: services call `authorize`, and admin, pages,
API and commands only translate its refusal (admin message, 403, exit code 2).

`actor=None` is the system: a worker acting on a job somebody was allowed to start, or an operator's
command run without `--as USER` (the command says so). Every door that has a user passes that user.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from eduplatform.errors import PermissionRefused

from .models import Course, CourseMembership, MembershipSource, Role, Screener

VIEW_ROLES = (Role.INSTRUCTOR, Role.TEACHING_ASSISTANT, Role.ANNOTATOR, Role.VIEWER)
ANNOTATE_ROLES = (Role.INSTRUCTOR, Role.TEACHING_ASSISTANT, Role.ANNOTATOR)
MANAGE_ROLES = (Role.INSTRUCTOR, Role.TEACHING_ASSISTANT)

User = AbstractBaseUser | AnonymousUser


def courses_for_user(user: User, roles: tuple[str, ...] = VIEW_ROLES) -> QuerySet[Course]:
    """Courses where `user` holds one of `roles`; every course for a superuser.

    A session begun by an LTI launch (courses.lti.middleware.LtiScopeMiddleware) counts LTI-given roles
    in the launch's course only: a launch grants nothing outside its own context.
    """
    if not user.is_authenticated or not user.is_active:
        return Course.objects.none()
    if user.is_superuser:
        return Course.objects.all()
    scope = getattr(user, "lti_course_scope", None)
    if scope is not None:
        members = CourseMembership.objects.filter(user=user, role__in=roles).filter(
            Q(course_id=scope) | ~Q(source=MembershipSource.LTI))
        return Course.objects.filter(pk__in=members.values("course_id"))
    return Course.objects.filter(memberships__user=user, memberships__role__in=roles).distinct()


def _has_role(user: User, course: Course, roles: tuple[str, ...]) -> bool:
    return courses_for_user(user, roles).filter(pk=course.pk).exists()


def can_view_course(user: User, course: Course) -> bool:
    return _has_role(user, course, VIEW_ROLES)


def can_annotate_course(user: User, course: Course) -> bool:
    return _has_role(user, course, ANNOTATE_ROLES)


def can_manage_course(user: User, course: Course) -> bool:
    return _has_role(user, course, MANAGE_ROLES)


ADMINISTER_PERMISSION = "courses.administer_institution"


def can_manage_institution(user: User) -> bool:
    """Institution-wide things (shared schemas, their training, students' privacy settings) span every
    course: administrators only (superusers, or users granted `courses.administer_institution`)."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.has_perm(ADMINISTER_PERMISSION)


def is_screener(user: User) -> bool:
    """Screeners review held comments institution-wide or of one faculty: users administrators granted the
    role (a `Screener` row), and superusers (institution-wide)."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or Screener.objects.filter(user=user).exists()


def courses_to_screen(user: User) -> QuerySet[Course]:
    """The courses whose held comments `user` may decide: every course, or their faculty's (a faculty
    screener), less those where they hold any role (nobody screens comments about their own teaching)."""
    if not is_screener(user):
        return Course.objects.none()
    courses = Course.objects.exclude(pk__in=CourseMembership.objects.filter(user=user).values("course_id"))
    faculty_id = None if user.is_superuser else Screener.objects.filter(user=user).values_list("faculty_id",
                                                                                                  flat=True).first()
    return courses if faculty_id is None else courses.filter(faculty_id=faculty_id)


def can_screen_course(user: User, course: Course | None) -> bool:
    """May `user` screen `course` (see `courses_to_screen`); `course=None`: may the user screen at all."""
    if course is None:
        return is_screener(user)
    return courses_to_screen(user).filter(pk=course.pk).exists()


# --- Policies: one per action; services call `authorize` before they change anything -------------------


class Level(Enum):
    VIEW = (VIEW_ROLES, "course staff")
    ANNOTATE = (ANNOTATE_ROLES, "the course's instructors, teaching assistants and annotators")
    MANAGE = (MANAGE_ROLES, "the course's instructors and teaching assistants")
    ADMINISTER = ((), "administrators")
    SCREEN = ((), "screeners of the whole institution or of the course's faculty who hold no role in the course")


@dataclass(frozen=True)
class Policy:
    doing: str  # "train a model": completes "… may not {doing}"
    level: Level


class Action(Enum):
    """Every state-changing action of the product (and the reads beyond a course role), with who may do it.
    In the institution scope (course None) every action needs an administrator, but screening: a screener."""

    TRAIN = Policy("train a model", Level.MANAGE)
    CANCEL_TRAINING = Policy("cancel a training run", Level.MANAGE)
    ACTIVATE_VERSION = Policy("activate a model version", Level.MANAGE)
    OVERRIDE_BASELINE = Policy("activate a model version that does not beat the baseline", Level.MANAGE)
    ROLLBACK_VERSION = Policy("roll back the active model version", Level.MANAGE)
    DELETE_VERSION = Policy("delete a model version", Level.MANAGE)
    EXPORT_VERSION = Policy("export a model version", Level.MANAGE)
    CLASSIFY = Policy("start classification", Level.MANAGE)
    RECOMPUTE_THEMES = Policy("recompute the course's themes", Level.MANAGE)
    MANAGE_THEMES = Policy("rename, merge, split or hide the course's themes", Level.MANAGE)
    REPORT_OVERRIDE = Policy("change the report's baseline override", Level.MANAGE)
    IMPORT_FEEDBACK = Policy("import feedback", Level.MANAGE)
    CREATE_LABELS = Policy("add labels to a schema", Level.MANAGE)
    EDIT_SCHEMA = Policy("change a label schema", Level.MANAGE)
    EDIT_FEEDBACK = Policy("change feedback", Level.MANAGE)
    DELETE_FEEDBACK = Policy("delete feedback", Level.MANAGE)
    ISSUE_INVITATIONS = Policy("issue survey invitations", Level.MANAGE)
    EDIT_SURVEY = Policy("change a survey", Level.MANAGE)
    ANNOTATE = Policy("annotate feedback", Level.ANNOTATE)
    SETTLE_DISAGREEMENT = Policy("settle annotators' disagreements", Level.MANAGE)
    CHANGE_PRIVACY_SETTINGS = Policy("change the course's privacy settings", Level.ADMINISTER)
    CREATE_COURSE = Policy("create a course", Level.ADMINISTER)
    MANAGE_FACULTIES = Policy("create, change or delete faculties", Level.ADMINISTER)
    EDIT_COURSE = Policy("change the course", Level.MANAGE)
    DELETE_COURSE = Policy("delete the course and all its feedback", Level.ADMINISTER)
    SCREEN = Policy("screen held comments", Level.SCREEN)
    VIEW_SCREENING_REPORT = Policy("view the screening report", Level.ADMINISTER)
    GRANT_SCREENER = Policy("grant or revoke the screener role", Level.ADMINISTER)
    CHANGE_SCREENING_POLICY = Policy("change the screening thresholds", Level.ADMINISTER)
    RESPOND_TO_FEEDBACK = Policy('write or publish "you said, we did" responses', Level.MANAGE)
    SYNC_ROSTER = Policy("sync the course roster from the LMS", Level.MANAGE)
    REGISTER_PLATFORM = Policy("register a learning platform (LTI)", Level.ADMINISTER)
    # A read, but of figures spanning every course (queue lengths, backlog age, machines' caches): /metrics.
    VIEW_OPERATIONS = Policy("view the operations metrics", Level.ADMINISTER)


def may(actor: User | None, action: Action, course: Course | None) -> bool:
    """The answer `authorize` enforces, for doors that hide what a user may not do (admin buttons)."""
    if actor is None:
        return True
    level = action.value.level
    if level is Level.SCREEN:  # course None: may screen at all; never a course of their own
        return can_screen_course(actor, course)
    if level is Level.ADMINISTER or course is None:
        return can_manage_institution(actor)
    return _has_role(actor, course, level.value[0])


def authorize(actor: User | None, action: Action, course: Course | None) -> None:
    """Refuse with the reason when `actor` may not do `action` in `course` (None: institution-wide)."""
    if may(actor, action, course):
        return
    level = action.value.level
    where = f"in {course.code}" if course is not None else "institution-wide"
    if level is Level.SCREEN:
        who = level.value[1] if course is not None else "screeners"
    else:
        who = "administrators" if level is Level.ADMINISTER or course is None else level.value[1]
    name = getattr(actor, "username", "") or "an anonymous user"
    raise PermissionRefused(f"{name} may not {action.value.doing} {where}: only {who} may")


# --- DRF ------------------------------------------------------------------------------------------
# Views that use these expose `course` (looked up *inside* the user's courses, so an outsider gets a
# 404 and learns nothing) and `write_roles`; reads are scoped by the view's queryset.


class CourseRolePermission(BasePermission):
    """Reads need a view role in the URL's course; writes need one of the view's `write_roles`."""

    message = "Your role in this course does not allow this action."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        course = view.course  # raises NotFound outside the user's courses
        if request.method in SAFE_METHODS:
            return True
        return _has_role(request.user, course, view.write_roles)
