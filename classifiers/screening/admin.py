"""Screening in admin: the review queue and the report (custom pages, classifiers.screening.views), the
audit trail of decisions (read-only), urgent notifications (read-only), the screener role and the policy
(administrators, through their services)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from classifiers.screening import views
from classifiers.screening.models import ScreeningDecision, ScreeningPolicy, UrgentNotification
from classifiers.screening.notifications import support_contacts
from classifiers.screening.services import (
    grant_screener,
    revoke_screener,
    screening_policy,
    train_screening_model,
    update_screening_policy,
)
from courses.models import Screener
from courses.permissions import can_manage_institution, is_screener
from courses.scoping import ReadOnlyAdminMixin
from eduplatform.errors import DomainError


def _screening_staff(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_staff and (
        is_screener(request.user) or can_manage_institution(request.user))


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Screeners and administrators read; nobody adds, changes or deletes here (superusers included)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _screening_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return _screening_staff(request)


@admin.register(ScreeningDecision)
class ScreeningDecisionAdmin(ReadOnlyAdmin):
    """The audit trail: who decided what about a held comment, when and why. It cannot be edited or deleted
    (here, in the model, or in the database). The queue and the report hang off it."""

    list_display = ("decided_at", "course_code", "action", "reason_list", "actor", "note", "verdict", "screen")
    list_filter = ("action", "verdict")
    list_select_related = ("actor",)
    date_hierarchy = "decided_at"
    fields = ("decided_at", "course_code", "feedback_id", "action", "reasons", "note", "span_start", "span_end",
              "verdict", "screen", "screen_reasons", "score", "arrived_at", "actor")
    readonly_fields = fields
    change_list_template = "admin/screening/decision_changelist.html"

    @admin.display(description="reasons")
    def reason_list(self, obj: ScreeningDecision) -> str:
        return ", ".join(obj.reasons) or "—"

    def get_urls(self) -> list:
        site = self.admin_site
        return [
            path("queue/", site.admin_view(views.queue_view), name="screening_queue"),
            path("queue/items/", site.admin_view(views.queue_items_view), name="screening_queue_items"),
            path("queue/decide/", site.admin_view(views.queue_decide_view), name="screening_queue_decide"),
            path("report/", site.admin_view(views.report_view), name="screening_report"),
            *super().get_urls(),
        ]


@admin.register(UrgentNotification)
class UrgentNotificationAdmin(ReadOnlyAdmin):
    """What student support was told of urgent comments, and when (the text is in the queue, not here)."""

    list_display = ("created_at", "course", "status", "sent_to", "attempts", "sent_at", "error")
    list_filter = ("status",)
    list_select_related = ("course",)
    fields = ("course", "feedback_id", "status", "sent_to", "attempts", "error", "created_at", "sent_at")
    readonly_fields = fields

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        email, webhook = support_contacts()
        if not email and not webhook:
            self.message_user(request, "No student-support contact is configured: urgent comments are held but nobody "
                                       "is told. Set the e-mail in the screening policy, or SCREENING_SUPPORT_EMAIL / "
                                       "SCREENING_SUPPORT_WEBHOOK_URL.", messages.WARNING)
        return super().changelist_view(request, extra_context)


class AdministratorsAdmin(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _screening_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return can_manage_institution(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can_manage_institution(request.user)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return can_manage_institution(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return can_manage_institution(request.user)

    def _refusal(self, request: HttpRequest, exc: DomainError) -> None:
        self.message_user(request, str(exc), messages.ERROR)


@admin.register(Screener)
class ScreenerAdmin(AdministratorsAdmin):
    """Administrators grant and revoke the screener role (institution-wide, or of one faculty). A screener never
    screens a course where they hold a role; admin access (staff status) comes with the role."""

    list_display = ("user", "faculty", "granted_by", "granted_at", "note")
    list_select_related = ("user", "faculty", "granted_by")
    list_filter = ("faculty",)
    fields = ("user", "faculty", "note")
    autocomplete_fields = ()
    raw_id_fields = ("user",)

    def get_readonly_fields(self, request: HttpRequest, obj: Screener | None = None) -> tuple:
        return ("user",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Screener, form, change: bool) -> None:  # noqa: ANN001
        try:
            saved = grant_screener(obj.user, actor=request.user, note=obj.note, faculty=obj.faculty)
        except DomainError as exc:
            self._refusal(request, exc)
            return
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Screener) -> None:
        revoke_screener(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Screener]) -> None:
        for screener in queryset.select_related("user"):
            revoke_screener(screener, actor=request.user)


@admin.register(ScreeningPolicy)
class ScreeningPolicyAdmin(AdministratorsAdmin):
    """The institution's thresholds and student-support contact: one row, changed through its service."""

    fields = ("hold_threshold", "trained_threshold", "use_trained_screen", "support_email", "schema_link",
              "contacts", "updated_at", "updated_by")
    readonly_fields = ("schema_link", "contacts", "updated_at", "updated_by")
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if not can_manage_institution(request.user):
            return super().changelist_view(request, extra_context)
        policy = screening_policy()
        return HttpResponseRedirect(reverse("admin:screening_screeningpolicy_change", args=[policy.pk]))

    @admin.display(description="Training labels")
    def schema_link(self, obj: ScreeningPolicy) -> str:
        runs = reverse("admin:classifiers_trainingrun_changelist") + f"?schema__name={obj.schema.name}"
        return format_html(
            'Schema "{}" (multi-label, institution-wide, for screeners only; {} screener labels). '
            '<a href="{}">Training runs</a>; train it with the "Train the screening model" button below.',
            obj.schema.name, obj.schema.annotations.filter(is_current=True).count(), runs)

    @admin.display(description="Student support")
    def contacts(self, obj: ScreeningPolicy) -> str:
        email, webhook = support_contacts()
        if not email and not webhook:
            return "Nobody: urgent comments are held, but nobody is told. Set an e-mail here or in the environment."
        parts = [f"e-mail {email}"] if email else []
        return " and ".join([*parts, "webhook (SCREENING_SUPPORT_WEBHOOK_URL)"] if webhook else parts)

    def save_model(self, request: HttpRequest, obj: ScreeningPolicy, form, change: bool) -> None:  # noqa: ANN001
        update_screening_policy(actor=request.user, **{name: form.cleaned_data[name] for name in form.changed_data})

    def response_change(self, request: HttpRequest, obj: ScreeningPolicy) -> HttpResponse:
        if "_train" in request.POST:
            try:
                run = train_screening_model(actor=request.user)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{run} queued: it trains on the screeners' decisions.", messages.SUCCESS)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    change_form_template = "admin/screening/policy_change_form.html"
