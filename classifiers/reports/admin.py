"""Admin for report settings, alerts and baseline overrides; report numbers only through `module_report`.

ReportCell and ReportComment are deliberately not registered: they hold raw counts, small groups included.
The summary's admin page renders the privacy-applied report instead.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from classifiers.reports.models import Alert, BaselineOverride, ReportSettings, ReportSnapshot
from classifiers.reports.selectors import module_report
from classifiers.reports.services import revoke_baseline_override
from courses.scoping import CourseScopedAdmin
from eduplatform.errors import DomainError


class ReadOnlyScopedAdmin(CourseScopedAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ReportSnapshot)
class ReportSnapshotAdmin(ReadOnlyScopedAdmin):
    list_display = ("course", "schema", "model_version", "built_at", "build_ms", "report_link")
    list_select_related = ("course", "schema", "model_version")

    @admin.display(description="Report")
    def report_link(self, obj: ReportSnapshot) -> str:
        url = reverse("reports:course_report", kwargs={"course_code": obj.course.code})
        return format_html('<a href="{}?schema={}">open</a>', url, obj.schema.name)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        snapshot = self.get_queryset(request).select_related("course", "schema").filter(pk=object_id).first()
        if snapshot is None or not self.has_view_permission(request, snapshot):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "title": str(snapshot),
            "report": module_report(snapshot.course, snapshot.schema),
        }
        return TemplateResponse(request, "admin/reports/report_summary.html", context)


@admin.register(Alert)
class AlertAdmin(ReadOnlyScopedAdmin):
    list_display = ("course", "module", "schema", "week", "previous_share", "share", "count", "emailed_at")
    list_filter = ("schema__name", "week")
    list_select_related = ("course", "module", "schema")


@admin.register(BaselineOverride)
class BaselineOverrideAdmin(ReadOnlyScopedAdmin):
    """Overrides are made on the report page (with a reason); here they are audited and can be revoked."""

    list_display = ("course", "schema", "model_version", "actor", "reason", "created_at", "revoked_at", "revoked_by")
    list_select_related = ("course", "schema", "model_version", "actor", "revoked_by")
    actions = ("revoke",)

    @admin.action(description="Revoke: stop using these models for reports")
    def revoke(self, request: HttpRequest, queryset: QuerySet[BaselineOverride]) -> None:
        for override in queryset.select_related("course", "model_version"):
            try:
                revoke_baseline_override(override, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{override}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{override}: revoked; reports fall back to human labels for that model.",
                                  messages.SUCCESS)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return CourseScopedAdmin.has_change_permission(self, request, obj)


@admin.register(ReportSettings)
class ReportSettingsAdmin(CourseScopedAdmin):
    list_display = ("course", "enrolled_students", "alert_rise", "alert_min_count")
