"""Admin for themes: recompute a course's themes (an action on "themes by course"), the runs and their history,
and the themes large enough to name. Counts stay in the report, where the minimum group size applies per
module; raw members are not registered at all.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from classifiers.themes.admin_control import ThemeControlAdmin
from classifiers.themes.history import describe_edit
from classifiers.themes.labels_admin import make_label_schema
from classifiers.themes.models import Theme, ThemeChange, ThemeCourse, ThemeEdit, ThemeRun
from classifiers.themes.selectors import latest_run, themes_to_list
from classifiers.themes.services import start_theme_run
from courses.scoping import COURSE_FILTER, CourseScopedAdmin, CourseScopedInline
from eduplatform.errors import DomainError


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ThemeCourse)
class ThemeCourseAdmin(ReadOnly, CourseScopedAdmin):
    course_path = "pk"
    list_display = ("code", "title", "themes", "last_run")
    actions = ("recompute_themes",)

    @admin.display(description="themes")
    def themes(self, course: ThemeCourse) -> str:
        url = reverse("admin:classifiers_theme_changelist")
        return format_html('<a href="{}?course__id__exact={}">list</a>', url, course.pk)

    @admin.display(description="last recomputation")
    def last_run(self, course: ThemeCourse) -> str:
        run = ThemeRun.objects.filter(course=course).order_by("-created_at").first()
        if run is None:
            return "never"
        url = reverse("admin:classifiers_themerun_change", args=[run.pk])
        return format_html('<a href="{}">{} · {}</a>', url, run.status, run.created_at.strftime("%d %b %Y %H:%M"))

    @admin.action(description="Recompute themes of the selected courses")
    def recompute_themes(self, request: HttpRequest, queryset: QuerySet[ThemeCourse]) -> None:
        for course in queryset:
            try:
                run = start_theme_run(course, actor=request.user)
            except DomainError as exc:  # the service decides who may; a refusal is a message
                self.message_user(request, f"{course.code}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{course.code}: theme run {run.pk} queued", messages.SUCCESS)


class ThemeChangeInline(ReadOnly, CourseScopedInline, admin.TabularInline):
    model = ThemeChange
    fk_name = "run"
    fields = ("theme", "kind", "into", "similarity")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[ThemeChange]:
        # A small theme's name would describe a small group: only themes that may be listed are named.
        return super().get_queryset(request).filter(theme__in=themes_to_list(ThemeCourse.objects.all()))


@admin.register(ThemeRun)
class ThemeRunAdmin(ReadOnly, CourseScopedAdmin):
    list_display = ("id", "course", "status", "comments", "theme_count", "changes", "actor", "created_at",
                    "finished_at")
    list_filter = ("status", COURSE_FILTER)
    list_select_related = ("course", "actor")
    readonly_fields = ("course", "status", "actor", "stats", "changes", "progress", "error", "heartbeat_at",
                       "created_at", "started_at", "finished_at")
    exclude = ("cancel_requested", "celery_task_id")
    inlines = (ThemeChangeInline,)

    @admin.display(description="comments")
    def comments(self, run: ThemeRun) -> object:
        return (run.stats or {}).get("comments", "–")

    @admin.display(description="themes")
    def theme_count(self, run: ThemeRun) -> object:
        return (run.stats or {}).get("themes", "–")


@admin.register(Theme)
class ThemeAdmin(ThemeControlAdmin, ReadOnly, CourseScopedAdmin):
    """Themes at least the course's minimum group size when last seen; numbers are in the report. Staff
    control (rename, merge, split off, hide) through actions and each theme's control page
    (classifiers.themes.admin_control), all through classifiers.themes.staff."""

    list_display = ("display_name", "course", "status", "hidden", "keyword_list", "new_in_latest_run",
                    "first_seen_run", "last_seen_run", "control_link")
    list_filter = ("status", "hidden", COURSE_FILTER)
    list_select_related = ("course", "first_seen_run", "last_seen_run")
    fields = ("course", "name", "name_by_staff", "hidden", "keywords", "status", "merged_into", "split_from",
              "first_seen_run", "last_seen_run", "created_at", "updated_at")
    readonly_fields = fields
    actions = (*ThemeControlAdmin.actions, make_label_schema)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Theme]:
        return super().get_queryset(request).filter(pk__in=themes_to_list(ThemeCourse.objects.all()).values("pk"))

    @admin.display(description="keywords")
    def keyword_list(self, theme: Theme) -> str:
        return ", ".join(theme.keywords[:8])

    @admin.display(description="new in the latest run", boolean=True)
    def new_in_latest_run(self, theme: Theme) -> bool:
        run = latest_run(theme.course)
        return run is not None and theme.first_seen_run_id == run.pk


@admin.register(ThemeEdit)
class ThemeEditAdmin(ReadOnly, CourseScopedAdmin):
    """The audit of staff control: who renamed, merged, split off, hid or showed a theme, when, and what.
    Append-only: nobody (superusers included) adds, changes or deletes a row here."""

    list_display = ("at", "course", "kind", "theme_id", "actor_name", "what")
    list_filter = ("kind", COURSE_FILTER)
    list_select_related = ("course", "theme")
    fields = ("at", "course", "theme_id", "kind", "actor_name", "what", "detail")
    readonly_fields = fields

    @admin.display(description="what")
    def what(self, edit: ThemeEdit) -> str:
        return describe_edit(edit)  # plain text: the admin escapes it
