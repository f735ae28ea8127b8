"""Admin door of "you said, we did": write and edit drafts, publish and unpublish (actions), read the history.
Every write goes through courses.loop.services, which decides who may (instructors and TAs of the course)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from courses.scoping import COURSE_FILTER, CourseScopedAdmin, CourseScopedInline, ReadOnlyAdminMixin
from eduplatform.errors import DomainError

from .models import LoopResponse, LoopRevision
from .services import edit_loop_response, publish_loop_response, unpublish_loop_response, write_loop_response


class LoopRevisionInline(ReadOnlyAdminMixin, CourseScopedInline, admin.TabularInline):
    model = LoopRevision
    fields = ("at", "action", "actor", "status", "module", "you_said", "we_did", "decision")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "history"


@admin.register(LoopResponse)
class LoopResponseAdmin(CourseScopedAdmin):
    list_display = ("short", "course", "module", "decision", "status", "published_at", "updated_at")
    list_filter = (COURSE_FILTER, "status", "decision")
    list_select_related = ("course", "module")
    fields = ("course", "module", "you_said", "we_did", "decision", "status", "published_at")
    inlines = (LoopRevisionInline,)
    actions = ["publish", "unpublish"]

    @admin.display(description="You said")
    def short(self, obj: LoopResponse) -> str:
        return obj.you_said[:80]

    def get_readonly_fields(self, request: HttpRequest, obj: LoopResponse | None = None) -> tuple[str, ...]:
        return ("status", "published_at") + (("course",) if obj is not None else ())

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # unpublish instead: the history stays

    def save_model(self, request: HttpRequest, obj: LoopResponse, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = edit_loop_response(obj, module=data.get("module"), you_said=data["you_said"],
                                       we_did=data["we_did"], decision=data["decision"], actor=request.user)
        else:
            saved = write_loop_response(data["course"], module=data.get("module"), you_said=data["you_said"],
                                        we_did=data["we_did"], decision=data["decision"], actor=request.user)
        obj.pk, obj.status, obj.created_at = saved.pk, saved.status, saved.created_at
        obj._state.adding = False

    def _each(self, request: HttpRequest, queryset: QuerySet, service, done: str) -> None:  # noqa: ANN001
        count = 0
        for item in queryset.select_related("course"):
            try:
                service(item, actor=request.user)
                count += 1
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        if count:
            self.message_user(request, f"{count} response(s) {done}.")

    @admin.action(description="Publish to students")
    def publish(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, publish_loop_response, "published: students of the course see them now")

    @admin.action(description="Unpublish (back to draft)")
    def unpublish(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, unpublish_loop_response, "unpublished")
