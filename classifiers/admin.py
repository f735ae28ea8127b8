"""Admin for label schemas and annotations, scoped to the user's courses."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from courses.admin import CourseScopedAdmin
from courses.permissions import ANNOTATE_ROLES, courses_for_user
from eduplatform.errors import DomainError

from .admin_training import train_schemas
from .models import Annotation, AnnotationLabel, Label, LabelSchema
from .services.schemas import delete_label


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0
    fields = ("position", "name", "color", "description")


@admin.register(LabelSchema)
class LabelSchemaAdmin(CourseScopedAdmin):
    list_display = ("name", "course", "kind", "training_policy")
    list_filter = ("kind", "course")
    search_fields = ("name", "course__code")
    inlines = (LabelInline,)
    actions = (train_schemas,)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return qs
        # Institution-wide schemas are visible to every course's staff; edits need a superuser.
        return qs.filter(Q(course__in=courses_for_user(request.user, ANNOTATE_ROLES)) | Q(course__isnull=True))

    def save_formset(self, request, form, formset, change):  # noqa: ANN001 - Django's signature
        for obj in formset.deleted_objects:
            try:
                delete_label(obj)
            except DomainError as exc:
                messages.error(request, str(exc))
        formset.deleted_objects = []
        super().save_formset(request, form, formset, change)


class AnnotationLabelInline(admin.TabularInline):
    model = AnnotationLabel
    extra = 0


@admin.register(Annotation)
class AnnotationAdmin(CourseScopedAdmin):
    course_path = "feedback__course"
    edit_roles = ANNOTATE_ROLES
    list_display = ("id", "feedback", "schema", "annotator", "source", "is_current", "created_at")
    list_filter = ("schema", "source", "is_current")
    list_select_related = ("feedback", "schema", "annotator")
    raw_id_fields = ("feedback",)
    inlines = (AnnotationLabelInline,)
