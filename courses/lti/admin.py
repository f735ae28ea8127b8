"""Registrations (django-lti's admin) with our policy inline; identities are read-only."""

from __future__ import annotations

from django.contrib import admin
from lti_tool.admin import LtiRegistrationAdmin
from lti_tool.models import LtiDeployment, LtiRegistration

from .models import LtiIdentity, PlatformPolicy


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
