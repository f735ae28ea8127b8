"""Per-course scoping bases of admin and API: rows and choices are limited to the user's courses.

Admin classes and viewsets of every feature inherit from these, so a new list or endpoint starts scoped.
"""

from __future__ import annotations

from functools import cached_property

from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.contrib.admin.filters import SimpleListFilter
from django.contrib.admin.utils import get_fields_from_path
from django.db.models import Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from courses.models import Course, Feedback, Module, Question, Survey, SurveyResponse
from courses.permissions import (
    ANNOTATE_ROLES,
    MANAGE_ROLES,
    VIEW_ROLES,
    Action,
    CourseRolePermission,
    can_manage_institution,
    courses_for_user,
    may,
)
from courses.screening import shown_to_course_staff
from courses.services import delete_feedback, update_feedback
from courses.surveys.anonymity import visible_to_staff
from eduplatform.errors import DomainError

# --- Admin ----------------------------------------------------------------------------------------

# No list, for anyone (superusers included), filters on these: `?original_text__icontains=jane.doe@` or
# `__regex=` would answer questions about what redaction hid.
FORBIDDEN_LOOKUP_FIELDS = frozenset({"original_text"})
# What Django's list filters and date hierarchy put after a field's path in the URL.
FILTER_SUFFIXES = ("exact", "isnull", "gte", "gt", "lte", "lt", "year", "month", "day", "isempty")
# Rows that belong to one course and the path to it: a form's choices are limited to its object's course.
COURSE_OWNED: tuple[tuple[type[Model], str], ...] = (
    (Course, "pk"), (Module, "course"), (Survey, "course"), (Question, "survey__course"), (Feedback, "course"),
)


def limit_choices_to_course(fields: dict, course: Course) -> None:
    """Limit each model choice field of a (fresh) form class to rows of `course`."""
    for field in fields.values():
        queryset = getattr(field, "queryset", None)
        path = next((p for model, p in COURSE_OWNED if queryset is not None and issubclass(queryset.model, model)),
                    None)
        if path is not None:
            field.queryset = queryset.filter(**{path: course.pk})


class CourseScopedAdmin(admin.ModelAdmin):
    """Limits rows to courses where the user holds a staff role; `course_path` names the course field.

    Also the admin's side of rules that live in services: lookups only on what the list filters on,
    choices only of the object's course, feedback changed and deleted through its services, and a
    refusal (DomainError) shown as a message with nothing saved.
    """

    course_path = "course"
    edit_roles: tuple[str, ...] = MANAGE_ROLES
    # Admins holding students' privacy settings (courses, surveys) also open to administrators without a
    # course role, who alone may change those settings (every other field stays read-only for them).
    privacy_fields: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if issubclass(self.model, Feedback):  # every list of feedback (the items-to-label list is a proxy)
            qs = shown_to_course_staff(qs)  # held comments only in the screeners' queue
        elif issubclass(self.model, SurveyResponse):
            qs = visible_to_staff(qs, field="submitted_at")
        if request.user.is_superuser or self._administers(request):
            return qs
        return qs.filter(**{f"{self.course_path}__in": courses_for_user(request.user, ANNOTATE_ROLES)})

    def _course_of(self, obj: object) -> Course | None:
        for part in self.course_path.split("__"):
            obj = getattr(obj, part, None)
        return obj  # type: ignore[return-value]

    def _administers(self, request: HttpRequest) -> bool:
        return bool(self.privacy_fields) and can_manage_institution(request.user)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        if self._administers(request):
            return True
        if not super().has_view_permission(request, obj) and not self._staff_member(request):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._administers(request) or self._edits_rows(request, obj)

    def _edits_rows(self, request: HttpRequest, obj: object = None) -> bool:
        """Course staff's right to change rows (inlines follow this, not the administrators' access)."""
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
        if issubclass(self.model, Feedback):  # every list of feedback (the items-to-label list is a proxy)
            if obj is None:
                return request.user.is_superuser or bool(self._course_ids(request, MANAGE_ROLES))
            return may(request.user, Action.DELETE_FEEDBACK, self._course_of(obj))
        return self._edits_rows(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or self._staff_member(request) or self._administers(request)

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

    # --- What a list may filter on ---

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """Only the lookups of the list's own filters and date hierarchy (search is `q`, apart): any other
        lookup is refused with Django's 400, whoever asks."""
        if FORBIDDEN_LOOKUP_FIELDS.intersection(lookup.split(LOOKUP_SEP)):
            return False
        if lookup not in self._filter_lookups(request) and not self._limit_choices_lookup(lookup, value):
            return False
        return super().lookup_allowed(lookup, value, request)

    def _filter_lookups(self, request: HttpRequest | None) -> set[str]:
        allowed: set[str] = set()
        paths = [self.date_hierarchy] if self.date_hierarchy else []
        list_filter = self.get_list_filter(request) if request is not None else self.list_filter
        for item in list_filter:
            if isinstance(item, type) and issubclass(item, SimpleListFilter):
                allowed.add(item.parameter_name)
            else:
                paths.append(item[0] if isinstance(item, (list, tuple)) else item)
        for path in paths:
            if not isinstance(path, str):
                continue
            allowed.add(path)
            allowed.update(f"{path}{LOOKUP_SEP}{suffix}" for suffix in FILTER_SUFFIXES)
            target = get_fields_from_path(self.model, path)[-1]
            if target.is_relation:  # a related filter's value is the target's key: module__id__exact
                key = getattr(target, "target_field", None) or target.related_model._meta.pk
                allowed.update(f"{path}{LOOKUP_SEP}{key.name}{LOOKUP_SEP}{s}" for s in ("exact", "in"))
        return allowed

    def _limit_choices_lookup(self, lookup: str, value: str) -> bool:
        # Raw-id popups filter the related list by the field's limit_choices_to: Django allows those.
        for fk_lookup in self.model._meta.related_fkey_lookups:
            fk_lookup = fk_lookup() if callable(fk_lookup) else fk_lookup
            if (lookup, value) in widgets.url_params_from_lookup_dict(fk_lookup).items():
                return True
        return False

    # --- Forms: choices of the object's own course ---

    def get_form(self, request: HttpRequest, obj: object = None, change: bool = False, **kwargs: object):  # noqa: ANN201
        form = super().get_form(request, obj, change=change, **kwargs)
        course = self._course_of(obj) if obj is not None else None
        if isinstance(course, Course):
            limit_choices_to_course(form.base_fields, course)  # a fresh class per call: safe to narrow
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):  # noqa: ANN001 - Django's signature
        # Choices of another course would leak its names and let a form attach rows to it.
        if not request.user.is_superuser:
            allowed = courses_for_user(request.user, self.edit_roles)
            if db_field.related_model is Course:
                kwargs["queryset"] = allowed
            elif db_field.related_model is Module:
                kwargs["queryset"] = Module.objects.filter(course__in=allowed)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- Writes through services; their refusals as messages ---

    def save_model(self, request: HttpRequest, obj: Model, form, change: bool) -> None:  # noqa: ANN001
        if isinstance(obj, Feedback) and change:
            update_feedback(obj, actor=request.user, **{name: form.cleaned_data[name] for name in form.changed_data})
            return
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        if isinstance(obj, Feedback):
            delete_feedback([obj], actor=request.user)
            return
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        if issubclass(queryset.model, Feedback):
            delete_feedback(queryset, actor=request.user)
            return
        super().delete_queryset(request, queryset)

    def changeform_view(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        # Django's change form runs in a transaction: a refusal raised by a service rolls back all of it.
        return self._refusals_as_messages(request, super().changeform_view, *args, **kwargs)

    def delete_view(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return self._refusals_as_messages(request, super().delete_view, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return self._refusals_as_messages(request, super().changelist_view, *args, **kwargs)

    def _refusals_as_messages(self, request: HttpRequest, view, *args: object, **kwargs: object) -> HttpResponse:  # noqa: ANN001
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class CourseScopedInline:
    """Inline permissions follow the parent admin's per-course rules, not Django's model permissions
    (course staff hold roles, not per-model permissions); choices are of the parent's course."""

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser or self._parent(request).has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser or self._parent(request)._edits_rows(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_change_permission(request, obj)

    def get_formset(self, request: HttpRequest, obj: object = None, **kwargs: object):  # noqa: ANN201
        formset = super().get_formset(request, obj, **kwargs)  # type: ignore[misc]
        course = self._parent(request)._course_of(obj) if obj is not None else None
        if isinstance(course, Course):
            limit_choices_to_course(formset.form.base_fields, course)
        return formset

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


class CourseScopedFilterBackend(DjangoFilterBackend):
    """Filters that name a row by id (`?module=7`) accept only rows the view's `filter_choices(course)` lists.

    Any other id, another course's or one that exists nowhere, is the same 404: before, another course's id
    answered 200 (empty) and a missing one 400, which told a caller which ids exist in other courses.
    """

    def get_filterset(self, request: Request, queryset: QuerySet, view: object):  # noqa: ANN201 - django-filter's
        filterset = super().get_filterset(request, queryset, view)
        choices = getattr(view, "filter_choices", None)
        if filterset is None or choices is None or getattr(view, "swagger_fake_view", False):
            return filterset
        scoped = choices(view.course)
        for name, rows in scoped.items():
            filterset.filters[name].queryset = rows  # the instance's own (deep-copied) filters
            filterset.form.fields[name].queryset = rows
        filterset.scoped_names = set(scoped)  # for filter_queryset: which errors are "not in this course"
        return filterset

    def filter_queryset(self, request: Request, queryset: QuerySet, view: object) -> QuerySet:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            for name in getattr(filterset, "scoped_names", set()).intersection(filterset.errors):
                raise NotFound(f"No {name} {request.query_params.get(name)!r} in course {view.course.code}.")
            raise translate_validation(filterset.errors)
        return filterset.qs


@extend_schema(parameters=[COURSE_CODE])
class CourseScopedViewSet(CourseScopedMixin, viewsets.GenericViewSet):
    """Base for the course's resources (list, retrieve, create, …).

    A viewset whose filters name rows by id defines `filter_choices(course) -> {filter name: queryset}`.
    """

    filter_backends = [CourseScopedFilterBackend]


class ReadOnlyAdminMixin:
    """An admin (or inline) whose rows are written only by services: nobody adds, changes or deletes them
    here, superusers included (audit trails, sync state, records kept for the LMS)."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
