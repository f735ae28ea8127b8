"""Admin for label schemas (with progress, agreement, annotate and adjudicate pages) and annotations,
scoped to the user's courses. The list of items to label lives in `items_admin`."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html

from classifiers.labelling import similar_views, views
from classifiers.labelling.progress import schema_course_stats
from classifiers.labelling.schemas import ensure_label_deletable
from classifiers.models import Annotation, AnnotationLabel, Label, LabelSchema
from classifiers.selectors import schemas_for_user
from classifiers.training.admin import train_schemas
from courses.permissions import ANNOTATE_ROLES, MANAGE_ROLES, Action, can_manage_institution, courses_for_user, may
from courses.scoping import COURSE_FILTER, CourseScopedAdmin, CourseScopedInline
from courses.screening import shown_to_course_staff
from eduplatform.errors import DomainError


class LabelInline(CourseScopedInline, admin.TabularInline):
    model = Label
    extra = 0
    fields = ("position", "name", "color", "description")

    def get_formset(self, request, obj=None, **kwargs):  # noqa: ANN001, ANN201 - Django's signature
        formset = super().get_formset(request, obj, **kwargs)

        def hand_clean_DELETE(form) -> None:  # noqa: ANN001, N802 - Django's hook name
            # Replaces Django's "protected related objects" message with ours, which gives the count.
            if form.cleaned_data.get("DELETE") and form.instance.pk:
                try:
                    ensure_label_deletable(form.instance)
                except DomainError as exc:
                    raise ValidationError(str(exc)) from exc

        formset.form.hand_clean_DELETE = hand_clean_DELETE
        return formset


@admin.register(LabelSchema)
class LabelSchemaAdmin(CourseScopedAdmin):
    list_display = ("name", "course", "kind", "training_policy", "reviewer", "work")
    list_filter = ("kind", COURSE_FILTER)
    search_fields = ("name", "course__code")
    list_select_related = ("course", "reviewer")
    inlines = (LabelInline,)
    change_form_template = "admin/classifiers/labelschema_change_form.html"
    actions = (train_schemas,)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Institution-wide schemas are visible to every course's staff; edits need an administrator.
        return admin.ModelAdmin.get_queryset(self, request).filter(pk__in=schemas_for_user(request.user).values("pk"))

    # Administrators change institution-wide schemas without a course role; the policy (`may`) decides,
    # as it does for the API and the commands.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or can_manage_institution(request.user)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        if can_manage_institution(request.user):
            return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()
        return super().has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: LabelSchema | None = None) -> bool:
        if obj is None:
            return super().has_change_permission(request) or can_manage_institution(request.user)
        answers = request.__dict__.setdefault("_may_edit_schema", {})  # asked once per inline form otherwise
        if obj.course_id not in answers:
            answers[obj.course_id] = request.user.is_staff and may(request.user, Action.EDIT_SCHEMA, obj.course)
        return answers[obj.course_id]

    def _edits_rows(self, request: HttpRequest, obj: LabelSchema | None = None) -> bool:
        # The labels inline asks this: the same EDIT_SCHEMA answer as the schema itself.
        if obj is None:
            return super()._edits_rows(request) or can_manage_institution(request.user)
        return self.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) or can_manage_institution(request.user)

    @admin.display(description="")
    def work(self, obj: LabelSchema) -> str:
        if not obj.course_id:  # institution-wide: the schema page lists one annotate link per course
            return format_html('<a href="{}">annotate…</a>', reverse("admin:classifiers_labelschema_change",
                                                                      args=[obj.pk]))
        items = reverse("admin:classifiers_labelitem_changelist")
        return format_html('<a href="{}">annotate</a> · <a href="{}?schema={}">items</a>',
                           reverse("admin:classifiers_annotate", args=[obj.pk, obj.course_id]), items, obj.pk)

    def get_form(self, request, obj=None, change=False, **kwargs):  # noqa: ANN001, ANN201 - Django's signature
        form = super().get_form(request, obj, change, **kwargs)
        if not may(request.user, Action.EDIT_SCHEMA, None) and "course" in form.base_fields:
            # An empty course means institution-wide, which only an administrator may create.
            form.base_fields["course"].required = True
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):  # noqa: ANN001 - Django's signature
        if db_field.name == "reviewer" and not request.user.is_superuser:
            courses = courses_for_user(request.user, MANAGE_ROLES)
            kwargs["queryset"] = get_user_model().objects.filter(
                memberships__course__in=courses, memberships__role__in=ANNOTATE_ROLES).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_urls(self) -> list:
        def wrap(view, name: str, suffix: str):  # noqa: ANN001, ANN202
            return path(f"<int:schema_id>/course/<int:course_id>/{suffix}", self.admin_site.admin_view(view),
                        name=f"classifiers_{name}")

        return [
            wrap(views.annotate_view, "annotate", "annotate/"),
            wrap(views.items_view, "annotate_items", "annotate/items/"),
            wrap(views.save_view, "annotate_save", "annotate/save/"),
            wrap(views.undo_view, "annotate_undo", "annotate/undo/"),
            wrap(similar_views.similar_view, "annotate_similar", "annotate/similar/"),
            wrap(similar_views.save_group_view, "annotate_save_group", "annotate/save-group/"),
            wrap(views.adjudicate_view, "adjudicate", "adjudicate/"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):  # noqa: ANN001, ANN201
        schema = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if schema is not None:
            extra["course_stats"] = schema_course_stats(schema, courses_for_user(request.user, ANNOTATE_ROLES))
        return super().change_view(request, object_id, form_url, extra_context=extra)


class AnnotationLabelInline(CourseScopedInline, admin.TabularInline):
    model = AnnotationLabel
    extra = 0


@admin.register(Annotation)
class AnnotationAdmin(CourseScopedAdmin):
    """The audit trail: every annotation ever made, current or replaced. Read-only: labels change
    through the annotate view and bulk actions, which keep the history."""

    course_path = "feedback__course"
    edit_roles = ANNOTATE_ROLES
    list_display = ("id", "feedback", "schema", "annotator", "source", "suggested_by", "is_current", "created_at")
    list_filter = (("schema", admin.RelatedOnlyFieldListFilter), "source", "is_current")
    list_select_related = ("feedback", "schema", "annotator", "suggested_by")
    search_fields = ("feedback__redacted_text",)
    inlines = (AnnotationLabelInline,)
    readonly_fields = ("feedback", "schema", "annotator", "source", "is_current", "suggested_by", "created_at")
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # An annotation names its comment's text: only of comments staff may read, under schemas they see
        # (not the screening schema: screeners' decisions are theirs, classifiers.screening).
        qs = shown_to_course_staff(super().get_queryset(request), via="feedback")
        return qs.filter(schema__in=schemas_for_user(request.user))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
