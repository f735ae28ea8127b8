"""The admin action "Make a label schema from these themes" (on the themes list); the rule is the service's."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from classifiers.themes.labels import free_schema_name, schema_from_themes
from classifiers.themes.models import Theme
from eduplatform.errors import DomainError


@admin.action(description="Make a label schema from these themes")
def make_label_schema(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Theme]) -> None:
    themes = list(queryset.select_related("course").order_by("-size", "pk"))
    course = themes[0].course if themes else None
    try:
        schema = schema_from_themes(
            themes, actor=request.user, name=free_schema_name(course) if course is not None else "topics"
        )
    except DomainError as exc:  # who may, which themes: the service's answer, as a message
        modeladmin.message_user(request, f"No schema made: {exc}", messages.ERROR)
        return
    url = reverse("admin:classifiers_annotate", args=[schema.pk, schema.course_id])
    modeladmin.message_user(
        request,
        format_html(
            'Schema "{}" made with {} labels; its themes\' comments are suggestions in the <a href="{}">annotate '
            "queue</a> until someone saves them.",
            schema.name,
            schema.labels.count(),
            url,
        ),
        messages.SUCCESS,
    )
