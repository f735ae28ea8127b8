"""The list of items to label under one schema: filters, search, inline label edit and bulk actions.

Bulk actions work on what Django passes them: the ticked rows, or, after "Select all N", the whole
filtered result (select_across). Each first shows a confirmation page with the count.
"""

from __future__ import annotations

import threading

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from classifiers.labelling.bulk import accept_suggestions, clear_labels, label_items
from classifiers.labelling.progress import disagreeing_feedback_ids
from classifiers.models import Annotation, LabelItem, LabelSchema, Prediction
from classifiers.selectors import schemas_for_user, serving_predictions, versions_serving
from courses.models import Course
from courses.permissions import ANNOTATE_ROLES, courses_for_user
from courses.scoping import COURSE_FILTER, CourseScopedAdmin, CourseScopedInline
from eduplatform.errors import DomainError

# The admin instance is shared by every request; per-request values for the columns live here.
_page = threading.local()


def schema_of(request: HttpRequest) -> LabelSchema | None:
    """The schema named by `?schema=`, looked up inside the user's courses (cached on the request)."""
    if not hasattr(request, "_label_schema"):
        request._label_schema = schemas_for_user(request.user).filter(
            pk=request.GET.get("schema")
        ).first() if str(request.GET.get("schema", "")).isdigit() else None
    return request._label_schema


def _course_ids(request: HttpRequest, schema: LabelSchema) -> list[int]:
    """The courses whose items the list shows under `schema` (cached on the request)."""
    if not hasattr(request, "_label_course_ids"):
        # schema_of only finds schemas of the user's courses, so a course schema's course is one of them.
        request._label_course_ids = [schema.course_id] if schema.course_id else list(
            courses_for_user(request.user, ANNOTATE_ROLES).values_list("pk", flat=True))
    return request._label_course_ids


def _serving_predictions(request: HttpRequest, schema: LabelSchema) -> QuerySet[Prediction]:
    """Only the version serving each item's course counts (its own, else the institution-wide one); the
    versions are looked up once per request, the lazy queryset is reused by the filters and the columns."""
    if not hasattr(request, "_label_serving"):
        request._label_serving = serving_predictions(schema, _course_ids(request, schema))
    return request._label_serving


class SchemaFilter(admin.SimpleListFilter):
    title, parameter_name = "schema", "schema"

    def lookups(self, request, model_admin):  # noqa: ANN001, ANN201
        return [(s.pk, str(s)) for s in schemas_for_user(request.user).select_related("course")]

    def queryset(self, request, queryset):  # noqa: ANN001, ANN201
        schema = schema_of(request)
        return queryset.filter(course=schema.course) if schema and schema.course_id else queryset


class _SchemaDependentFilter(admin.SimpleListFilter):
    def queryset(self, request, queryset):  # noqa: ANN001, ANN201
        schema = schema_of(request)
        return self.apply(request, queryset, schema, self.value()) if schema and self.value() else queryset

    def _current(self, schema: LabelSchema) -> QuerySet[Annotation]:
        return Annotation.objects.filter(schema=schema, is_current=True)


class LabelFilter(_SchemaDependentFilter):
    title, parameter_name = "label", "label"

    def lookups(self, request, model_admin):  # noqa: ANN001, ANN201
        schema = schema_of(request)
        return [(lb.pk, lb.name) for lb in schema.labels.all()] if schema else []

    def apply(self, request, queryset, schema, value):  # noqa: ANN001, ANN201
        return queryset.filter(pk__in=self._current(schema).filter(labels__pk=value).values("feedback_id"))


class AnnotatorFilter(_SchemaDependentFilter):
    title, parameter_name = "annotator", "annotator"

    def lookups(self, request, model_admin):  # noqa: ANN001, ANN201
        schema = schema_of(request)
        if not schema:
            return []
        users = (self._current(schema).filter(feedback__course__in=courses_for_user(request.user, ANNOTATE_ROLES))
                 .exclude(annotator=None).values_list("annotator_id", "annotator__username").distinct())
        return [("me", "me")] + sorted(users, key=lambda u: u[1])

    def apply(self, request, queryset, schema, value):  # noqa: ANN001, ANN201
        user_id = request.user.pk if value == "me" else value
        return queryset.filter(pk__in=self._current(schema).filter(annotator_id=user_id).values("feedback_id"))


class LabelledByFilter(_SchemaDependentFilter):
    title, parameter_name = "labelled by", "labelled"

    def lookups(self, request, model_admin):  # noqa: ANN001, ANN201
        return [("no", "not labelled"), ("human", "a person"), ("import", "an import"),
                ("suggestion", "a person confirming a suggestion")]

    def apply(self, request, queryset, schema, value):  # noqa: ANN001, ANN201
        current = self._current(schema)
        if value == "no":
            return queryset.exclude(pk__in=current.values("feedback_id"))
        if value == "suggestion":
            confirmed = current.filter(Q(suggested_by__isnull=False) | Q(suggested_by_theme__isnull=False))
            return queryset.filter(pk__in=confirmed.values("feedback_id"))
        return queryset.filter(pk__in=current.filter(source=value).values("feedback_id"))


class PredictionFilter(_SchemaDependentFilter):
    title, parameter_name = "model suggestion", "predicted"

    def lookups(self, request, model_admin):  # noqa: ANN001, ANN201
        return [("yes", "has a suggestion"), ("no", "no suggestion")]

    def apply(self, request, queryset, schema, value):  # noqa: ANN001, ANN201
        predicted = _serving_predictions(request, schema).values("feedback_id")
        return queryset.filter(pk__in=predicted) if value == "yes" else queryset.exclude(pk__in=predicted)


CONFIDENCE_RANGES = {"0-50": (0.0, 0.5), "50-70": (0.5, 0.7), "70-90": (0.7, 0.9), "90-100": (0.9, 1.01)}


class ConfidenceFilter(_SchemaDependentFilter):
    title, parameter_name = "suggestion confidence", "confidence"

    def lookups(self, request, model_admin):  # noqa: ANN001, ANN201
        return [(key, f"{key.replace('-', '–')} %") for key in CONFIDENCE_RANGES]

    def apply(self, request, queryset, schema, value):  # noqa: ANN001, ANN201
        low, high = CONFIDENCE_RANGES.get(value, (0.0, 1.01))
        return queryset.filter(pk__in=_serving_predictions(request, schema).filter(
            confidence__gte=low, confidence__lt=high).values("feedback_id"))


class DisagreementFilter(_SchemaDependentFilter):
    title, parameter_name = "disagreement", "disagreement"

    def lookups(self, request, model_admin):  # noqa: ANN001, ANN201
        return [("yes", "annotators disagree"), ("open", "disagree, not settled")]

    def apply(self, request, queryset, schema, value):  # noqa: ANN001, ANN201
        ids: list[int] = []
        for course in Course.objects.filter(pk__in=_course_ids(request, schema)):
            ids += disagreeing_feedback_ids(schema, course=course, settled=value == "yes")
        return queryset.filter(pk__in=ids)


def _confirm(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, *, action: str,
             question: str, choose_label: bool = False) -> HttpResponse | None:
    """Show the confirmation page with the count; None once the user confirmed (then the action runs)."""
    if request.POST.get("confirm") == "yes":
        return None
    schema = schema_of(request)
    context = {
        **modeladmin.admin_site.each_context(request), "title": "Are you sure?", "opts": modeladmin.model._meta,
        "count": queryset.count(), "question": question, "action": action, "schema": schema,
        "labels": list(schema.labels.all()) if choose_label else [], "multi": schema.kind == "multi",
        "select_across": request.POST.get("select_across", "0"),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/classifiers/bulk_confirm.html", context)


def _run(modeladmin: admin.ModelAdmin, request: HttpRequest, work) -> None:  # noqa: ANN001
    try:
        result = work()
    except DomainError as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return
    skipped = f"; {result.skipped} had no suggestion and were left alone" if result.skipped else ""
    modeladmin.message_user(request, f"{result.changed} item(s) changed{skipped}.", messages.SUCCESS)


@admin.action(description="Label selected as …")
def label_selected_as(modeladmin, request, queryset):  # noqa: ANN001, ANN201
    schema = schema_of(request)
    response = _confirm(modeladmin, request, queryset, action="label_selected_as", choose_label=True,
                        question=f"Label these items under “{schema.name}” as:")
    if response is not None:
        return response
    chosen = [lb for lb in schema.labels.all() if str(lb.pk) in request.POST.getlist("labels")]
    _run(modeladmin, request, lambda: label_items(queryset, schema, chosen, actor=request.user))
    return None


@admin.action(description="Accept the model's suggestion")
def accept_model_suggestion(modeladmin, request, queryset):  # noqa: ANN001, ANN201
    schema = schema_of(request)
    if not versions_serving(schema, _course_ids(request, schema)):
        modeladmin.message_user(request, f"Schema “{schema.name}” has no active model.", messages.ERROR)
        return None
    response = _confirm(modeladmin, request, queryset, action="accept_model_suggestion",
                        question="Record the model's suggestion (the version serving each item's course) as your "
                                 "label for these items?")
    if response is not None:
        return response
    _run(modeladmin, request, lambda: accept_suggestions(queryset, schema, actor=request.user))
    return None


@admin.action(description="Clear my labels")
def clear_my_labels(modeladmin, request, queryset):  # noqa: ANN001, ANN201
    schema = schema_of(request)
    response = _confirm(modeladmin, request, queryset, action="clear_my_labels",
                        question=f"Withdraw your current “{schema.name}” labels on these items? (History is kept.)")
    if response is not None:
        return response
    _run(modeladmin, request, lambda: clear_labels(queryset, schema, actor=request.user))
    return None


class AnnotationHistoryInline(CourseScopedInline, admin.TabularInline):
    """The audit trail on the item: every annotation ever made (replaced ones too), newest first."""

    model = Annotation
    fk_name = "feedback"
    extra = 0
    can_delete = False
    verbose_name_plural = "label history (who labelled what, when)"
    fields = ("created_at", "schema", "annotator", "source", "chosen_labels", "suggested_by", "is_current")
    readonly_fields = fields
    ordering = ("-created_at", "-pk")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related(
            "schema", "annotator", "suggested_by__schema", "suggested_by__course").prefetch_related("labels")

    @admin.display(description="labels")
    def chosen_labels(self, obj: Annotation) -> str:
        return ", ".join(lb.name for lb in obj.labels.all())

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(LabelItem)
class LabelItemAdmin(CourseScopedAdmin):
    edit_roles = ANNOTATE_ROLES
    # Staff see only the redacted text, never `original_text`.
    fields = ("course", "module", "source", "submitted_at", "redacted_text")
    readonly_fields = fields
    inlines = (AnnotationHistoryInline,)
    list_display = ("text", "module", "date", "labels", "suggestion", "edit_label")
    list_filter = (SchemaFilter, COURSE_FILTER, ("module", admin.RelatedOnlyFieldListFilter), LabelFilter,
                   AnnotatorFilter, LabelledByFilter, "source", PredictionFilter, ConfidenceFilter,
                   DisagreementFilter)
    search_fields = ("redacted_text", "external_id")
    list_per_page = 50
    actions = (label_selected_as, accept_model_suggestion, clear_my_labels)

    class Media:
        js = ("classifiers/inline_label.js",)
        css = {"all": ("classifiers/items.css",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)  # labels change, the text never

    def changelist_view(self, request, extra_context=None):  # noqa: ANN001, ANN201
        if schema_of(request) is None:
            first = SchemaFilter(request, {}, LabelItem, self).lookups(request, self)
            if not first:
                self.message_user(request, "No label schema in your courses yet.", messages.WARNING)
                return HttpResponseRedirect(reverse("admin:index"))
            query = request.GET.copy()
            query["schema"] = first[0][0]
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        extra = {"title": f"Items to label · {schema_of(request)}", **(extra_context or {})}
        return super().changelist_view(request, extra)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request).select_related("module", "course")
        schema = schema_of(request)
        if schema is None:
            return qs
        return qs.prefetch_related(
            Prefetch("annotations", to_attr="schema_annotations", queryset=Annotation.objects.filter(
                schema=schema, is_current=True).select_related("annotator").prefetch_related("labels")),
            Prefetch("predictions", to_attr="active_predictions",
                     queryset=_serving_predictions(request, schema).select_related(
                         "model_version__schema", "model_version__course", "label")),
        )

    @admin.display(description="Text")
    def text(self, obj: LabelItem) -> str:
        return obj.redacted_text[:160]

    @admin.display(description="Date", ordering="submitted_at")
    def date(self, obj: LabelItem) -> str:
        return obj.submitted_at.date().isoformat()

    @admin.display(description="Labels")
    def labels(self, obj: LabelItem) -> str:
        return format_html_join(
            "", "<div><b>{}</b>: {}</div>",
            ((a.annotator.get_username() if a.annotator else "import",
              ", ".join(lb.name for lb in a.labels.all())) for a in getattr(obj, "schema_annotations", [])),
        ) or "—"

    @admin.display(description="Model suggestion")
    def suggestion(self, obj: LabelItem) -> str:
        predictions = getattr(obj, "active_predictions", [])  # already only the serving version's
        if not predictions:
            return "—"
        p = predictions[0]
        return format_html('<span style="border:1px dashed #7c3aed;padding:1px 4px;color:#5b21b6" '
                           'title="suggested by {} (not a label until someone confirms it)">{} {}%</span>',
                           str(p.model_version), ", ".join(p.label_names), round(p.confidence * 100))

    @admin.display(description="My label")
    def edit_label(self, obj: LabelItem) -> str:
        schema = schema_of(_page.request)
        if schema is None or schema.kind == "multi":
            return "—"
        mine = next((a for a in getattr(obj, "schema_annotations", []) if a.annotator_id == _page.request.user.pk),
                    None)
        current = {lb.pk for lb in mine.labels.all()} if mine else set()
        options = format_html_join("", '<option value="{}"{}>{}</option>', (
            (lb.pk, " selected" if lb.pk in current else "", lb.name) for lb in _page.labels))
        url = reverse("admin:classifiers_annotate_save", args=[schema.pk, obj.course_id])
        return format_html('<select class="inline-label" data-url="{}" data-feedback="{}" aria-label="label">'
                           '<option value="">—</option>{}</select>', url, obj.pk, options)

    def get_changelist_instance(self, request: HttpRequest):  # noqa: ANN201
        _page.request = request  # the columns above need the schema and the user
        schema = schema_of(request)
        _page.labels = list(schema.labels.all()) if schema else []
        return super().get_changelist_instance(request)
