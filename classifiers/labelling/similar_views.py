"""The annotate view's "similar comments" endpoints: the nearest comments to the one on screen, and saving one
label choice on the ones the annotator ticked. Rules: classifiers.themes.similar (who, which course, what
may be seen) and classifiers.labelling.services.record_group (each item through record_annotation).
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from classifiers.labelling.ordering import item_payloads
from classifiers.labelling.services import record_group
from classifiers.labelling.views import _ids, _json_body, _one_id, scoped
from classifiers.selectors import active_version_for
from classifiers.themes.similar import SIMILAR_SHOWN, similar_candidates, similar_comments
from eduplatform.errors import DomainError, PermissionRefused

GROUP_MAX = SIMILAR_SHOWN + 1  # the item on screen and the similar ones shown with it


@require_GET
def similar_view(request: HttpRequest, schema_id: int, course_id: int) -> JsonResponse:
    schema, course = scoped(request, schema_id, course_id)
    try:
        found = similar_comments(_one_id(request.GET.get("feedback")), schema, course=course, user=request.user)
    except PermissionRefused as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    except DomainError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    payloads = item_payloads(
        schema,
        [s.feedback for s in found],
        user=request.user,
        with_mine=False,
        version=active_version_for(schema, course),
    )
    for payload, match in zip(payloads, found, strict=True):
        payload["similarity"] = round(match.similarity, 3)
    return JsonResponse({"items": payloads})


@require_POST
def save_group_view(request: HttpRequest, schema_id: int, course_id: int) -> JsonResponse:
    """Save one label choice on the ticked similar comments: {"feedback": [ids], "labels": [label ids]}."""
    schema, course = scoped(request, schema_id, course_id)
    try:
        data = _json_body(request)
        ids = list(dict.fromkeys(_ids(data.get("feedback"))))
        if not ids or len(ids) > GROUP_MAX:
            raise DomainError(f"tick between 1 and {GROUP_MAX} comments")
        # Looked up inside what the annotator may label in this course: another course's id is not found.
        items = list(similar_candidates(schema, course, user=request.user).filter(pk__in=ids))
        if len(items) != len(ids):
            missing = sorted(set(ids) - {item.pk for item in items})
            raise DomainError(
                f"item {missing[0]} is not in your queue for {course.code} (labelled already, or "
                "not shown to course staff)"
            )
        wanted = set(_ids(data.get("labels", [])))
        labels = [lb for lb in schema.labels.all() if lb.pk in wanted]
        if len(labels) != len(wanted):
            raise DomainError(f'a chosen label is not part of schema "{schema.name}"')
        annotations = record_group(items, schema, labels, actor=request.user)
    except PermissionRefused as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    except DomainError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"annotations": {a.feedback_id: a.pk for a in annotations}})
