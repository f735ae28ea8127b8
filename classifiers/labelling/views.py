"""Custom admin pages: the annotate view (with its JSON save/undo/items endpoints) and adjudication.

Every view looks the course up inside the user's annotate courses and the schema inside that course
(or institution-wide), so a URL of another course is a 404, never a permission check after a lookup.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from classifiers.labelling.ordering import ORDERS, annotation_queue, item_payloads
from classifiers.labelling.progress import ADJUDICATION_PAGE, adjudication_rows
from classifiers.labelling.services import record_annotation, settle_disagreement, undo_annotation
from classifiers.models import Annotation, Label, LabelSchema, ModelVersion, SchemaKind
from classifiers.selectors import active_version_for, schemas_for_course
from classifiers.themes.labels import made_from_themes
from courses.models import Course
from courses.permissions import ANNOTATE_ROLES, courses_for_user
from courses.selectors import feedback_for_course
from eduplatform.errors import DomainError, PermissionRefused

PREFETCH = 8  # items the page holds ahead, so the next one is on screen the moment a label is saved


def scoped(request: HttpRequest, schema_id: int, course_id: int) -> tuple[LabelSchema, Course]:
    course = get_object_or_404(courses_for_user(request.user, ANNOTATE_ROLES), pk=course_id)
    schema = get_object_or_404(
        schemas_for_course(course).select_related("reviewer"),
        pk=schema_id,
    )
    return schema, course


def _queue_options(data: dict) -> tuple[str, bool]:
    order = data.get("order") or "newest"
    if order not in ORDERS:
        raise Http404("unknown queue order")
    return order, str(data.get("balance", "")).lower() in ("1", "true", "on")


def _next_items(request: HttpRequest, schema: LabelSchema, course: Course, *, order: str, balance: bool,
                exclude: list[int], limit: int, version: ModelVersion | None, labels: list[Label]) -> list[dict]:
    items = annotation_queue(schema, course=course, user=request.user, order=order, balance_modules=balance,
                             exclude=exclude, limit=limit, version=version)
    # The queue never holds items this user labelled, so their own labels need no lookup.
    return item_payloads(schema, items, user=request.user, version=version, labels=labels, with_mine=False)


def annotate_view(request: HttpRequest, schema_id: int, course_id: int) -> HttpResponse:
    schema, course = scoped(request, schema_id, course_id)
    order, balance = _queue_options(request.GET)
    labels = list(schema.labels.all())
    version = active_version_for(schema, course)
    config = {
        "kind": schema.kind,
        "labels": [{"id": lb.pk, "name": lb.name, "color": lb.color, "key": i + 1} for i, lb in enumerate(labels)],
        "items": _next_items(request, schema, course, order=order, balance=balance, exclude=[], limit=PREFETCH,
                             version=version, labels=labels),
        "order": order, "balance": balance, "prefetch": PREFETCH,
        "urls": {name: reverse(f"admin:classifiers_annotate_{name}", args=[schema.pk, course.pk])
                 for name in ("save", "undo", "items", "similar", "save_group")},
    }
    context = {
        **admin.site.each_context(request), "title": f"Annotate · {schema.name} · {course.code}",
        "schema": schema, "course": course, "labels": labels, "version": version, "config": config,
        "orders": ORDERS, "order": order, "balance": balance, "is_ordinal": schema.kind == SchemaKind.ORDINAL,
        "opts": LabelSchema._meta, "has_theme_suggestions": made_from_themes(schema),
    }
    return TemplateResponse(request, "admin/classifiers/annotate.html", context)


def items_view(request: HttpRequest, schema_id: int, course_id: int) -> JsonResponse:
    schema, course = scoped(request, schema_id, course_id)
    order, balance = _queue_options(request.GET)
    exclude = [int(x) for x in request.GET.get("exclude", "").split(",") if x.isdigit()]
    try:
        limit = _bounded_int(request.GET.get("limit"), default=PREFETCH, low=1)
    except DomainError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"items": _next_items(request, schema, course, order=order, balance=balance,
                                              exclude=exclude, limit=limit, version=active_version_for(schema, course),
                                              labels=list(schema.labels.all()))})


def _bounded_int(value: object, *, default: int, low: int = 0, high: int = 50) -> int:
    try:
        return max(low, min(int(value if value not in (None, "") else default), high))
    except (TypeError, ValueError) as exc:
        raise DomainError(f"{value!r} is not a whole number") from exc


def _ids(values: object) -> list[int]:
    if not isinstance(values, list):
        raise DomainError("expected a list of item ids")
    return [int(x) for x in values if str(x).isdigit()]


def _one_id(value: object) -> int:
    if not str(value).isdigit():
        raise DomainError(f"{value!r} is not an item id")
    return int(value)


def _json_body(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise DomainError("the request body is not JSON") from exc
    if not isinstance(data, dict):
        raise DomainError("the request body must be a JSON object")
    return data


@require_POST
def save_view(request: HttpRequest, schema_id: int, course_id: int) -> JsonResponse:
    """Save one item's labels and return the items that refill the page's buffer: one round trip."""
    schema, course = scoped(request, schema_id, course_id)
    try:
        data = _json_body(request)
        order, balance = _queue_options(data)
        feedback = get_object_or_404(feedback_for_course(course), pk=_one_id(data.get("feedback")))
        wanted = set(_ids(data.get("labels", [])))
        exclude = _ids(data.get("exclude", []))
        need = _bounded_int(data.get("need"), default=1)
        all_labels = list(schema.labels.all())
        labels = [lb for lb in all_labels if lb.pk in wanted]
        if len(labels) != len(wanted):
            raise DomainError(f'a chosen label is not part of schema "{schema.name}"')
        annotation = record_annotation(feedback, schema, labels, actor=request.user)
    except PermissionRefused as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    except DomainError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    exclude.append(feedback.pk)
    version = active_version_for(schema, course)
    return JsonResponse({
        "annotation": annotation.pk, "suggested_by": annotation.suggested_by_id,
        "next": _next_items(request, schema, course, order=order, balance=balance, exclude=exclude, limit=need,
                            version=version, labels=all_labels) if need else [],
    })


@require_POST
def undo_view(request: HttpRequest, schema_id: int, course_id: int) -> JsonResponse:
    schema, course = scoped(request, schema_id, course_id)
    try:
        data = _json_body(request)
        annotation = get_object_or_404(
            Annotation.objects.filter(schema=schema, feedback__course=course, annotator=request.user),
            pk=_one_id(data.get("annotation")),
        )
        undo_annotation(annotation, actor=request.user)
    except PermissionRefused as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    except DomainError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    item = item_payloads(schema, [annotation.feedback], user=request.user, version=active_version_for(schema, course))
    return JsonResponse({"item": item[0]})


def adjudicate_view(request: HttpRequest, schema_id: int, course_id: int) -> HttpResponse:
    """The disagreeing items, each with every annotator's labels; the reviewer settles them one by one."""
    schema, course = scoped(request, schema_id, course_id)
    labels = list(schema.labels.all())
    if request.method == "POST":
        feedback = get_object_or_404(feedback_for_course(course), pk=request.POST.get("feedback"))
        chosen = [lb for lb in labels if str(lb.pk) in request.POST.getlist("labels")]
        try:
            settle_disagreement(feedback, schema, chosen, actor=request.user)
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Settled item {feedback.pk}.")
        return redirect(request.get_full_path())
    rows, total = adjudication_rows(schema, course=course, limit=ADJUDICATION_PAGE)
    context = {
        **admin.site.each_context(request), "title": f"Adjudicate · {schema.name} · {course.code}",
        "schema": schema, "course": course, "labels": labels, "rows": rows, "total": total,
        "is_reviewer": schema.reviewer_id == request.user.pk, "opts": LabelSchema._meta,
        "multi": schema.kind == SchemaKind.MULTI,
    }
    return TemplateResponse(request, "admin/classifiers/adjudicate.html", context)
