"""Report pages (staff by login; LTI-launched instructors are logged-in users too): thin callers of selectors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from classifiers.labelling.schemas import DEFAULT_SCHEMA
from classifiers.models import LabelSchema
from classifiers.reports import charts
from classifiers.reports.csv_export import CSV_CHARTS, write_chart_csv
from classifiers.reports.selectors import (
    REPORT_CACHE_S,
    ModuleReport,
    module_report,
    report_from,
    report_inputs,
    version_to_override,
)
from classifiers.reports.services import override_baseline_gate
from classifiers.reports.weeks import report_period
from classifiers.selectors import schema_named, schemas_for_course
from classifiers.themes.charts import theme_bars
from courses.csv_safety import safe_writer
from courses.loop.selectors import fingerprint as loop_fingerprint
from courses.loop.selectors import published_by_module
from courses.models import Course
from courses.permissions import Action, courses_for_user, may
from eduplatform.errors import DomainError, PermissionRefused
from eduplatform.security import bad_request

LOGIN_URL = "/admin/login/"


def _course(request: HttpRequest, code: str) -> Course:
    # Looked up inside the user's courses: another course's code is a 404, not a 403 that confirms it exists.
    return get_object_or_404(courses_for_user(request.user), code=code)


def _schema(course: Course, name: str) -> LabelSchema:
    schema = schema_named(course, name)
    if schema is None:
        raise Http404(f'Course {course.code} has no label schema "{name}".')
    return schema


def _dates(request: HttpRequest) -> tuple[date | None, date | None]:
    """`since` / `until` as YYYY-MM-DD; a bad value is a ValueError with the parameter named."""
    out = []
    for key in ("since", "until"):
        raw = request.GET.get(key, "").strip()
        try:
            out.append(date.fromisoformat(raw) if raw else None)
        except ValueError as exc:
            raise ValueError(f'"{key}" must be a date like 2026-03-02, not "{raw[:40]}".') from exc
    return report_period(out[0], out[1])  # the whole course or one week (a ValueError too: a 400)


@dataclass(frozen=True)
class ReportQuery:
    """What a report page asks for: the course, the schema and the weeks."""

    course: Course
    schema: LabelSchema
    since: date | None
    until: date | None


def _report_view(view: Callable[[HttpRequest, ReportQuery], HttpResponse]) -> Callable[..., HttpResponse]:
    """The prologue of every report page: the course (inside the user's courses), its schema and the weeks;
    a bad date is a 400 that names the parameter."""
    @require_GET
    @login_required(login_url=LOGIN_URL)
    @wraps(view)
    def wrapper(request: HttpRequest, course_code: str) -> HttpResponse:
        course = _course(request, course_code)
        schema = _schema(course, request.GET.get("schema", DEFAULT_SCHEMA))
        try:
            since, until = _dates(request)
        except ValueError as exc:
            return bad_request(str(exc))  # quotes the bad value: plain text, never HTML
        return view(request, ReportQuery(course, schema, since, until))
    return wrapper


@_report_view
def course_report(request: HttpRequest, query: ReportQuery) -> HttpResponse:
    head, body = _report_page(query)
    version = head.version
    context = {
        "course": query.course, "report": head, "schemas": schemas_for_course(query.course), "body": body,
        "may_override": bool(version and not version.used and may(request.user, Action.REPORT_OVERRIDE, query.course)),
    }
    return render(request, "reports/course_report.html", context)


def _report_page(query: ReportQuery) -> tuple[ModuleReport, SafeString]:
    """The report's header fields and its rendered body, cached together under the report's key (every
    input of the report is in it). A warm page unpickles the small header and one string, not the report;
    a cold one reads the inputs once and builds the report from them."""
    inputs = report_inputs(query.course, query.schema, since=query.since, until=query.until)
    # "You said, we did" is shown beside each module's feedback: its state is part of the page's key.
    loop_state = hashlib.sha256(repr(loop_fingerprint(query.course)).encode()).hexdigest()[:16]
    key = f"report-page:{inputs.key}:{loop_state}"
    cached = cache.get(key)
    if cached is None:
        report = report_from(inputs)
        # The header only: totals, version, alerts (all shown on the page); no per-module numbers.
        head = replace(report, modules=[], course_average=[], course_trend=[], weeks=[], themes=[])
        cached = (head, str(_report_body(query.course, report)))
        cache.set(key, cached, REPORT_CACHE_S)
    return cached[0], mark_safe(cached[1])  # noqa: S308 - our own template output


def _report_body(course: Course, report: ModuleReport) -> SafeString:
    """Charts and module cards of `report`."""
    query = urlencode({k: v for k, v in (("schema", report.schema), ("since", report.since or ""),
                                         ("until", report.until or "")) if v})
    sections = {section.module_id: section for section in report.themes}
    loop = published_by_module(course)
    modules = []
    for i, row in enumerate(report.modules):
        section = sections.get(row.module_id)
        chart = theme_bars(section, report.labels, i) if section is not None and section.themes else None
        modules.append((row, charts.module_trend(report, row, i) if row.shown else None, section, chart,
                        loop.get(row.module_id, []) if row.module_id else []))
    body = render_to_string("reports/_report_body.html", {
        "course": course, "report": report, "query": query,
        "bars": charts.module_bars(report), "course_trend": charts.course_trend(report), "modules": modules,
        "course_loop": loop.get(None, []),
    })
    return mark_safe(body)  # noqa: S308 - our own template output


@_report_view
def course_report_csv(request: HttpRequest, query: ReportQuery) -> HttpResponse:
    chart = request.GET.get("chart", "modules")
    if chart not in CSV_CHARTS:
        return bad_request(f'"chart" must be one of {", ".join(CSV_CHARTS)}, not "{chart[:40]}".')
    report = module_report(query.course, query.schema, since=query.since, until=query.until)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"{query.course.code}-{query.schema.name}-{chart}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    write_chart_csv(safe_writer(response), report, chart)  # module titles and label names are text
    return response


@require_POST
@login_required(login_url=LOGIN_URL)
def override_gate(request: HttpRequest, course_code: str) -> HttpResponse:
    course = _course(request, course_code)
    schema = _schema(course, request.POST.get("schema", DEFAULT_SCHEMA))
    try:
        version = version_to_override(course, schema)
        override_baseline_gate(course, schema, version, actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, f"Reports now use {version} (override recorded).")
    except PermissionRefused as exc:  # the service holds the rule; this page only says it in its own form
        return bad_request(str(exc), status=403)
    except DomainError as exc:
        messages.error(request, str(exc))
    url = reverse("reports:course_report", kwargs={"course_code": course.code})
    return redirect(f"{url}?schema={schema.name}")
