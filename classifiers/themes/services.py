"""Recomputing a course's themes: a ThemeRun job on the `inference` queue that embeds what is missing, clusters,
names, and matches the new themes to the previous ones so ids (and staff-given names) survive.

The run row is created in the service's transaction and its task queued on commit; the task claims it
(a redelivered message does nothing twice). Embedding is committed chunk by chunk and resumes after a
killed worker (the reaper fails the run; the next run starts where the embeddings stopped). The themes
themselves, and the suggestions of schemas made from them, are written in one transaction at the end: a report
or the annotate queue never sees half a recomputation.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction

from classifiers.ml.embeddings import from_bytes, to_bytes
from classifiers.ml.theme_edits import StaffEdits, keep_staff_edits
from classifiers.ml.themes import Clustering, Matching, ThemeParams, cluster, keywords, match_themes, theme_name
from classifiers.themes.embeddings import course_vectors, current_spec, embed_course
from classifiers.themes.labels import refresh_suggestions
from classifiers.themes.models import ChangeKind, Theme, ThemeChange, ThemeMember, ThemeRun, ThemeStatus
from courses.models import Course, Feedback
from courses.permissions import Action, authorize
from courses.screening import counted_for_course_staff, shown_to_course_staff
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
    """Cluster the course's current vectors and write themes, members and changes (one transaction).

    Starts from the last successful run's state (its k-means centres and their themes), so a little more data
    gives the same themes; the very same input as the last run changes nothing at all."""
    timings = dict(timings or {})
    started = time.perf_counter()
    data = course_vectors(counted_for_course_staff(Feedback.objects.filter(course=run.course)))
    digest = _digest(data.ids, data.vectors)
    timings["load_s"] = time.perf_counter() - started
    last = ThemeRun.objects.filter(course=run.course, status=JobStatus.SUCCEEDED).exclude(pk=run.pk).order_by(
        "-finished_at", "-pk").first()
    if last is not None and last.input_digest == digest and last.micro_centroids is not None:
        return _unchanged(run, last, timings)
    previous, previous_themes = _state(last, data.vectors.shape[1] if data.vectors.ndim == 2 else 0)
    started = time.perf_counter()
    found = cluster(data.vectors, theme_params(), previous=previous, previous_themes=previous_themes)
    found, forced = _keep_staff_edits(run.course, data.ids, data.vectors, found)
    words = _shown_keywords(run.course, data.ids, data.texts, found.labels, len(found.sizes))
    timings["cluster_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        changes, themes = _write(run, data.ids, found, words, forced)
        suggestions = refresh_suggestions(run.course)
        ThemeRun.objects.filter(pk=run.pk).update(
            micro_centroids=to_bytes(found.micro_centroids) if found.micro_centroids is not None else None,
            micro_themes=[themes[t].pk if t >= 0 else None for t in (found.micro_themes if found.micro_themes
                                                                     is not None else [])],
            input_digest=digest)
    timings["write_s"] = time.perf_counter() - started
    other = int((found.labels < 0).sum())
    return {"comments": len(data.ids), "themes": len(found.sizes), "other": other,
            "embedding_model": current_spec().key, "changes": changes, "suggestions": suggestions,
            **{k: round(v, 3) for k, v in timings.items()}}


def _keep_staff_edits(course: Course, ids: list[int], vectors: np.ndarray,
                      found: Clustering) -> tuple[Clustering, dict[int, int]]:
    """Staff merges and splits, kept (classifiers.ml.theme_edits); nothing to do, and no query more, without."""
    merged = Theme.objects.filter(course=course, status=ThemeStatus.MERGED, merged_by_staff=True,
                                  merged_into__status=ThemeStatus.ACTIVE).values_list("merged_into_id", flat=True)
    split = Theme.objects.filter(course=course, status=ThemeStatus.ACTIVE, split_from__isnull=False)
    edits = StaffEdits(frozenset(merged), {t.pk: from_bytes([t.centroid])[0] for t in split.only("pk", "centroid")})
    if not edits or not len(found.sizes):
        return found, {}
    where = dict(ThemeMember.objects.filter(theme__course=course).values_list("feedback_id", "theme_id").iterator(
        chunk_size=10_000))
    former = np.fromiter((where.get(pk, -1) for pk in ids), dtype=np.int64, count=len(ids))
    return keep_staff_edits(vectors, found, former, edits)


def _shown_keywords(course: Course, ids: list[int], texts: list[str], labels: np.ndarray,
                    themes: int) -> list[list[str]]:
    """Keywords from the comments staff may read only (screened clear or released): a held comment counts in
    its theme's size but lends it no word, since a name would show what the screen held back."""
    shown = set(shown_to_course_staff(Feedback.objects.filter(course=course)).values_list("pk", flat=True))
    keep = np.fromiter((pk in shown for pk in ids), dtype=bool, count=len(ids))
    words = keywords([t for t, k in zip(texts, keep, strict=True) if k], labels[keep])
    return words + [[] for _ in range(themes - len(words))]  # themes of held comments only: no keyword


def _digest(ids: list[int], vectors: np.ndarray) -> str:
    digest = hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return digest.hexdigest()


def _state(last: ThemeRun | None, dim: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The last run's k-means centres and their themes (as theme ids, -1 for none), when of this dimension."""
    if last is None or last.micro_centroids is None or not dim:
        return None, None
    centres = from_bytes([bytes(last.micro_centroids)]).reshape(-1, dim) if len(last.micro_centroids) % (
        4 * dim) == 0 else None
    if centres is None or len(last.micro_themes) != len(centres):
        return None, None
    return centres, np.array([-1 if t is None else t for t in last.micro_themes], dtype=np.int64)


def _unchanged(run: ThemeRun, last: ThemeRun, timings: dict[str, float]) -> dict:
    """The input is the last run's: every active theme is kept as it is (same members, ids and names)."""
    with transaction.atomic():
        active = list(Theme.objects.select_for_update().filter(course=run.course, status=ThemeStatus.ACTIVE))
        Theme.objects.filter(pk__in=[t.pk for t in active]).update(last_seen_run=run)
        ThemeChange.objects.bulk_create([ThemeChange(run=run, theme=t, kind=ChangeKind.KEPT, similarity=1.0)
                                         for t in active])
        changes = {kind: len(active) if kind == ChangeKind.KEPT else 0 for kind in ChangeKind.values}
        ThemeRun.objects.filter(pk=run.pk).update(changes=changes, micro_centroids=last.micro_centroids,
                                                  micro_themes=last.micro_themes, input_digest=last.input_digest)
        # The same members, but a theme may have been hidden or shown since: the suggestions follow that too.
        suggestions = refresh_suggestions(run.course)
    stats = {k: last.stats.get(k) for k in ("comments", "themes", "other", "embedding_model")}
    return {**stats, "changes": changes, "suggestions": suggestions, "unchanged_input": True,
            **{k: round(v, 3) for k, v in timings.items()}}


def _write(run: ThemeRun, ids: list[int], found: Clustering, words: list[list[str]],
           forced: dict[int, int] | None = None) -> tuple[dict[str, int], list[Theme]]:
    course = run.course
    # Locked: a staff rename or hide made meanwhile is not overwritten by a stale copy.
    previous = list(Theme.objects.select_for_update().filter(
        course=course, status__in=[ThemeStatus.ACTIVE, ThemeStatus.VANISHED]).order_by("pk"))
    old_centres = from_bytes([t.centroid for t in previous], dim=found.centroids.shape[1])
    matching = match_themes(old_centres, found.centroids, keep_at=KEEP_AT,
                            went_to=_where_members_went(previous, ids, found.labels))
    if forced:
        matching = _with_forced(matching, forced, previous, old_centres, found.centroids)
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
    return summary, themes


def _with_forced(matching: Matching, forced: dict[int, int], previous: list[Theme], old: np.ndarray,
                 new: np.ndarray) -> Matching:
    """`matching` where the staff-edit rules decided a theme's id (new index → theme id) over the centres."""
    index = {theme.pk: o for o, theme in enumerate(previous)}
    pinned = {i: index[t] for i, t in forced.items() if t in index}
    kept = {i: o for i, o in matching.kept.items() if i not in pinned and o not in pinned.values()} | pinned
    similarity = {(i, o): round(float(new[i] @ old[o]), 4) for i, o in kept.items()}
    merged = {o: i for o, i in matching.merged.items() if i in kept and o not in kept.values()}
    taken = set(kept.values())
    return Matching(kept, merged, [i for i in range(len(new)) if i not in kept],
                    [o for o in range(len(old)) if o not in taken and o not in merged], similarity)


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
