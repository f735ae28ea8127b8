"""Who may do what in a course. One home for these rules: admin, pages and API all call them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from .models import Course, Role

VIEW_ROLES = (Role.INSTRUCTOR, Role.TEACHING_ASSISTANT, Role.ANNOTATOR, Role.VIEWER)
ANNOTATE_ROLES = (Role.INSTRUCTOR, Role.TEACHING_ASSISTANT, Role.ANNOTATOR)
MANAGE_ROLES = (Role.INSTRUCTOR, Role.TEACHING_ASSISTANT)

User = AbstractBaseUser | AnonymousUser


def courses_for_user(user: User, roles: tuple[str, ...] = VIEW_ROLES) -> QuerySet[Course]:
    """Courses where `user` holds one of `roles`; every course for a superuser."""
    if not user.is_authenticated or not user.is_active:
        return Course.objects.none()
    if user.is_superuser:
        return Course.objects.all()
    return Course.objects.filter(memberships__user=user, memberships__role__in=roles).distinct()


def _has_role(user: User, course: Course, roles: tuple[str, ...]) -> bool:
    return courses_for_user(user, roles).filter(pk=course.pk).exists()


def can_view_course(user: User, course: Course) -> bool:
    return _has_role(user, course, VIEW_ROLES)


def can_annotate_course(user: User, course: Course) -> bool:
    return _has_role(user, course, ANNOTATE_ROLES)


def can_manage_course(user: User, course: Course) -> bool:
    return _has_role(user, course, MANAGE_ROLES)


def can_manage_institution(user: User) -> bool:
    """Institution-wide things (shared schemas, their training) span every course: administrators only."""
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


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


class CourseManagerPermission(BasePermission):
    """Every method, reads included, needs a managing role: for downloads as sensitive as a write."""

    message = "Only the course's instructors and teaching assistants may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return can_manage_course(request.user, view.course)  # view.course raises NotFound for outsiders
