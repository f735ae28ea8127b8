"""Admin pages of screening: the review queue (keyboard-first, with its JSON items/decide endpoints) and the
administrators' screening report. Each calls a selector or service that refuses whoever may not: a refusal
is a 403 with the reason, a bad request a 400 that says what was wrong, a comment not in the screener's
queue a 404 (decided already, or of a course where they hold a role)."""

from __future__ import annotations

import json
from datetime import date

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from classifiers.ml.screening import REASONS
from classifiers.screening.models import Decision, ScreeningDecision
from classifiers.screening.selectors import queue_item, queue_payload, queue_size, review_queue, screening_report
from classifiers.screening.services import decide
from eduplatform.errors import DomainError, PermissionRefused
from eduplatform.security import bad_request

PREFETCH = 6  # held comments the page holds ahead: the next one is on screen the moment one is decided
REASON_HELP = {
    "offensive": "abusive or obscene language",
    "personal_remark": "about a person's appearance or identity",
    "threat": "a threat to someone's safety",
    "distress": "the student may be at risk",
}


def _ids(value: object) -> list[int]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise DomainError("expected a list of comment ids")
    return [int(x) for x in value if str(x).isdigit()]


def queue_view(request: HttpRequest) -> HttpResponse:
    try:
        items = review_queue(request.user, limit=PREFETCH)
        waiting = queue_size(request.user)
    except PermissionRefused as exc:
        return bad_request(str(exc), status=403)
    config = {
        "items": [queue_payload(item) for item in items], "prefetch": PREFETCH,
        "reasons": [{"name": name, "key": i + 1, "help": REASON_HELP[name]} for i, name in enumerate(REASONS)],
        "urls": {"items": reverse("admin:screening_queue_items"), "decide": reverse("admin:screening_queue_decide")},
    }
    context = {
        **admin.site.each_context(request), "title": "Screening queue", "config": config, "waiting": waiting,
        "reasons": config["reasons"], "opts": ScreeningDecision._meta,
    }
    return TemplateResponse(request, "admin/screening/queue.html", context)


def queue_items_view(request: HttpRequest) -> JsonResponse:
    try:
        exclude = _ids(request.GET.get("exclude", ""))
        items = review_queue(request.user, exclude=exclude, limit=PREFETCH)
    except PermissionRefused as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    except DomainError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"items": [queue_payload(item) for item in items]})


def _span(value: object) -> tuple[int, int] | None:
    if value in (None, "", []):
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise DomainError("span must be [start, end], two character offsets")
    return value[0], value[1]


@require_POST
def queue_decide_view(request: HttpRequest) -> JsonResponse:
    """Decide one held comment and return the items that refill the page: one round trip."""
    try:
        data = json.loads(request.body or b"{}")
        if not isinstance(data, dict):
            raise DomainError("the request body must be a JSON object")
        feedback_id = data.get("feedback")
        if not str(feedback_id).isdigit():
            raise DomainError(f"{feedback_id!r} is not a comment id")
        reasons = data.get("reasons", [])
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            raise DomainError("reasons must be a list of reason names")
        exclude = _ids(data.get("exclude", []))
        need = data.get("need") or 0
        need = max(0, min(need, PREFETCH)) if isinstance(need, int) else 0
        span = _span(data.get("span"))
        item = queue_item(request.user, int(feedback_id))
        if item is None:
            return JsonResponse({"error": f"comment {feedback_id} is not in your screening queue (decided already, "
                                          "or of a course where you hold a role)"}, status=404)
        decision = decide(item, action=str(data.get("action", "")), actor=request.user, reasons=reasons,
                          note=str(data.get("note") or ""), span=span)
        exclude.append(item.pk)
    except PermissionRefused as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    except DomainError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except ValueError:
        return JsonResponse({"error": "the request body is not JSON"}, status=400)
    nxt = review_queue(request.user, exclude=exclude, limit=need) if need else []
    return JsonResponse({"decision": decision.pk, "action": decision.get_action_display(),
                         "next": [queue_payload(n) for n in nxt]})


def _date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError(f"{name}={value!r} is not a date (YYYY-MM-DD)") from None


def report_view(request: HttpRequest) -> HttpResponse:
    try:
        since, until = _date(request.GET.get("since"), "since"), _date(request.GET.get("until"), "until")
        report = screening_report(request.user, since=since, until=until)
    except PermissionRefused as exc:
        return bad_request(str(exc), status=403)
    except DomainError as exc:
        return bad_request(str(exc))
    context = {
        **admin.site.each_context(request), "title": "Screening report", "report": report,
        "opts": ScreeningDecision._meta, "actions": Decision,
    }
    return TemplateResponse(request, "admin/screening/report.html", context)
