"""Report selectors: `module_report` is the one way out of the report numbers (page, CSV, admin, API).

Privacy is applied here, on the server, for every caller (superusers included):
- a module (or a module's week) with fewer labelled responses than the minimum group size shows no
  breakdown; its cell says "fewer than N responses" (N: the course's minimum, or a stricter survey's);
- secondary suppression: when a module's hidden weeks add up to fewer than N, more weeks are hidden, so the
  module total minus its shown weeks never reveals a small group;
- a report covers the whole course or one week (`weeks.report_period`); a week's report is that week's
  column of the whole-course table, hidden cells included, so no two reports subtract into a small group;
- the course totals, average and trend are sums over the shown cells only, for the same reason;
- representative comments appear only for a module and label with at least N responses each; they are
  redacted text without author, time or id, so anonymous respondents cannot be singled out;
- screening (courses.screening): a comment held for review counts but is never quoted, and the report says
  how many await review; a comment screeners removed is not counted.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from classifiers.models import Label, LabelSchema, ModelVersion
from classifiers.reports.models import Alert, ReportCell, ReportComment, ReportSettings, ReportSnapshot
from classifiers.reports.summary import VersionChoice, ensure_summary, version_for_reports
from classifiers.reports.suppression import (
    GroupMinimums,
    group_minimums,
    hidden_weeks,
    respondents_by_week,
    respondents_shown,
)
from classifiers.reports.weeks import in_weeks, report_period
from classifiers.selectors import active_version_for
from classifiers.themes.selectors import ModuleThemes, ThemesInfo, module_themes
from courses.lti.selectors import synced_learner_count
from courses.models import Course, Feedback, Module
from courses.screening import SHOWN, awaiting_review
from eduplatform.errors import DomainError

COMMENTS_SHOWN = 3
REPORT_CACHE_S = 3600  # entries are keyed by every input, so the TTL only bounds memory


@dataclass(frozen=True)
class LabelShare:
    label: str
    count: int
    share: float
    course_share: float | None = None  # course average over shown modules

    @property
    def diff_points(self) -> float | None:
        return None if self.course_share is None else round((self.share - self.course_share) * 100, 1)


@dataclass(frozen=True)
class WeekCell:
    week: date
    shown: bool
    labelled: int | None  # None when hidden
    shares: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Comment:
    label: str
    text: str
    confidence: float
    human: bool


@dataclass(frozen=True)
class ModuleRow:
    module_id: int | None
    title: str
    min_group_size: int
    shown: bool
    note: str  # why the breakdown is hidden; empty when shown
    responses: int | None
    labelled: int | None
    distribution: list[LabelShare]
    trend: list[WeekCell]
    comments: dict[str, list[Comment]]
    respondents: int | None = None  # survey respondents, when the module has surveys
    response_rate: float | None = None  # respondents / enrolled students, when both are known


@dataclass(frozen=True)
class VersionInfo:
    name: str
    number: int
    trained_at: datetime | None
    f1_macro: float | None
    baseline_f1_macro: float | None
    beats_baseline: bool
    used: bool
    override_by: str | None
    override_reason: str | None
    override_at: datetime | None
    # Labels left out of its training for having too few examples (name → examples then): never predicted.
    not_learned: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertInfo:
    module: str
    week: date
    share: float
    previous_share: float
    count: int
    module_id: int | None = None  # not in the API: to show an alert only beside shown cells


@dataclass(frozen=True)
class ModuleReport:
    course_code: str
    course_title: str
    schema: str
    labels: list[tuple[str, str]]  # (name, colour) in schema order
    min_group_size: int
    since: date | None
    until: date | None
    weeks: list[date]
    version: VersionInfo | None
    total_responses: int
    labelled_by_humans: int
    modules: list[ModuleRow]
    course_average: list[LabelShare]
    course_trend: list[WeekCell]
    alerts: list[AlertInfo]
    built_at: datetime | None
    cache_key: str = ""  # changes whenever any input of the report changes
    # What students talk about (classifiers.themes.selectors): per module, privacy applied; None before the
    # course's themes were first computed.
    themes_info: ThemesInfo | None = None
    themes: list[ModuleThemes] = field(default_factory=list)
    awaiting_review: int = 0  # comments counted but not shown: pending screening or held for a screener

    def as_dict(self) -> dict:
        """Plain JSON-ready data for the API (dates as ISO strings)."""
        return _jsonable(asdict(self))


def _jsonable(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | Sequence) and not isinstance(value, str):  # Sequence: a ThemeTrend
        return [_jsonable(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _canonical(inputs: tuple) -> str:
    """A stable text of the key inputs. Not repr(): an aware datetime's repr names its tzinfo class, which
    differs between a value just written (datetime.timezone.utc) and the same value read back from Postgres
    (zoneinfo UTC), so the request after a rebuild missed the cache it had just filled."""
    return json.dumps(_jsonable(inputs), sort_keys=True)


def fewer_than(n: int, what: str = "responses") -> str:
    """The note of a hidden cell, the same words on the page, in the charts, the CSV, the API and admin."""
    return f"fewer than {n} {what}"


@dataclass(frozen=True)
class ReportInputs:
    """The cheap inputs of a report, read once per request; `key` changes whenever any of them changes."""

    course: Course
    schema: LabelSchema
    since: date | None
    until: date | None
    snapshot: ReportSnapshot
    labels: list[tuple[int, str, str]]  # (id, name, colour) in schema order
    modules: list[tuple[int, str]]  # (id, title) in course order
    minimums: GroupMinimums
    respondents: dict[tuple[int, date], int]  # survey respondents by module and week, all weeks
    enrolled: int | None
    alerts: list[AlertInfo]
    version: VersionInfo | None
    key: str
    themes: tuple = ()  # themes_fingerprint: the latest recomputation and staff edits
    awaiting_review: int = 0


def report_inputs(course: Course, schema: LabelSchema, *, since: date | None = None,
                  until: date | None = None) -> ReportInputs:
    """Summary watermarks, modules, surveys, alerts and settings, and the cache key made of them.

    A page whose rendering is cached under `key` need not load the report itself (~2,000 objects to
    unpickle at 40 modules); on a miss it passes these same inputs to `report_from`, so they are read once.
    """
    since, until = report_period(since, until)
    choice = version_for_reports(course, schema)
    snapshot = ensure_summary(course, schema, choice.used)
    labels = list(Label.objects.filter(schema=schema).order_by("position").values_list("id", "name", "color"))
    modules = list(Module.objects.filter(course=course).order_by("position", "title").values_list("id", "title"))
    # The LMS roster's learner count when it has been synced (courses/lti/roster.py), else the number typed in.
    enrolled = synced_learner_count(course)
    if enrolled is None:
        enrolled = ReportSettings.objects.filter(course=course).values_list("enrolled_students", flat=True).first()
    minimums, respondents = group_minimums(course), respondents_by_week(course)
    alerts = _alerts(course, schema, since, until, minimums)
    version = _version_info(choice)
    themes = tuple(snapshot.fingerprint.get("themes") or ())  # summary.fingerprint read it: current
    awaiting = awaiting_review(Feedback.objects.filter(course=course)).count()  # the partial index feedback_not_shown
    key_parts = (snapshot.pk, snapshot.built_at, snapshot.fingerprint, course.code, course.title,
                 course.min_group_size, schema.name, since, until, labels, modules, minimums,
                 sorted(respondents.items()),
                 enrolled, alerts, version, themes, awaiting)
    key = "report:" + hashlib.sha256(_canonical(key_parts).encode()).hexdigest()
    return ReportInputs(course, schema, since, until, snapshot, labels, modules, minimums, respondents, enrolled,
                        alerts, version, key, themes, awaiting)


def module_report(course: Course, schema: LabelSchema, *, since: date | None = None,
                  until: date | None = None) -> ModuleReport:
    """The per-module report of `course` under `schema`, privacy applied; weeks filter by their Monday.

    The cheap inputs (summary watermarks, modules, surveys, alerts, settings) are read on every call and
    form the cache key; the heavy part (cells, comments, trends) is cached under it, so any change of an
    input is a new key, never a stale report.
    """
    return report_from(report_inputs(course, schema, since=since, until=until))


def report_from(inputs: ReportInputs) -> ModuleReport:
    """The report built from `inputs` (or its cached copy under `inputs.key`)."""
    cached = cache.get(inputs.key)
    if cached is not None:
        return cached
    course, since, until, snapshot = inputs.course, inputs.since, inputs.until, inputs.snapshot
    names = {pk: name for pk, name, _ in inputs.labels}
    # Always the whole course, suppressed as one table; a week's report is then one column of it.
    rows = list(ReportCell.objects.filter(snapshot=snapshot).values_list(
        "module_id", "week", "label_id", "count", "human_count"))
    weeks = _week_range(rows)
    counts = _tally(rows, names)
    module_rows = [
        _module_row(mid, title, counts, names, weeks, inputs.minimums.of(mid),
                    respondents_shown(inputs.respondents, mid, inputs.minimums.of(mid), None), inputs.enrolled)
        for mid, title in inputs.modules + ([(None, "(no module)")] if counts["modules"].get(None) else [])
    ]
    # An alert names a week's count and share: only beside weeks the table shows (both of its weeks), else
    # an alert on a week hidden to protect a smaller one would undo that.
    shown = {(row.module_id, c.week) for row in module_rows if row.shown for c in row.trend if c.shown}
    alerts = [a for a in inputs.alerts
              if {(a.module_id, a.week), (a.module_id, a.week - timedelta(weeks=1))} <= shown]
    whole_rows, whole_weeks = module_rows, weeks
    if since is not None:  # report_period made it a Monday
        module_rows = [_week_row(row, since, counts, names, inputs) for row in module_rows]
        weeks = [since] if since in weeks else []
    themes_info, themes = module_themes(
        course, snapshot, whole_rows, whole_weeks, names, week=since,
        week_rows=module_rows if since is not None else None)
    module_rows = _with_comments(snapshot.pk, module_rows, names, since, until)
    average = _course_average(module_rows, names)
    module_rows = [_compare(row, average) for row in module_rows]
    humans = counts["human"] if since is None else {m: counts["week_human"].get((m, since), 0) for m in counts["human"]}
    report = ModuleReport(
        course_code=course.code, course_title=course.title, schema=inputs.schema.name,
        labels=[(name, color) for _, name, color in inputs.labels], min_group_size=inputs.minimums.course,
        since=since, until=until, weeks=weeks, version=inputs.version,
        # Sums of what is shown: the true total minus the shown modules would be the hidden ones.
        total_responses=sum(r.responses for r in module_rows if r.responses is not None),
        labelled_by_humans=sum(humans.get(r.module_id, 0) for r in module_rows if r.shown),
        modules=module_rows, course_average=average,
        course_trend=_course_trend(module_rows, weeks, names, inputs.minimums.course),
        alerts=alerts, built_at=snapshot.built_at, cache_key=inputs.key, themes_info=themes_info, themes=themes,
        awaiting_review=inputs.awaiting_review,
    )
    cache.set(inputs.key, report, REPORT_CACHE_S)
    return report


def version_to_override(course: Course, schema: LabelSchema) -> ModelVersion:
    """The version a baseline override would let the reports use: the one serving the course; refused if none."""
    version = active_version_for(schema, course)
    if version is None:
        raise DomainError(f"Schema {schema.name} has no active model in {course.code}.")
    return version


def _week_range(rows: list[tuple]) -> list[date]:
    if not rows:
        return []
    first, last = min(r[1] for r in rows), max(r[1] for r in rows)
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def _tally(rows: list[tuple], names: dict[int, str]) -> dict:
    modules: dict = defaultdict(lambda: defaultdict(int))  # module → label name (or None) → count
    weekly: dict = defaultdict(lambda: defaultdict(int))  # (module, week) → label name → count
    responses: dict = defaultdict(int)  # (module, week) → responses, labelled or not
    human: dict = defaultdict(int)  # module → human-labelled responses
    week_human: dict = defaultdict(int)  # (module, week) → human-labelled responses
    for module_id, week, label_id, count, human_count in rows:
        name = names.get(label_id)
        modules[module_id][name] += count
        responses[(module_id, week)] += count
        human[module_id] += human_count
        week_human[(module_id, week)] += human_count
        if name is not None:
            weekly[(module_id, week)][name] += count
    return {"modules": modules, "weekly": weekly, "responses": responses, "human": human, "week_human": week_human}


def _distribution(counts: dict[str, int], names: dict[int, str]) -> list[LabelShare]:
    total = sum(counts.get(n, 0) for n in names.values())
    return [LabelShare(n, counts.get(n, 0), counts.get(n, 0) / total if total else 0.0) for n in names.values()]


def _module_row(module_id: int | None, title: str, counts: dict, names: dict[int, str], weeks: list[date],
                minimum: int, respondents: int | None, enrolled: int | None) -> ModuleRow:
    by_label = counts["modules"].get(module_id, {})
    responses = sum(by_label.values())
    labelled = responses - by_label.get(None, 0)
    if responses < minimum:
        return ModuleRow(module_id, title, minimum, False, fewer_than(minimum), None, None, [], [], {})
    if labelled < minimum:
        return ModuleRow(module_id, title, minimum, False, fewer_than(minimum, "labelled responses"),
                         responses, None, [], [], {})
    rate = respondents / enrolled if (respondents is not None and enrolled) else None
    return ModuleRow(
        module_id, title, minimum, True, "", responses, labelled, _distribution(by_label, names),
        _module_trend(module_id, counts, weeks, minimum, list(names.values())), {},
        respondents=respondents, response_rate=rate,  # respondents: None when hidden (_respondents_of)
    )


def _module_trend(module_id: int | None, counts: dict, weeks: list[date], minimum: int,
                  order: list[str]) -> list[WeekCell]:
    weekly = counts["weekly"]
    totals = {w: sum(weekly.get((module_id, w), {}).values()) for w in weeks}
    # Primary and secondary suppression over responses and labelled ones (suppression.hidden_weeks).
    hidden = hidden_weeks({w: (counts["responses"].get((module_id, w), 0), totals[w]) for w in weeks}, minimum)
    trend = []
    for w in weeks:
        n = totals[w]
        if n == 0 or w in hidden:
            trend.append(WeekCell(w, False, None))
            continue
        labels = {name: weekly[(module_id, w)].get(name, 0) for name in order}
        trend.append(WeekCell(w, True, n, {k: v / n for k, v in labels.items()}, labels))
    return trend


def _week_row(row: ModuleRow, week: date, counts: dict, names: dict[int, str], inputs: ReportInputs) -> ModuleRow:
    """The module in one week: the whole-course trend's cell of that week, hidden exactly when it is hidden there."""
    cell = next((c for c in row.trend if c.week == week and c.shown), None) if row.shown else None
    if cell is None:
        return ModuleRow(row.module_id, row.title, row.min_group_size, False, fewer_than(row.min_group_size),
                         None, None, [], [], {})
    respondents = respondents_shown(inputs.respondents, row.module_id, row.min_group_size, week)
    return ModuleRow(
        row.module_id, row.title, row.min_group_size, True, "", counts["responses"][(row.module_id, week)],
        cell.labelled, _distribution(cell.counts, names), [cell], {}, respondents=respondents,
        response_rate=respondents / inputs.enrolled if (respondents is not None and inputs.enrolled) else None,
    )


def _with_comments(snapshot_id: int, rows: list[ModuleRow], names: dict[int, str], since: date | None,
                   until: date | None) -> list[ModuleRow]:
    """Top comments per shown module and label, highest confidence (human labels first) across the weeks."""
    comments = ReportComment.objects.filter(snapshot_id=snapshot_id)
    if since or until:
        comments = in_weeks(comments, "week", since, until).annotate(rank=Window(
            RowNumber(), partition_by=[F("module_id"), F("label_id")],
            order_by=[F("confidence").desc(), F("feedback_id")],
        ))
        ranked = comments.filter(rank__lte=COMMENTS_SHOWN)
    else:
        ranked = comments.filter(overall_rank__lte=COMMENTS_SHOWN)  # ranked when built; an index scan
    # Quotable when the summary was built; checked again here, so a held comment is never quoted, whatever
    # the age of the summary.
    ranked = ranked.filter(feedback__screening__in=SHOWN).values_list(
        "module_id", "label_id", "confidence", "human", "feedback__redacted_text")
    found: dict = defaultdict(lambda: defaultdict(list))
    for module_id, label_id, confidence, human, text in ranked:
        found[module_id][names[label_id]].append(Comment(names[label_id], text, confidence, human))
    order = list(names.values())
    return [_attach_comments(row, found.get(row.module_id, {}), order) for row in rows]


def _attach_comments(row: ModuleRow, found: dict[str, list[Comment]], order: list[str]) -> ModuleRow:
    if not row.shown:
        return row
    shown = {cell.label for cell in row.distribution if cell.count >= row.min_group_size}
    # Schema order; only labels whose group reaches the minimum (a comment from a group of 2 is too close).
    by_label = {name: sorted(found[name], key=lambda c: -c.confidence) for name in order
                if name in found and name in shown}
    return ModuleRow(**{**row.__dict__, "comments": by_label})


def _course_average(rows: list[ModuleRow], names: dict[int, str]) -> list[LabelShare]:
    """Over shown modules only: an average including hidden modules would reveal them by subtraction."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        for cell in row.distribution:
            totals[cell.label] += cell.count
    return _distribution(totals, names) if sum(totals.values()) else []


def _compare(row: ModuleRow, average: list[LabelShare]) -> ModuleRow:
    if not row.shown or not average:
        return row
    course = {cell.label: cell.share for cell in average}
    distribution = [LabelShare(c.label, c.count, c.share, course.get(c.label)) for c in row.distribution]
    return ModuleRow(**{**row.__dict__, "distribution": distribution})


def _course_trend(rows: list[ModuleRow], weeks: list[date], names: dict[int, str], minimum: int) -> list[WeekCell]:
    """Each week sums the shown module-week cells only (hidden cells stay hidden in the sum)."""
    trend = []
    for i, week in enumerate(weeks):
        counts: dict[str, int] = defaultdict(int)
        for row in rows:
            cell = row.trend[i] if row.shown else None
            if cell is not None and cell.shown:
                for label, n in cell.counts.items():
                    counts[label] += n
        total = sum(counts.values())
        if total < minimum:
            trend.append(WeekCell(week, False, None))
        else:
            ordered = {n: counts.get(n, 0) for n in names.values()}
            trend.append(WeekCell(week, True, total, {k: v / total for k, v in ordered.items()}, ordered))
    return trend


def _alerts(course: Course, schema: LabelSchema, since: date | None, until: date | None,
            minimums: GroupMinimums) -> list[AlertInfo]:
    """The latest alerts; one raised under a minimum since made stricter is not shown (it has counts)."""
    alerts = in_weeks(Alert.objects.filter(course=course, schema=schema).select_related("module"), "week",
                      since, until)
    return [AlertInfo(a.module.title, a.week, a.share, a.previous_share, a.count, a.module_id) for a in alerts[:20]
            if min(a.count, a.previous_count) >= minimums.of(a.module_id)]


def _version_info(choice: VersionChoice) -> VersionInfo | None:
    version: ModelVersion | None = choice.active
    if version is None:
        return None
    metrics = version.metrics or {}
    run = version.training_run
    override = choice.override
    return VersionInfo(
        name=str(version), number=version.number,
        trained_at=(run.finished_at if run and run.finished_at else version.created_at),
        f1_macro=metrics.get("f1_macro"), baseline_f1_macro=(metrics.get("baseline") or {}).get("f1_macro"),
        beats_baseline=version.beats_baseline, used=choice.used is not None,
        override_by=override.actor.get_username() if override else None,
        override_reason=override.reason if override else None,
        override_at=override.created_at if override else None,
        not_learned=version.not_learned,
    )


