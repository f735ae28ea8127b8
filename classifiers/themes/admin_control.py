"""Staff control of themes in admin: hide, show and merge as list actions; rename and split off on each theme's
control page. Every write is a call of classifiers.themes.staff (which decides who may and records the edit);
a refusal or bad input is an error message, with nothing changed.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from classifiers.themes.history import describe_edit
from classifiers.themes.models import Theme
from classifiers.themes.selectors import members_to_pick, theme_edits
from classifiers.themes.staff import merge_themes, rename_theme, set_theme_hidden, split_theme
from courses.permissions import Action, may
from eduplatform.errors import DomainError


class ThemeControlAdmin(admin.ModelAdmin):
    """Mixed into ThemeAdmin (whose scoped queryset decides which themes a user reaches at all)."""

    actions = ("hide_themes", "show_themes", "merge_selected_themes")

    @admin.display(description="staff control")
    def control_link(self, theme: Theme) -> str:
        return format_html(
            '<a href="{}">rename · split off · hide</a>', reverse("admin:classifiers_theme_control", args=[theme.pk])
        )

    def get_urls(self) -> list:
        return [
            path(
                "<int:theme_id>/control/",
                self.admin_site.admin_view(self.control_view),
                name="classifiers_theme_control",
            ),
            *super().get_urls(),
        ]

    def _each(self, request: HttpRequest, queryset: QuerySet[Theme], hidden: bool) -> None:
        for theme in queryset.select_related("course"):
            try:
                set_theme_hidden(theme, hidden=hidden, actor=request.user)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"theme {theme.pk} “{theme.display_name}” {'hidden' if hidden else 'shown again'}",
                    messages.SUCCESS,
                )

    @admin.action(description="Hide the selected themes in reports (their comments count under “other”)")
    def hide_themes(self, request: HttpRequest, queryset: QuerySet[Theme]) -> None:
        self._each(request, queryset, True)

    @admin.action(description="Show the selected hidden themes again")
    def show_themes(self, request: HttpRequest, queryset: QuerySet[Theme]) -> None:
        self._each(request, queryset, False)

    @admin.action(description="Merge the selected themes into one…")
    def merge_selected_themes(self, request: HttpRequest, queryset: QuerySet[Theme]) -> HttpResponse | None:
        themes = list(queryset.select_related("course").order_by("-size", "pk"))
        kept = request.POST.get("kept")
        if kept is None:  # first the page that asks which theme keeps its id and name
            return TemplateResponse(
                request,
                "admin/classifiers/theme_merge.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Merge themes",
                    "themes": themes,
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                    "opts": self.model._meta,
                },
            )
        into = next((t for t in themes if str(t.pk) == kept), None)
        if into is None:
            self.message_user(request, "choose the theme to keep among the selected ones", messages.ERROR)
            return None
        try:
            merged = merge_themes(themes, into=into, actor=request.user)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        self.message_user(
            request,
            f"{len(themes) - 1} theme(s) merged into theme {merged.pk} “{merged.display_name}”",
            messages.SUCCESS,
        )
        return None

    def control_view(self, request: HttpRequest, theme_id: int) -> HttpResponse:
        theme = self.get_queryset(request).select_related("course").filter(pk=theme_id).first()
        if theme is None:  # another course's theme looks exactly like a missing one
            raise Http404(f"No theme with id {theme_id} in your courses.")
        if not may(request.user, Action.MANAGE_THEMES, theme.course):
            raise PermissionDenied("only the course's instructors and teaching assistants may change its themes")
        here = reverse("admin:classifiers_theme_control", args=[theme.pk])
        if request.method == "POST":
            try:
                message = self._apply(request, theme)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, message, messages.SUCCESS)
                if request.POST.get("do") == "split":
                    return HttpResponseRedirect(
                        reverse("admin:classifiers_theme_changelist") + f"?course__id__exact={theme.course_id}"
                    )
            return HttpResponseRedirect(here)
        return TemplateResponse(
            request,
            "admin/classifiers/theme_control.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Theme {theme.pk}",
                "theme": theme,
                "members": members_to_pick(theme),
                "edits": [(edit, describe_edit(edit, seen_from=theme.pk)) for edit in theme_edits(theme)[:50]],
                "opts": self.model._meta,
            },
        )

    @staticmethod
    def _apply(request: HttpRequest, theme: Theme) -> str:
        do, user = request.POST.get("do"), request.user
        if do == "rename":
            renamed = rename_theme(theme, name=request.POST.get("name", ""), actor=user)
            return f"theme {renamed.pk} renamed “{renamed.display_name}”"
        if do in ("hide", "show"):
            set_theme_hidden(theme, hidden=do == "hide", actor=user)
            return f"theme {theme.pk} {'hidden' if do == 'hide' else 'shown again'}"
        if do == "split":
            try:
                ids = [int(pk) for pk in request.POST.getlist("comments")]
            except ValueError:
                raise DomainError("comments are chosen by their ids (whole numbers)") from None
            new = split_theme(
                theme,
                name=request.POST.get("name", ""),
                keyword=request.POST.get("keyword", ""),
                feedback_ids=ids,
                actor=user,
            )
            return f"{new.size} comment(s) split off into the new theme {new.pk} “{new.display_name}”"
        raise DomainError(f"unknown change {do!r}: rename, hide, show or split")
