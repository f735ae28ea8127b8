"""Per-course scoping bases of admin and API: rows and choices are limited to the user's courses.

Admin classes and viewsets of every feature inherit from these, so a new list or endpoint starts scoped.
"""

from __future__ import annotations

from functools import cached_property

from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated

from courses.models import Course, Module
from courses.permissions import ANNOTATE_ROLES, MANAGE_ROLES, VIEW_ROLES, CourseRolePermission, courses_for_user

# --- Admin ----------------------------------------------------------------------------------------


class CourseScopedAdmin(admin.ModelAdmin):
    """Limits rows to courses where the user holds a staff role; `course_path` names the course field."""

    course_path = "course"
    edit_roles: tuple[str, ...] = MANAGE_ROLES

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.course_path}__in": courses_for_user(request.user, ANNOTATE_ROLES)})

    def _course_of(self, obj: object) -> Course | None:
        for part in self.course_path.split("__"):
            obj = getattr(obj, part, None)
        return obj  # type: ignore[return-value]

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        if not super().has_view_permission(request, obj) and not self._staff_member(request):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        if request.user.is_superuser:
            return True
        if not self._staff_member(request):
            return False
        return obj is None or getattr(self._course_of(obj), "pk", None) in self._course_ids(request, self.edit_roles)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or (
            self._staff_member(request) and courses_for_user(request.user, self.edit_roles).exists()
        )

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_change_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or self._staff_member(request)

    @staticmethod
    def _course_ids(request: HttpRequest, roles: tuple[str, ...]) -> set[int]:
        """Ids of the courses where the user holds one of `roles`; one query per request and roles."""
        cache = request.__dict__.setdefault("_course_ids_by_roles", {})
        if roles not in cache:
            cache[roles] = set(courses_for_user(request.user, roles).values_list("pk", flat=True))
        return cache[roles]

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts, object_id):  # noqa: ANN001, ANN202
        # Another course's object must look exactly like a missing one: a 404, not a redirect with a
        # message that confirms the id exists somewhere.
        raise Http404(f"No {opts.verbose_name} with id {object_id} in your courses.")

    @staticmethod
    def _staff_member(request: HttpRequest) -> bool:
        # Asked for every row of a changelist: answered once per request.
        if not hasattr(request, "_course_staff_member"):
            request._course_staff_member = request.user.is_active and request.user.is_staff and courses_for_user(
                request.user, ANNOTATE_ROLES
            ).exists()
        return request._course_staff_member

    def formfield_for_foreignkey(self, db_field, request, **kwargs):  # noqa: ANN001 - Django's signature
        # Choices of another course would leak its names and let a form attach rows to it.
        if not request.user.is_superuser:
            allowed = courses_for_user(request.user, self.edit_roles)
            if db_field.related_model is Course:
                kwargs["queryset"] = allowed
            elif db_field.related_model is Module:
                kwargs["queryset"] = Module.objects.filter(course__in=allowed)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class CourseScopedInline:
    """Inline permissions follow the parent admin's per-course rules, not Django's model permissions
    (course staff hold roles, not per-model permissions)."""

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser or self._parent(request).has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser or self._parent(request).has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_change_permission(request, obj)

    def _parent(self, request: HttpRequest) -> CourseScopedAdmin:
        return self.admin_site._registry[self.parent_model]  # type: ignore[attr-defined]


# Filters list only values present in the (scoped) rows: a plain related filter lists every course.
COURSE_FILTER = ("course", admin.RelatedOnlyFieldListFilter)


# --- API ------------------------------------------------------------------------------------------

COURSE_CODE = OpenApiParameter(
    "course_code", OpenApiTypes.STR, OpenApiParameter.PATH, description="The course's code, e.g. CS101."
)


class CourseScopedMixin:
    """For views of one course; subclasses set `read_roles`, `write_roles` and `course_queryset`."""

    permission_classes = [IsAuthenticated, CourseRolePermission]
    read_roles: tuple[str, ...] = VIEW_ROLES
    write_roles: tuple[str, ...] = MANAGE_ROLES

    @cached_property
    def course(self) -> Course:
        code = self.kwargs.get("course_code", "")
        course = courses_for_user(self.request.user, self.read_roles).filter(code=code).first()
        if course is None:
            if courses_for_user(self.request.user).filter(code=code).exists():
                raise PermissionDenied(f"Your role in course {code} does not give access to this resource.")
            raise NotFound(f"No course {code!r} among your courses.")
        return course

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no course
            return self.queryset.none()
        return self.course_queryset(self.course)

    def course_queryset(self, course: Course) -> QuerySet:
        raise NotImplementedError

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "course": None if getattr(self, "swagger_fake_view", False)
                else self.course}


@extend_schema(parameters=[COURSE_CODE])
class CourseScopedViewSet(CourseScopedMixin, viewsets.GenericViewSet):
    """Base for the course's resources (list, retrieve, create, …)."""
