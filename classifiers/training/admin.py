"""Admin for training runs (live progress) and model versions (report, confusion matrix, activation)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html

from classifiers.classification.services import start_classification_run
from classifiers.models import LabelSchema, ModelVersion, TrainingRun
from classifiers.training.charts import confusion_matrix_svg
from classifiers.training.services import cancel_training_run, start_training_run
from classifiers.training.versions import activate_model_version, delete_model_version, rollback_model_version
from courses.scoping import CourseScopedAdmin
from eduplatform.errors import DomainError


def _report(modeladmin: admin.ModelAdmin, request: HttpRequest, fn, objs, ok: str) -> None:  # noqa: ANN001
    """Run a service per object; each success or refusal becomes one admin message."""
    for obj in objs:
        try:
            result = fn(obj)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
        else:
            modeladmin.message_user(request, ok.format(obj=obj, result=result), messages.SUCCESS)


@admin.action(description="Train a model for the selected schemas")
def train_schemas(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[LabelSchema]) -> None:
    def start(schema: LabelSchema) -> TrainingRun:
        run = start_training_run(schema, course=schema.course, actor=request.user)
        for warning in run.warnings:  # labels this run will leave out for having too few examples
            modeladmin.message_user(request, f"{schema}: {warning}", messages.WARNING)
        return run

    _report(modeladmin, request, start, queryset, "{result} queued for {obj}")


@admin.register(TrainingRun)
class TrainingRunAdmin(CourseScopedAdmin):
    list_display = ("id", "schema", "course", "status", "progress_percent", "created_at", "finished_at")
    list_filter = ("status", "schema__name")
    list_select_related = ("schema", "course")
    actions = ("cancel_runs",)
    readonly_fields = ("schema", "course", "status", "actor", "celery_task_id", "config", "metrics",
                       "data_summary", "progress", "error", "heartbeat_at", "created_at", "started_at", "finished_at",
                       "version_link")
    exclude = ("cancel_requested",)
    change_form_template = "admin/classifiers/trainingrun/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="progress")
    def progress_percent(self, run: TrainingRun) -> str:
        p = run.progress or {}
        return f"{100 * p['step'] // p['total_steps']}%" if p.get("total_steps") else "–"

    @admin.display(description="model version")
    def version_link(self, run: TrainingRun) -> str:
        version = ModelVersion.objects.filter(training_run=run).first()
        if version is None:
            return "–"
        url = reverse("admin:classifiers_modelversion_change", args=[version.pk])
        return format_html('<a href="{}">{}</a>', url, version)

    @admin.action(description="Cancel the selected runs")
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[TrainingRun]) -> None:
        _report(self, request, lambda r: cancel_training_run(r, actor=request.user), queryset,
                "{obj}: cancel requested")

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.progress_view)
        return [path("<int:pk>/progress/", view, name="classifiers_trainingrun_progress"), *super().get_urls()]

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        run = self.get_queryset(request).filter(pk=pk).first()  # scoped: another course's run is a 404
        if run is None:
            return JsonResponse({"error": "not found"}, status=404)
        return JsonResponse({"status": run.status, "progress": run.progress, "error": run.error,
                             "percent": self.progress_percent(run)})


@admin.register(ModelVersion)
class ModelVersionAdmin(CourseScopedAdmin):
    list_display = ("__str__", "course", "is_active", "beats_baseline", "f1_macro", "accuracy", "created_at")
    list_filter = ("is_active", "beats_baseline", "schema__name")
    list_select_related = ("schema", "course")
    actions = ("activate", "activate_override", "rollback", "classify_backlog", "delete_versions")
    fields = ("schema", "course", "number", "is_active", "activated_at", "activated_by", "beats_baseline",
              "base_model", "label_names", "max_length", "path", "onnx_path", "use_int8", "training_run",
              "evaluation_report")
    readonly_fields = fields
    change_form_template = "admin/classifiers/modelversion/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deletion goes through the service, which frees the files
        return actions

    @admin.display(description="macro-F1")
    def f1_macro(self, v: ModelVersion) -> str:
        return _pair(v.metrics, "f1_macro")

    @admin.display(description="accuracy")
    def accuracy(self, v: ModelVersion) -> str:
        return _pair(v.metrics, "accuracy")

    @admin.display(description="evaluation report (validation split)")
    def evaluation_report(self, v: ModelVersion) -> str:
        from django.template.loader import render_to_string

        m = v.metrics or {}
        keys = [k for k in ("accuracy", "f1_macro", "f1_weighted", "f1_micro", "qwk", "subset_accuracy") if k in m]
        rows = [(k, m[k], (m.get("baseline") or {}).get(k)) for k in keys]
        matrix = m.get("confusion_matrix")
        return render_to_string("admin/classifiers/modelversion/report.html", {
            "v": v, "m": m, "rows": rows, "per_class": (m.get("per_class") or {}).items(),
            "matrix": confusion_matrix_svg(matrix, m.get("label_names", v.label_names)) if matrix else None,
        })

    @admin.action(description="Activate (only if it beats the baseline)")
    def activate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        _report(self, request, lambda v: activate_model_version(v, actor=request.user), queryset, "{obj} is active")

    @admin.action(description="Activate even if it does not beat the baseline (override)")
    def activate_override(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        _report(self, request, lambda v: activate_model_version(v, actor=request.user, override=True), queryset,
                "{obj} is active (baseline gate overridden)")

    @admin.action(description="Roll back to the previous version of the same scope")
    def rollback(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        scopes = {(v.schema, v.course) for v in queryset}
        _report(self, request, lambda s: rollback_model_version(s[0], course=s[1], actor=request.user),
                scopes, "rolled back: {result} is active")

    @admin.action(description="Classify every comment the version has not classified yet")
    def classify_backlog(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        _report(self, request, lambda v: start_classification_run(v, actor=request.user), queryset,
                "{obj}: {result.progress[pending]} comments queued for classification ({result})")

    @admin.action(description="Delete the selected versions and their files")
    def delete_versions(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        _report(self, request, lambda v: delete_model_version(v, actor=request.user), queryset, "{obj} deleted")


def _pair(metrics: dict, key: str) -> str:
    if key not in (metrics or {}):
        return "–"
    base = (metrics.get("baseline") or {}).get(key)
    return f"{metrics[key]:.3f}" + (f" (baseline {base:.3f})" if base is not None else "")
