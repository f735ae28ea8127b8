"""What students talk about, per module: the themes section of the report, with the report's privacy rules.

`module_themes` is the one way out of theme numbers to people (report page, CSV, API, admin):
- a module whose breakdown the report hides shows no themes either (same note);
- a theme with fewer comments in a module than that module's minimum group size is not shown there: its
  comments count under "other" (as do comments of themes staff hid, and comments in no theme);
- a theme's weekly trend shows only weeks the module's own trend shows, with the same secondary suppression
  (`suppression.hidden_weeks`), so no difference of shown numbers gives back a small group; a week's report
  is that week's column of the whole-course table;
- quotes (the comments closest to the theme's centre, redacted, without author, time or id) only for shown
  themes; keywords come from redacted text with placeholders removed (classifiers.ml.themes.keywords);
- labels are the report's effective labels (reports.summary.EFFECTIVE_SELECT: a current human label, else
  the prediction of the version the report uses); anonymous answers reach it once their day is over. The
  counts and each (theme, module)'s closest quotable comments are built with the report's summary
  (reports.models.ThemeCell, rebuilt when the data or the themes move); quotes are checked again when read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Max, Q, QuerySet, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from classifiers.reports.models import ReportSnapshot, ThemeCell
from classifiers.reports.suppression import hidden_weeks
from classifiers.themes.models import Theme, ThemeEdit, ThemeRun, ThemeStatus
from courses.models import Course, Feedback
from courses.screening import SHOWN_SQL, shown_to_course_staff
from courses.surveys.anonymity import RANDOM_ID_FLOOR, day_of
from eduplatform.jobs import JobStatus

QUOTES_SHOWN = 3
MOSTLY = 0.5  # a label with at least this share of a theme's labelled comments makes it "mostly <label>"


@dataclass(frozen=True)
class ThemeWeek:
    week: date
    shown: bool
    count: int | None  # None when hidden


class ThemeTrend(Sequence[ThemeWeek]):
    """A theme's weekly counts over the report's weeks (None: hidden), read as ThemeWeek items.

    Stored as two tuples (the weeks' tuple shared by every theme of a report) rather than as ThemeWeek objects:
    a cached report of 40 modules holds ~40,000 theme-weeks, and unpickling them as objects took most of the
    time of a cached `module_report` (CSV, API). Pickles as its two tuples."""

    __slots__ = ("counts", "weeks")

    def __init__(self, weeks: tuple[date, ...], counts: tuple[int | None, ...]) -> None:
        self.weeks, self.counts = weeks, counts

    def __len__(self) -> int:
        return len(self.counts)

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - an int or a slice, as for a list
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        count = self.counts[index]
        return ThemeWeek(self.weeks[index], count is not None, count)

    def __iter__(self) -> Iterator[ThemeWeek]:
        for week, count in zip(self.weeks, self.counts, strict=True):
            yield ThemeWeek(week, count is not None, count)

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ThemeTrend({list(self)!r})"

    def __reduce__(self) -> tuple:
        return ThemeTrend, (self.weeks, self.counts)


@dataclass(frozen=True)
class ThemeRow:
    theme_id: int
    name: str
    keywords: list[str]
    is_new: bool  # first seen in the latest recomputation, and the course had themes before it
    count: int
    share: float  # of the module's responses
    labelled: int
    labels: dict[str, int]  # label mix of its labelled comments, schema order
    mix: str  # "mostly negative", "mixed", or "not labelled yet"
    trend: ThemeTrend
    quotes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ModuleThemes:
    module_id: int | None
    title: str
    shown: bool
    note: str  # why nothing is shown; empty when shown
    themes: list[ThemeRow]
    other: int | None  # comments in no shown theme (small, hidden or no theme; not yet embedded)


@dataclass(frozen=True)
class ThemesInfo:
    run_id: int
    computed_at: datetime | None
    new_this_term: int  # shown themes first seen in the latest recomputation (counted once per theme)


def themes_to_list(courses: QuerySet[Course]) -> QuerySet[Theme]:
    """Themes of `courses` that may be named in lists (admin, API): at least the course's minimum group size
    (and the site's floor) of comments when last seen. A smaller theme's name and keywords would describe a
    small group. No counts here: the report is where numbers are shown, per module and suppressed."""
    minimum = Greatest(F("course__min_group_size"), Value(settings.MIN_GROUP_SIZE_FLOOR))
    return Theme.objects.filter(course__in=courses).alias(minimum=minimum).filter(size__gte=F("minimum"))


def latest_run(course: Course) -> ThemeRun | None:
    return ThemeRun.objects.filter(course=course, status=JobStatus.SUCCEEDED).order_by("-finished_at", "-pk").first()


def themes_fingerprint(course: Course) -> tuple:
    """Changes whenever the themes a report shows could (the report's cache key): (latest recomputation, themes,
    active themes, last edit). The first three move only when comments move between themes (a recomputation,
    a split adds a theme, a merge ends one: what the summary's theme cells count, `MEMBERSHIP`); a rename
    or hide moves the last alone."""
    run = latest_run(course)
    edits = Theme.objects.filter(course=course).aggregate(
        n=Count("pk"), active=Count("pk", filter=Q(status=ThemeStatus.ACTIVE)), at=Max("updated_at"))
    return (run.pk if run else None, edits["n"], edits["active"], edits["at"].isoformat() if edits["at"] else None)


MEMBERSHIP = 3  # themes_fingerprint(...)[:MEMBERSHIP]: what moves the theme cells of a report's summary


def members_to_pick(theme: Theme, *, limit: int = 100) -> list[tuple[int, str]]:
    """(id, redacted text) of the comments of `theme` staff may read, closest to its centre first: what the
    split-off form offers (held comments count in the theme but are never listed)."""
    rows = shown_to_course_staff(Feedback.objects.filter(theme_member__theme=theme))
    return list(rows.order_by("-theme_member__similarity", "pk").values_list("pk", "redacted_text")[:limit])


def theme_edits(theme: Theme) -> QuerySet[ThemeEdit]:
    """The audit rows of `theme`: edits of it, and the merges into and splits off it."""
    return ThemeEdit.objects.filter(course=theme.course_id).filter(
        Q(theme=theme) | Q(detail__split_from__id=theme.pk) | Q(detail__merged__contains=[{"id": theme.pk}]))


@dataclass(frozen=True)
class _Module:
    """What the themes need of a module row of the report (reports.selectors.ModuleRow)."""

    module_id: int | None
    title: str
    min_group_size: int
    shown: bool
    note: str
    responses: int | None
    shown_weeks: set[date]

    @classmethod
    def of(cls, row) -> _Module:  # noqa: ANN001 - a reports.selectors.ModuleRow
        return cls(row.module_id, row.title, row.min_group_size, row.shown, row.note, row.responses,
                   {c.week for c in row.trend if c.shown})


def module_themes(course: Course, snapshot: ReportSnapshot, rows: list, weeks: list[date], names: dict[int, str], *,
                  week: date | None = None,
                  week_rows: list | None = None) -> tuple[ThemesInfo | None, list[ModuleThemes]]:
    """The themes section of each module of a report, from the theme cells of the report's summary `snapshot`.
    `rows` are the report's privacy-applied module rows of the whole course, `weeks` its weeks and `names` its
    labels (id → name, schema order); with `week`, `week_rows` are that week's rows and the section is the
    week's column of the whole-course table (shown exactly where the whole-course trend shows it)."""
    run = latest_run(course)
    if run is None:
        return None, []
    themes = {t.pk: t for t in Theme.objects.filter(course=course, status=ThemeStatus.ACTIVE, hidden=False)}
    earlier = ThemeRun.objects.filter(course=course, status=JobStatus.SUCCEEDED, pk__lt=run.pk).exists()
    counts = _counts(snapshot)
    all_weeks = tuple(weeks)  # one tuple shared by every theme's trend (pickled once)
    sections = [_section(_Module.of(r), themes, counts, all_weeks, names, run, earlier) for r in rows]
    if week is not None:
        by_module = {r.module_id: _Module.of(r) for r in week_rows or []}
        sections = [_week_section(s, by_module.get(s.module_id), week, counts, names) for s in sections]
        found = _quotes_of_week(course, {(t.theme_id, s.module_id) for s in sections for t in s.themes}, week)
    else:
        found = _closest(course, {(t.theme_id, s.module_id): counts[(t.theme_id, s.module_id)].quotes
                                  for s in sections for t in s.themes})
    sections = [replace(s, themes=[replace(t, quotes=found.get((t.theme_id, s.module_id), [])) for t in s.themes])
                for s in sections]
    new = {t.theme_id for s in sections for t in s.themes if t.is_new}
    return ThemesInfo(run.pk, run.finished_at, len(new)), sections


@dataclass(frozen=True)
class _Cell:
    """A theme in a module, as the summary counted it (reports.models.ThemeCell): every week and label."""

    weeks: list[date]
    labels: list[int | None]
    counts: list[int]
    quotes: list[int]  # closest quotable comments when the summary was built, closest first
    total: int
    weekly: dict[date, int]
    mix: dict[int | None, int]  # label id (None: not labelled yet) → comments

    def mix_of_week(self, week: date) -> dict[int | None, int]:
        mix: dict[int | None, int] = defaultdict(int)
        for w, label, n in zip(self.weeks, self.labels, self.counts, strict=True):
            if w == week:
                mix[label] += n
        return mix


def _counts(snapshot: ReportSnapshot) -> dict[tuple[int, int | None], _Cell]:
    """(theme, module) → its cell: one row per theme and module, built with the summary from the report's
    effective labels of every item staff may see (reports.summary)."""
    out = {}
    rows = ThemeCell.objects.filter(snapshot=snapshot).values_list(
        "theme_id", "module_id", "weeks", "labels", "counts", "quotes")
    for theme_id, module_id, weeks, labels, counts, quote_ids in rows:
        weekly: dict[date, int] = defaultdict(int)
        mix: dict[int | None, int] = defaultdict(int)
        for w, label, n in zip(weeks, labels, counts, strict=True):
            weekly[w] += n
            mix[label] += n
        out[(theme_id, module_id)] = _Cell(weeks, labels, counts, quote_ids, sum(counts), weekly, mix)
    return out


def _section(module: _Module, themes: dict[int, Theme], counts: dict, weeks: tuple[date, ...], names: dict[int, str],
             run: ThemeRun, earlier: bool) -> ModuleThemes:
    if not module.shown:
        return ModuleThemes(module.module_id, module.title, False, module.note, [], None)
    minimum = module.min_group_size
    shown: list[ThemeRow] = []
    for theme_id, theme in themes.items():
        cell = counts.get((theme_id, module.module_id))
        if cell is None or cell.total < minimum:
            continue  # a small group in this module: its comments count under "other"
        mix = _label_counts(cell.mix, names)
        shown.append(ThemeRow(
            theme_id, theme.display_name, list(theme.keywords), earlier and theme.first_seen_run_id == run.pk,
            cell.total, _share(cell.total, module.responses), sum(mix.values()), mix, _mix(mix),
            _trend(cell.weekly, weeks, module, minimum),
        ))
    shown.sort(key=lambda t: (-t.count, t.theme_id))
    return ModuleThemes(module.module_id, module.title, True, "", shown, _other(module.responses, shown))


def _week_section(whole: ModuleThemes, module: _Module | None, week: date, counts: dict,
                  names: dict[int, str]) -> ModuleThemes:
    """One week's column: a theme is shown in the week exactly when its whole-course trend shows that week."""
    if module is None or not module.shown or not whole.shown:
        note = module.note if module is not None and module.note else whole.note
        return ModuleThemes(whole.module_id, whole.title, False, note, [], None)
    shown = []
    for theme in whole.themes:
        cell = next((c for c in theme.trend if c.week == week and c.shown), None)
        if cell is None or not cell.count:
            continue
        mix = _label_counts(counts[(theme.theme_id, whole.module_id)].mix_of_week(week), names)
        shown.append(replace(theme, count=cell.count, share=_share(cell.count, module.responses),
                             labelled=sum(mix.values()), labels=mix, mix=_mix(mix),
                             trend=ThemeTrend((cell.week,), (cell.count,))))
    shown.sort(key=lambda t: (-t.count, t.theme_id))
    return ModuleThemes(whole.module_id, whole.title, True, "", shown, _other(module.responses, shown))


def _label_counts(mix: dict[int | None, int], names: dict[int, str]) -> dict[str, int]:
    """The labelled comments of a mix by label name, in schema order (unlabelled ones left out)."""
    return {name: mix.get(pk, 0) for pk, name in names.items()}


def _share(count: int, responses: int | None) -> float:
    return count / responses if responses else 0.0


def _other(responses: int | None, shown: list[ThemeRow]) -> int:
    return max(0, (responses or 0) - sum(t.count for t in shown))


def _mix(mix: dict[str, int]) -> str:
    labelled = sum(mix.values())
    if not labelled:
        return "not labelled yet"
    top = max(mix, key=lambda name: mix[name])  # the first in schema order on a tie
    return f"mostly {top}" if mix[top] >= MOSTLY * labelled else "mixed"


def _trend(weekly: dict[date, int], weeks: tuple[date, ...], module: _Module, minimum: int) -> ThemeTrend:
    """Weeks the module's trend shows, less small theme-weeks and enough others that none can be recovered."""
    totals = {w: weekly.get(w, 0) for w in weeks}
    # A week the module hides counts as unlabelled, so hidden_weeks hides it first and then tops it up.
    cells = {w: (n, n if w in module.shown_weeks else 0) for w, n in totals.items()}
    hidden = hidden_weeks(cells, minimum)
    return ThemeTrend(weeks, tuple(totals[w] if w in module.shown_weeks and w not in hidden else None for w in weeks))


Pair = tuple[int, int | None]  # (theme id, module id)


def _closest(course: Course, wanted: dict[Pair, list[int]]) -> dict[Pair, list[str]]:
    """The redacted text of the quotes the summary picked per (theme, module), closest first, checked again
    now: only comments staff may read today (courses.screening: screened clear or released, today's anonymous
    answers left out) and still in that module, whatever the age of the summary."""
    ids = {pk for picked in wanted.values() for pk in picked}
    if not ids:
        return {}
    rows = shown_to_course_staff(Feedback.objects.filter(course=course, pk__in=ids))
    found = {pk: (module_id, text) for pk, module_id, text in rows.values_list("pk", "module_id", "redacted_text")}
    return {pair: [found[pk][1] for pk in picked if pk in found and found[pk][0] == pair[1]]
            for pair, picked in wanted.items()}


def _quotes_of_week(course: Course, pairs: set[Pair], week: date) -> dict[Pair, list[str]]:
    """Up to QUOTES_SHOWN redacted comments of `week` per (theme, module) of `pairs`, closest to the theme's
    centre, among the comments staff may see: screened clear or released (courses.screening; held comments
    count in a theme but are never quoted). The week is a range of submission times (local Monday to Monday),
    so only that week's comments are read (index feedback_course_submitted)."""
    if not pairs:
        return {}
    sql = f"""
        SELECT theme_id, module_id, text FROM (
          SELECT m.theme_id, f.module_id, f.redacted_text AS text,
                 row_number() OVER (PARTITION BY m.theme_id, f.module_id ORDER BY m.similarity DESC, f.id) AS rank
          FROM courses_feedback f
          JOIN classifiers_thememember m ON m.feedback_id = f.id
          WHERE m.theme_id = ANY(%(themes)s) AND f.course_id = %(course)s
            AND f.submitted_at >= (%(week)s::date::timestamp AT TIME ZONE %(tz)s)
            AND f.submitted_at < ((%(week)s::date + 7)::timestamp AT TIME ZONE %(tz)s)
            AND NOT (f.id >= %(floor)s AND f.created_at >= %(today)s)
            AND f.screening IN {SHOWN_SQL}
        ) ranked WHERE rank <= %(n)s ORDER BY theme_id, module_id, rank
    """  # noqa: S608 - our own SQL; every value is a parameter
    params = {"themes": sorted({t for t, _ in pairs}), "course": course.pk, "floor": RANDOM_ID_FLOOR,
              "today": day_of(timezone.now()), "n": QUOTES_SHOWN, "week": week, "tz": settings.TIME_ZONE}
    found: dict[Pair, list[str]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for theme_id, module_id, text in cursor.fetchall():
            if (theme_id, module_id) in pairs:
                found[(theme_id, module_id)].append(text)
    return dict(found)
