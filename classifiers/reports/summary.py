"""The report summary: per course and schema, counts by module, week and effective label, built in SQL, and
the same per theme and module (theme cells, with each one's closest quotable comments).

Effective label: the latest current human (or import) annotation wins; otherwise the top label of the
prediction by the version the reports may use (see `version_for_reports`: the active version, and only
when it beats its majority baseline or staff overrode the gate). Reading a million feedback rows on every
page view is too slow, so the summary is rebuilt when its watermarks move (new feedback, annotation,
prediction, screening decision, a theme recomputation, merge or split) and swept by beat when older than
REPORT_SUMMARY_MAX_AGE_S (deletions, moved feedback).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from classifiers.models import LabelSchema, ModelVersion
from classifiers.reports.models import BaselineOverride, ReportCell, ReportComment, ReportSnapshot, ThemeCell
from classifiers.selectors import active_version_for
from classifiers.themes.selectors import MEMBERSHIP, QUOTES_SHOWN, themes_fingerprint
from courses.models import Course
from courses.screening import SHOWN_SQL
from courses.surveys.anonymity import RANDOM_ID_FLOOR, day_of

COMMENTS_PER_CELL = 3  # per module, week and label; the page shows the top 3 over the chosen weeks


@dataclass(frozen=True)
class VersionChoice:
    active: ModelVersion | None
    used: ModelVersion | None
    override: BaselineOverride | None


def version_for_reports(course: Course, schema: LabelSchema) -> VersionChoice:
    """The active version is used when it beats its baseline, or when staff overrode the gate for it."""
    active = active_version_for(schema, course)
    if active is None:
        return VersionChoice(None, None, None)
    override = (
        BaselineOverride.objects.filter(course=course, schema=schema, model_version=active, revoked_at__isnull=True)
        .select_related("actor")
        .first()
    )
    used = active if (active.beats_baseline or override is not None) else None
    return VersionChoice(active, used, override)


# Anonymous survey answers have random ids at or above RANDOM_ID_FLOOR (no order to take a max of): their
# count and id sum move on every insert and on every edit instead. Only the ones staff may see count (before
# today), so an arrival today rebuilds nothing (a build time would date it); the day goes into the
# fingerprint so that midnight rebuilds. Screening moves quotes (released, screened clear) and counts
# (removed): the last watermark is over the comments staff may not read, few rows, read through the
# partial index feedback_not_shown (today's anonymous answers left out likewise).
_FINGERPRINT_SQL = f"""
SELECT (SELECT max(id) FROM courses_feedback WHERE course_id = %s AND id < %s),
 (SELECT count(*) || ':' || coalesce(sum(id), 0) FROM courses_feedback
  WHERE course_id = %s AND id >= %s AND created_at < %s),
 (SELECT max(updated_at) FROM classifiers_annotation WHERE schema_id = %s),
 (SELECT max(id) FROM classifiers_prediction WHERE model_version_id = %s),
 (SELECT count(*) || ':' || count(*) FILTER (WHERE screening = 'removed') || ':' || coalesce(sum(id), 0)
  FROM courses_feedback WHERE course_id = %s AND screening NOT IN {SHOWN_SQL} AND NOT (id >= %s AND created_at >= %s))
"""  # noqa: S608 - SHOWN_SQL is a constant of ours; every value is a parameter


def fingerprint(course: Course, schema: LabelSchema, version: ModelVersion | None) -> dict:
    """Watermarks of everything the summary depends on: one query of four index lookups, and the themes'
    (a recomputation, merge or split moves comments between themes, which the theme cells count; a rename or
    hide moves only the themes' last edit, which `ensure_summary` records without a rebuild)."""
    today = day_of(timezone.now())
    with connection.cursor() as cur:
        cur.execute(_FINGERPRINT_SQL, [
            course.pk, RANDOM_ID_FLOOR, course.pk, RANDOM_ID_FLOOR, today, schema.pk, version.pk if version else None,
            course.pk, RANDOM_ID_FLOOR, today,
        ])
        feedback, anonymous, annotations, predictions, screening = cur.fetchone()
    return {
        "feedback": feedback, "anonymous": anonymous, "annotations": annotations.isoformat() if annotations else None,
        "predictions": predictions, "version": version.pk if version else None, "tz": settings.TIME_ZONE,
        "day": today.date().isoformat(), "screening": screening, "themes": list(themes_fingerprint(course)),
    }


def ensure_summary(course: Course, schema: LabelSchema, version: ModelVersion | None) -> ReportSnapshot:
    """The current summary, rebuilt first when the data moved since it was built. A theme's rename or hide
    moves no count: the stored fingerprint is brought up to date (the report's cache key is made of it, so the
    page shows the new name) without the rebuild (6 s at 1,000,000 comments)."""
    current = fingerprint(course, schema, version)
    snapshot = ReportSnapshot.objects.filter(course=course, schema=schema).first()
    if snapshot is not None and snapshot.built_at and snapshot.fingerprint == current:
        return snapshot
    if snapshot is not None and snapshot.built_at and _same_counts(snapshot.fingerprint, current):
        updated = ReportSnapshot.objects.filter(pk=snapshot.pk, fingerprint=snapshot.fingerprint).update(
            fingerprint=current)
        if updated:
            snapshot.fingerprint = current
            return snapshot
    return rebuild_summary(course, schema, version)


def _same_counts(built: dict, current: dict) -> bool:
    """Whether a summary built at `built` counts what `current` would: equal but for the themes' last edit."""
    def counts(fp: dict) -> dict:
        return {**fp, "themes": list(fp.get("themes") or [])[:MEMBERSHIP]}

    return counts(built) == counts(current)


# The effective label of every feedback item of the course that counts (all but comments screeners removed),
# one row each: the one label resolution of the reports, for the cells and for the theme cells (its theme at
# the last recomputation, if any); `quotable`: screened clear or released, so a quote may show it.
EFFECTIVE_SELECT = f"""
WITH human AS (
  SELECT DISTINCT ON (a.feedback_id) a.feedback_id, al.label_id
  FROM classifiers_annotation a
  JOIN classifiers_annotationlabel al ON al.annotation_id = a.id
  JOIN classifiers_label l ON l.id = al.label_id
  JOIN courses_feedback f ON f.id = a.feedback_id
  WHERE a.schema_id = %(schema)s AND a.is_current AND f.course_id = %(course)s
  ORDER BY a.feedback_id, a.created_at DESC, a.id DESC, l.position
)
SELECT f.id, f.module_id,
       date_trunc('week', f.submitted_at AT TIME ZONE %(tz)s)::date AS week,
       COALESCE(h.label_id, p.label_id) AS label_id,
       CASE WHEN h.label_id IS NOT NULL THEN 1.0 ELSE p.confidence END AS confidence,
       h.label_id IS NOT NULL AS human,
       f.screening IN {SHOWN_SQL} AS quotable,
       m.theme_id, m.similarity
FROM courses_feedback f
LEFT JOIN human h ON h.feedback_id = f.id
LEFT JOIN classifiers_thememember m ON m.feedback_id = f.id
LEFT JOIN classifiers_prediction p ON p.feedback_id = f.id AND p.model_version_id = %(version)s
WHERE f.course_id = %(course)s AND NOT (f.id >= %(floor)s AND f.created_at >= %(today)s)
  AND f.screening <> 'removed'
"""  # noqa: S608 - SHOWN_SQL is a constant of ours; every value is a parameter
_EFFECTIVE_SQL = "CREATE TEMP TABLE report_effective ON COMMIT DROP AS " + EFFECTIVE_SELECT


def effective_params(course: Course, schema: LabelSchema, version: ModelVersion | None) -> dict:
    """The parameters of EFFECTIVE_SELECT. Today's anonymous answers wait for tomorrow (see
    courses.surveys.anonymity.visible_to_staff)."""
    return {"course": course.pk, "schema": schema.pk, "tz": settings.TIME_ZONE,
            "version": version.pk if version else None, "floor": RANDOM_ID_FLOOR, "today": day_of(timezone.now())}


_CELLS_SQL = """
INSERT INTO classifiers_reportcell (snapshot_id, module_id, week, label_id, count, human_count)
SELECT %(snapshot)s, module_id, week, label_id, count(*), count(*) FILTER (WHERE human)
FROM report_effective GROUP BY module_id, week, label_id
"""

# Quotes only of comments staff may read (held ones count, above, but are never quoted).
_COMMENTS_SQL = """
INSERT INTO classifiers_reportcomment
  (snapshot_id, module_id, week, label_id, feedback_id, confidence, human, overall_rank)
SELECT %(snapshot)s, module_id, week, label_id, id, confidence, human,
       row_number() OVER (PARTITION BY module_id, label_id ORDER BY confidence DESC, id)
FROM (
  SELECT e.*, row_number() OVER (PARTITION BY module_id, week, label_id ORDER BY confidence DESC, id) AS rank
  FROM report_effective e WHERE label_id IS NOT NULL AND quotable
) ranked WHERE rank <= %(per_cell)s
"""


# Per theme and module: the counts by week and label as parallel arrays (one order for all three). Every
# theme with members, hidden ones too: which themes are shown is decided when the report is read
# (classifiers.themes.selectors).
_THEME_CELLS_SQL = """
INSERT INTO reports_themecell (snapshot_id, theme_id, module_id, weeks, labels, counts, quotes)
SELECT %(snapshot)s, theme_id, module_id, array_agg(week ORDER BY week, label_id),
       array_agg(label_id ORDER BY week, label_id), array_agg(n ORDER BY week, label_id), '{}'
FROM (SELECT theme_id, module_id, week, label_id, count(*) AS n FROM report_effective
      WHERE theme_id IS NOT NULL GROUP BY 1, 2, 3, 4) cell
GROUP BY theme_id, module_id
"""

# Each cell's QUOTES_SHOWN quotable members closest to the theme's centre (ties: lower id first). Ranking all
# of a million comments' members takes a sort of them all (~1 s); instead each cell walks its theme's members
# closest first through the index theme_member_closest (theme, similarity), which has no module: a module
# holding a fair share of the theme finds its three in the first few dozen. The walk stops after
# QUOTE_WALK members, so a module where a large theme has only a few comments costs no walk of the whole
# theme: the cells still short of quotes are ranked among their own members only (_QUOTES_REST_SQL).
QUOTE_WALK = 2000
_QUOTES_SQL = f"""
UPDATE reports_themecell c SET quotes = coalesce((
  SELECT array_agg(top.id ORDER BY top.similarity DESC, top.id) FROM (
    SELECT f.id, m.similarity
    FROM (SELECT feedback_id, similarity FROM classifiers_thememember WHERE theme_id = c.theme_id
          ORDER BY similarity DESC LIMIT %(walk)s) m
    JOIN courses_feedback f ON f.id = m.feedback_id
    WHERE f.course_id = %(course)s AND f.module_id IS NOT DISTINCT FROM c.module_id
      AND f.screening IN {SHOWN_SQL} AND NOT (f.id >= %(floor)s AND f.created_at >= %(today)s)
    ORDER BY m.similarity DESC, f.id LIMIT %(quotes)s
  ) top), '{{}}')
WHERE c.snapshot_id = %(snapshot)s
"""  # noqa: S608 - SHOWN_SQL is a constant of ours; every value is a parameter
_QUOTES_REST_SQL = """
UPDATE reports_themecell c SET quotes = q.ids
FROM (
  SELECT cell_id, array_agg(id ORDER BY rank) AS ids FROM (
    SELECT s.id AS cell_id, e.id,
           row_number() OVER (PARTITION BY s.id ORDER BY e.similarity DESC, e.id) AS rank
    FROM report_effective e
    JOIN reports_themecell s ON s.snapshot_id = %(snapshot)s AND s.theme_id = e.theme_id
      AND coalesce(s.module_id, 0) = coalesce(e.module_id, 0) AND cardinality(s.quotes) < %(quotes)s
    WHERE e.quotable
  ) ranked WHERE rank <= %(quotes)s GROUP BY cell_id
) q
WHERE c.id = q.cell_id
"""


def rebuild_summary(course: Course, schema: LabelSchema, version: ModelVersion | None) -> ReportSnapshot:
    """Recount the course in SQL; concurrent callers wait on the snapshot row and build once."""
    ReportSnapshot.objects.get_or_create(course=course, schema=schema)
    with transaction.atomic():
        snapshot = ReportSnapshot.objects.select_for_update().get(course=course, schema=schema)
        current = fingerprint(course, schema, version)
        if snapshot.built_at and snapshot.fingerprint == current:
            return snapshot  # another request built it while we waited for the lock
        started = time.perf_counter()
        params = {**effective_params(course, schema, version), "snapshot": snapshot.pk, "per_cell": COMMENTS_PER_CELL,
                  "quotes": QUOTES_SHOWN, "walk": QUOTE_WALK}
        # Fast deletes (nothing refers to these rows): one DELETE each, no per-row signals.
        ReportCell.objects.filter(snapshot=snapshot).delete()
        ReportComment.objects.filter(snapshot=snapshot).delete()
        ThemeCell.objects.filter(snapshot=snapshot).delete()
        with connection.cursor() as cur:
            cur.execute(_EFFECTIVE_SQL, params)
            cur.execute(_CELLS_SQL, params)
            cur.execute(_COMMENTS_SQL, params)
            cur.execute(_THEME_CELLS_SQL, params)
            cur.execute(_QUOTES_SQL, params)
            cur.execute(_QUOTES_REST_SQL, params)
            cur.execute("DROP TABLE report_effective")
        snapshot.model_version = version
        snapshot.fingerprint = current
        snapshot.built_at = timezone.now()
        snapshot.build_ms = int((time.perf_counter() - started) * 1000)
        snapshot.save()
    return snapshot


def sweep_stale_summaries() -> int:
    """Rebuild summaries older than REPORT_SUMMARY_MAX_AGE_S; returns how many were rebuilt."""
    cutoff = timezone.now() - timedelta(seconds=settings.REPORT_SUMMARY_MAX_AGE_S)
    rebuilt = 0
    for snapshot in ReportSnapshot.objects.filter(built_at__lt=cutoff).select_related("course", "schema"):
        choice = version_for_reports(snapshot.course, snapshot.schema)
        snapshot.built_at = None  # force: the watermarks cannot see deletions
        snapshot.save(update_fields=["built_at"])
        rebuild_summary(snapshot.course, snapshot.schema, choice.used)
        rebuilt += 1
    return rebuilt
