"""Who may do what in a course. One home for these rules: admin, pages and API all call them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

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
