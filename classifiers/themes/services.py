"""Recomputing a course's themes: a ThemeRun job on the `inference` queue that embeds what is missing, clusters,
names, and matches the new themes to the previous ones so ids (and staff-given names) survive.

The run row is created in the service's transaction and its task queued on commit; the task claims it
(a redelivered message does nothing twice). Embedding is committed chunk by chunk and resumes after a
killed worker (the reaper fails the run; the next run starts where the embeddings stopped). The themes
themselves are written in one transaction at the end: a report never sees half a recomputation.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction

from classifiers.ml.embeddings import from_bytes, to_bytes
from classifiers.ml.themes import Clustering, ThemeParams, cluster, keywords, match_themes, theme_name
from classifiers.themes.embeddings import course_vectors, current_spec, embed_course
from classifiers.themes.models import ChangeKind, Theme, ThemeChange, ThemeMember, ThemeRun, ThemeStatus
from courses.models import Course, Feedback
from courses.permissions import Action, authorize
from courses.surveys.anonymity import visible_to_staff
from eduplatform.errors import BROKER_ERRORS, BrokerUnavailable, DomainError
from eduplatform.jobs import FINAL_STATUSES, JobStatus, claim_job, finish_job, heartbeat

logger = logging.getLogger(__name__)

KEEP_AT = 0.8  # cosine of old and new centres at or above which a theme keeps its id


def theme_params() -> ThemeParams:
    return ThemeParams(min_size=settings.THEMES_MIN_SIZE)


def start_theme_run(course: Course, *, actor: AbstractBaseUser | None, dispatch: bool = True) -> ThemeRun:
    """Queue a recomputation of `course`'s themes (one at a time per course). `actor=None` is the system."""
    authorize(actor, Action.RECOMPUTE_THEMES, course)
    try:
        with transaction.atomic():
            run = ThemeRun.objects.create(course=course, actor=actor)
            if dispatch:
                transaction.on_commit(lambda: _enqueue(run.pk))
    except IntegrityError as exc:  # the database's one-active-run-per-course constraint
        active = ThemeRun.objects.filter(course=course, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).first()
        raise DomainError(f"themes of {course.code} are being recomputed already (run {active.pk if active else '?'}"
                          f", {active.status if active else 'active'}); wait for it to finish") from exc
    return run


def _enqueue(run_id: int) -> None:
    from classifiers.tasks import run_theme_run_task

    try:
        run_theme_run_task.apply_async((run_id,), retry=False)
    except BROKER_ERRORS as exc:
        finish_job(ThemeRun, run_id, JobStatus.FAILED, error=f"could not queue: {exc}")
        raise BrokerUnavailable(f"theme run {run_id} could not be queued: broker unreachable") from exc


def run_theme_run(run_id: int) -> ThemeRun:
    """The worker's side (also `manage.py themes --inline`): embed the backlog, cluster, match, write."""
    claim_job(ThemeRun, run_id)
    run = ThemeRun.objects.select_related("course").get(pk=run_id)
    if run.status in FINAL_STATUSES:
        return run  # a redelivered message of a finished run
    timings: dict[str, float] = {}
    started = time.perf_counter()
    embedded = embed_course(run.course, on_chunk=lambda done: heartbeat(
        ThemeRun, run_id, progress={"stage": "embedding", "embedded": done}))
    timings["embed_s"] = time.perf_counter() - started
    heartbeat(ThemeRun, run_id, progress={"stage": "clustering", "embedded": embedded})
    stats = recompute_themes(run, timings)
    finish_job(ThemeRun, run_id, JobStatus.SUCCEEDED, stats=stats)
    run.refresh_from_db()
    return run


def recompute_themes(run: ThemeRun, timings: dict[str, float] | None = None) -> dict:
    """Cluster the course's current vectors and write themes, members and changes (one transaction)."""
    timings = dict(timings or {})
    started = time.perf_counter()
    data = course_vectors(visible_to_staff(Feedback.objects.filter(course=run.course)))
    timings["load_s"] = time.perf_counter() - started
    started = time.perf_counter()
    found = cluster(data.vectors, theme_params())
    words = keywords(data.texts, found.labels)
    timings["cluster_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        changes = _write(run, data.ids, found, words)
    timings["write_s"] = time.perf_counter() - started
    other = int((found.labels < 0).sum())
    return {"comments": len(data.ids), "themes": len(found.sizes), "other": other,
            "embedding_model": current_spec().key, "changes": changes,
            **{k: round(v, 3) for k, v in timings.items()}}


def _write(run: ThemeRun, ids: list[int], found: Clustering, words: list[list[str]]) -> dict[str, int]:
    course = run.course
    # Locked: a staff rename or hide made meanwhile is not overwritten by a stale copy.
    previous = list(Theme.objects.select_for_update().filter(
        course=course, status__in=[ThemeStatus.ACTIVE, ThemeStatus.VANISHED]).order_by("pk"))
    old_centres = from_bytes([t.centroid for t in previous], dim=found.centroids.shape[1])
    matching = match_themes(old_centres, found.centroids, keep_at=KEEP_AT,
                            went_to=_where_members_went(previous, ids, found.labels))
    names = _distinct_names(words)
    themes: list[Theme] = []
    for i, size in enumerate(found.sizes):
        fields = {"name": names[i], "keywords": words[i], "centroid": to_bytes(found.centroids[i]), "size": size,
                  "status": ThemeStatus.ACTIVE, "merged_into": None, "last_seen_run": run}
        if i in matching.kept:
            theme = previous[matching.kept[i]]
            for name, value in fields.items():
                setattr(theme, name, value)
            theme.save()
        else:
            theme = Theme.objects.create(course=course, first_seen_run=run, **fields)
        themes.append(theme)
    log = [ThemeChange(run=run, theme=themes[i], kind=ChangeKind.KEPT, similarity=matching.similarity[(i, o)])
           for i, o in matching.kept.items()]
    log += [ThemeChange(run=run, theme=themes[i], kind=ChangeKind.NEW) for i in matching.new]
    for o, i in matching.merged.items():
        Theme.objects.filter(pk=previous[o].pk).update(status=ThemeStatus.MERGED, merged_into=themes[i])
        log.append(ThemeChange(run=run, theme=previous[o], kind=ChangeKind.MERGED, into=themes[i]))
    for o in matching.vanished:
        if previous[o].status == ThemeStatus.ACTIVE:
            Theme.objects.filter(pk=previous[o].pk).update(status=ThemeStatus.VANISHED)
            log.append(ThemeChange(run=run, theme=previous[o], kind=ChangeKind.VANISHED))
    ThemeChange.objects.bulk_create(log)
    _replace_members(course, ids, found, themes)
    counts = Counter(change.kind for change in log)
    summary = {kind: counts.get(kind, 0) for kind in ChangeKind.values}
    ThemeRun.objects.filter(pk=run.pk).update(changes=summary)
    return summary


def _where_members_went(previous: list[Theme], ids: list[int], labels: np.ndarray) -> dict[int, np.ndarray]:
    """Old theme index → the new theme index (or OTHER) of each of its former members still clustered."""
    index = {theme.pk: i for i, theme in enumerate(previous)}
    new_label = dict(zip(ids, labels.tolist(), strict=True))
    went: dict[int, list[int]] = {}
    rows = ThemeMember.objects.filter(theme__in=previous).values_list("theme_id", "feedback_id")
    for theme_id, feedback_id in rows.iterator(chunk_size=10_000):
        if feedback_id in new_label:
            went.setdefault(index[theme_id], []).append(new_label[feedback_id])
    return {i: np.asarray(v, dtype=np.int64) for i, v in went.items()}


def _distinct_names(words: list[list[str]]) -> list[str]:
    """Keyword names, one more keyword where two themes would read the same."""
    names = [theme_name(w) for w in words]
    for i, name in enumerate(names):
        if names.count(name) > 1 and len(words[i]) > 3:
            names[i] = theme_name(words[i], parts=4, max_chars=80)
    return [n[:120] for n in names]


def _replace_members(course: Course, ids: list[int], found: Clustering, themes: list[Theme]) -> None:
    """Every item's theme, in two statements: delete the course's members, insert the new ones from arrays."""
    ThemeMember.objects.filter(theme__course=course).delete()  # a fast delete: nothing refers to members
    keep = np.flatnonzero(found.labels >= 0)
    if not len(keep):
        return
    theme_ids = np.array([t.pk for t in themes], dtype=np.int64)
    sql = f"""
        INSERT INTO {ThemeMember._meta.db_table} (feedback_id, theme_id, similarity)
        SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::float8[])
    """  # noqa: S608 - the table name is ours; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, [np.asarray(ids, dtype=np.int64)[keep].tolist(),
                             theme_ids[found.labels[keep]].tolist(),
                             found.similarity[keep].astype(float).round(6).tolist()])


def run_summary(run: ThemeRun) -> dict:
    """What a command prints and the API returns about a run."""
    stats = run.stats or {}
    return {"run": run.pk, "course": run.course.code, "status": run.status, "comments": stats.get("comments"),
            "themes": stats.get("themes"), "other": stats.get("other"), "changes": run.changes or {},
            "error": run.error or None}
