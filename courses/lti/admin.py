"""Registrations (django-lti's admin) with our policy inline; identities are read-only; one-time
registration links for LTI Dynamic Registration are issued here (administrators only)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from lti_tool.admin import LtiRegistrationAdmin
from lti_tool.models import LtiDeployment, LtiRegistration

from courses.permissions import can_manage_institution
from courses.scoping import CourseScopedAdmin, ReadOnlyAdminMixin
from eduplatform.errors import PermissionRefused

from .dynamic_registration import issue_registration_token
from .models import LtiIdentity, ParticipationLineItem, PlatformPolicy, RegistrationToken, RosterSync, ScoreStatus
from .roster import request_sync


class PlatformPolicyInline(admin.StackedInline):
    model = PlatformPolicy
    can_delete = False


admin.site.unregister(LtiRegistration)


@admin.register(LtiRegistration)
class RegistrationAdmin(LtiRegistrationAdmin):
    inlines = [*LtiRegistrationAdmin.inlines, PlatformPolicyInline]


@admin.register(LtiDeployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["deployment_id", "registration", "is_active", "datetime_created"]
    list_filter = ["is_active", "registration"]
    list_editable = ["is_active"]
    search_fields = ["deployment_id"]


@admin.register(LtiIdentity)
class LtiIdentityAdmin(admin.ModelAdmin):
    list_display = ["user", "issuer", "sub", "last_launch_at"]
    search_fields = ["issuer", "sub", "user__username"]
    readonly_fields = ["issuer", "sub", "user", "created_at", "last_launch_at"]


class IssueLinkForm(forms.Form):
    note = forms.CharField(max_length=255, required=False, help_text="Which platform the link is for.")
    valid_days = forms.IntegerField(min_value=1, max_value=90, initial=7, help_text="Days until the link expires.")


@admin.register(RegistrationToken)
class RegistrationTokenAdmin(admin.ModelAdmin):
    """Issued links (never the link itself: only its digest is stored). Administrators only; deleting a
    row revokes its link."""

    list_display = ["__str__", "created_by", "created_at", "expires_at", "used_at", "registration"]
    readonly_fields = ["note", "created_by", "created_at", "expires_at", "used_at", "registration"]
    exclude = ["digest"]
    change_list_template = "admin/lti/registrationtoken_changelist.html"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_manage_institution(request.user)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return can_manage_institution(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return can_manage_institution(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issued by the page below, which shows the link once

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.issue_view)
        return [path("issue/", view, name="lti_registrationtoken_issue"), *super().get_urls()]

    def issue_view(self, request: HttpRequest) -> HttpResponse:
        form = IssueLinkForm(request.POST or None)
        link = ""
        if request.method == "POST" and form.is_valid():
            try:
                row, token = issue_registration_token(actor=request.user, note=form.cleaned_data["note"],
                                                      valid_for=timedelta(days=form.cleaned_data["valid_days"]))
            except PermissionRefused as exc:
                raise PermissionDenied(str(exc)) from exc
            link = request.build_absolute_uri(reverse("lti:register_with_link", kwargs={"token": token}))
            form = IssueLinkForm()
        elif not can_manage_institution(request.user):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "title": "Issue an LTI registration link",
                   "form": form, "link": link, "opts": self.model._meta}
        return TemplateResponse(request, "admin/lti/registrationtoken_issue.html", context)


@admin.register(RosterSync)
class RosterSyncAdmin(ReadOnlyAdminMixin, CourseScopedAdmin):
    """Each course's LMS roster: counts, when it was last synced and the last error. Read-only: the
    platform is the source; *Sync now* queues a sync (course instructors and TAs)."""

    list_display = ["course", "learner_count", "staff_count", "status", "synced_at", "error_at"]
    list_filter = ["status"]
    fields = ["course", "registration", "learner_count", "staff_count", "status", "synced_at", "full_synced_at",
              "requested_at", "error", "error_at", "memberships_url"]
    readonly_fields = fields
    actions = ["sync_now"]

    @admin.action(description="Sync now from the LMS")
    def sync_now(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001 - a QuerySet
        queued = 0
        for sync in queryset.select_related("course"):
            try:
                request_sync(sync, actor=request.user)
                queued += 1
            except PermissionRefused as exc:
                self.message_user(request, str(exc), level="error")
        if queued:
            self.message_user(request, f"{queued} roster sync(s) queued; the counts update when the worker is done.")


@admin.register(ParticipationLineItem)
class ParticipationLineItemAdmin(ReadOnlyAdminMixin, CourseScopedAdmin):
    """Surveys linked with participation credit: how many scores were posted, wait, or were given up (with
    the last error). Never who: the scores themselves are not listed."""

    course_path = "survey__course"
    list_display = ["survey", "resource_link_id", "posted", "waiting", "given_up", "created_at"]
    fields = ["survey", "registration", "resource_link_id", "lineitem_url", "lineitems_url", "created_at",
              "last_error"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest):  # noqa: ANN201
        return super().get_queryset(request).select_related("survey").annotate(
            n_posted=Count("scores", filter=Q(scores__status=ScoreStatus.POSTED)),
            n_waiting=Count("scores", filter=Q(scores__status=ScoreStatus.PENDING)),
            n_failed=Count("scores", filter=Q(scores__status=ScoreStatus.FAILED)))

    @admin.display(description="Posted")
    def posted(self, obj: ParticipationLineItem) -> int:
        return obj.n_posted

    @admin.display(description="Waiting")
    def waiting(self, obj: ParticipationLineItem) -> int:
        return obj.n_waiting

    @admin.display(description="Given up")
    def given_up(self, obj: ParticipationLineItem) -> int:
        return obj.n_failed

    @admin.display(description="Last error")
    def last_error(self, obj: ParticipationLineItem) -> str:
        errors = obj.scores.exclude(last_error="").order_by("-attempts").values_list("last_error", flat=True)
        return errors.first() or ""
