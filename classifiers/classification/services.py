"""Classifying feedback with the active version: batch runs (chunked tasks), on arrival, and the sweep.

Idempotent by construction: a version predicts an item at most once (unique constraint, conflicts
ignored), and every pass classifies only what has neither a prediction nor a skip from that version,
so a crash, a redelivered task or a restart simply continues.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from classifiers import registry
from classifiers.ml.memory import ModelBudget, process_rss_bytes
from classifiers.ml.serving import (
    ONNX_INT8_FILE,
    Predictor,
    choose_backend,
    files_to_load,
    held_base,
    shared_base,
    small_version_predictor,
)
from classifiers.models import ClassificationRun, ModelVersion, Prediction, PredictionSkip
from classifiers.selectors import serving_version_ids
from courses.models import Course, Feedback
from courses.permissions import Action, authorize
from courses.surveys.anonymity import visible_to_staff
from eduplatform.errors import BROKER_ERRORS, BrokerUnavailable, DomainError
from eduplatform.jobs import ACTIVE_STATUSES, FINAL_STATUSES, JobStatus, claim_job, finish_job, heartbeat

logger = logging.getLogger(__name__)

# Longer than any honest wait in the `inference` queue (a 1,000-chunk backlog ahead takes minutes on a
# few workers), so only runs whose messages are gone are failed by the sweep.
QUEUED_RUN_TIMEOUT_S = 3600
EMPTY_REASON = "no text to classify (empty or whitespace only after redaction)"
MODEL_EVENTS_KEY = "eduplatform:metrics:model_loads"  # host|load, host|eviction → count (eduplatform.metrics)


def _record_model_event(event: str) -> None:
    """Loads and evictions per host, counted where /metrics reads them (hits are the store cache's business)."""
    if event == "hit":
        return
    from eduplatform.telemetry import increment

    try:
        increment(MODEL_EVENTS_KEY, f"{socket.gethostname()}|{event}")
    except BROKER_ERRORS:  # a counter must never fail a classification
        logger.warning("could not count a model %s", event, exc_info=True)


_LOADED: ModelBudget[Predictor] | None = None


def loaded_models() -> ModelBudget[Predictor]:
    """This process's loaded models, within MODEL_MEMORY_BUDGET_BYTES (read when first used)."""
    global _LOADED
    if _LOADED is None or _LOADED.budget_bytes != settings.MODEL_MEMORY_BUDGET_BYTES:
        _LOADED = ModelBudget(settings.MODEL_MEMORY_BUDGET_BYTES, on_event=_record_model_event)
    return _LOADED


def predictor_key(version: ModelVersion) -> tuple[int, bool]:
    return (version.pk, version.use_int8)


def predictor_for(version: ModelVersion) -> Predictor:
    """A loaded model per worker process; the least recently used are dropped beyond the memory budget."""
    return loaded_models().get(predictor_key(version), partial(_load_predictor, version))


def _load_predictor(version: ModelVersion) -> tuple[Predictor, int]:
    registry.drop_deleted_from_cache()
    if version.use_int8 and choose_backend([ONNX_INT8_FILE], use_int8=True) == "onnx" and (
        registry.is_small_version(version.path)
    ):
        return _load_small_predictor(version)
    select = partial(files_to_load, use_int8=version.use_int8)
    with registry.local_copy(version.path, select=select) as directory:  # held until loaded
        predictor = Predictor(
            directory, use_int8=version.use_int8, batch_size=settings.INFERENCE_BATCH_SIZE,
            threads=settings.INFERENCE_THREADS or None,
        )
        names = [p.name for p in directory.iterdir() if p.is_file()]
        file_bytes = sum((directory / name).stat().st_size for name in select(names) if (directory / name).is_file())
    logger.info("loaded %s for serving: %s backend, %d threads", version, predictor.backend, predictor.threads)
    return predictor, file_bytes


def _load_small_predictor(version: ModelVersion) -> tuple[Predictor, int]:
    """A small version's int8 model served from its stored files, its word-embedding matrix and tokenizer
    shared with every version of its base in this process: no rebuilt directory, no 47 MB file per version."""
    from classifiers.ml import artifacts

    with registry.stored_files(version.path) as directory:
        parts = json.loads((directory / registry.META_FILE).read_text())["artifacts"]["base_parts"]
        embedding = artifacts.base_embedding_key(artifacts.delta_metadata(directory))
        base = held_base(parts["digest"], embedding)
        if base is None:  # the first version of this base in the process: checked against its recorded digest
            with registry.base_parts_copy(parts, needed_by=version.path) as base_dir:
                base = shared_base(parts["digest"], base_dir, embedding)
        predictor = small_version_predictor(
            directory, base, batch_size=settings.INFERENCE_BATCH_SIZE, threads=settings.INFERENCE_THREADS or None
        )
        file_bytes = (directory / ONNX_INT8_FILE).stat().st_size
    logger.info("loaded %s for serving: int8 ONNX beside its base's shared embeddings, %d threads", version,
                predictor.threads)
    return predictor, file_bytes


def _predict(version: ModelVersion, texts: list[str]) -> tuple[list, list[bool]]:
    """Predict with the version's loaded model, charging it any memory the run added to the process."""
    predictor = predictor_for(version)
    before = process_rss_bytes()
    result = predictor.predict(texts)
    loaded_models().charge(predictor_key(version), process_rss_bytes() - before)
    return result


def scope_courses(version: ModelVersion, course: Course | None = None) -> QuerySet[Course]:
    """Courses whose predictions come from `version`: its course, or those falling back to it."""
    if version.course_id is not None:
        return Course.objects.filter(pk=version.course_id)
    own = ModelVersion.objects.filter(schema=version.schema, is_active=True, course__isnull=False)
    courses = Course.objects.exclude(pk__in=own.values("course_id"))
    return courses.filter(pk=course.pk) if course is not None else courses


def pending_feedback(version: ModelVersion, *, course: Course | None = None) -> QuerySet[Feedback]:
    """Feedback in the version's scope with neither a prediction nor a skip from it.

    Anonymous survey answers (random ids, see courses.surveys.anonymity) wait until their day is over:
    a prediction's time and id would otherwise date them to the minute."""
    done = Prediction.objects.filter(feedback=OuterRef("pk"), model_version=version)
    skipped = PredictionSkip.objects.filter(feedback=OuterRef("pk"), model_version=version)
    return visible_to_staff(
        Feedback.objects.filter(course__in=scope_courses(version, course)).filter(~Exists(done), ~Exists(skipped))
    )


def chunk_size() -> int:
    return settings.CLASSIFY_CHUNK_SIZE


class QueryTimer:
    """Wall time spent in database queries on this connection (a `connection.execute_wrapper`)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):  # noqa: ANN001, ANN204 - Django's wrapper signature
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def classification_coverage(version: ModelVersion, *, course: Course | None = None) -> dict[str, int]:
    """How much of the version's scope it has covered: comments, classified, skipped (no text), pending."""
    scope = Feedback.objects.filter(course__in=scope_courses(version, course))
    total = scope.count()
    classified = Prediction.objects.filter(model_version=version, feedback__in=scope).count()
    skipped = PredictionSkip.objects.filter(model_version=version, feedback__in=scope).count()
    return {"comments": total, "classified": classified, "skipped": skipped, "pending": total - classified - skipped}


def active_runs(version: ModelVersion, *, course: Course | None = None) -> QuerySet[ClassificationRun]:
    """Queued or running runs of `version` that cover `course` (its own, or scope-wide ones)."""
    runs = ClassificationRun.objects.filter(model_version=version, status__in=ACTIVE_STATUSES)
    return runs.filter(Q(course=course) | Q(course__isnull=True)) if course is not None else runs


@dataclass
class ClassifyResult:
    classified: int = 0
    skipped: int = 0
    truncated: int = 0
    read: int = 0  # pending rows fetched (inserts can be fewer when another delivery got there first)
    model_s: float = 0.0  # tokenising + the model + decoding; the rest of a chunk's time is the database

    def add(self, other: ClassifyResult) -> None:
        self.classified += other.classified
        self.skipped += other.skipped
        self.truncated += other.truncated
        self.read += other.read
        self.model_s += other.model_s


def classify_pending(
    model_version: ModelVersion, *, course: Course | None = None, limit: int | None = None,
    id_range: tuple[int, int] | None = None, feedback_ids: Sequence[int] | None = None,
) -> ClassifyResult:
    """Classify up to `limit` (default: one chunk) pending items, optionally within an id range or a list of ids."""
    qs = pending_feedback(model_version, course=course)
    if id_range is not None:
        qs = qs.filter(pk__gte=id_range[0], pk__lte=id_range[1])
    if feedback_ids is not None:
        qs = qs.filter(pk__in=list(feedback_ids))
    rows = list(qs.order_by("pk").values_list("pk", "redacted_text")[: limit or chunk_size()])
    empty = [pk for pk, text in rows if _blank(text)]
    rows = [(pk, text) for pk, text in rows if not _blank(text)]
    result = ClassifyResult(skipped=len(empty), read=len(empty) + len(rows))
    started = time.perf_counter()
    outputs, truncated = _predict(model_version, [t for _, t in rows]) if rows else ([], [])
    result.model_s = time.perf_counter() - started
    labels = dict(model_version.schema.labels.values_list("name", "pk"))
    with transaction.atomic():
        result.classified = _insert_predictions(model_version, [pk for pk, _ in rows], outputs, truncated, labels)
        if empty:
            PredictionSkip.objects.bulk_create(
                [PredictionSkip(feedback_id=pk, model_version=model_version, reason=EMPTY_REASON) for pk in empty],
                ignore_conflicts=True,
            )
    result.truncated = sum(truncated)
    return result


# str.strip() keeps zero-width and BOM characters, which the tokenizer drops: text made only of them is blank.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def _blank(text: str) -> bool:
    return not text.strip().strip(_INVISIBLE).strip()


def _insert_predictions(
    version: ModelVersion, feedback_ids: list[int], outputs: list, truncated: list[bool], labels: dict[str, int],
) -> int:
    """One INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING: a single round trip and no model
    instances per row (bulk_create spent more time building objects than the database spent inserting).
    Returns the rows actually inserted, so a concurrent duplicate is not counted twice."""
    if not feedback_ids:
        return 0
    table = Prediction._meta.db_table
    sql = f"""
        INSERT INTO {table} (feedback_id, schema_id, model_version_id, label_id, label_names, scores,
                             confidence, truncated, created_at)
        SELECT u.f, %s, %s, u.l, u.n::jsonb, u.s::jsonb, u.c, u.t, now()
        FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::float8[], %s::bool[])
             AS u(f, l, n, s, c, t)
        ON CONFLICT (feedback_id, model_version_id) DO NOTHING
    """  # noqa: S608 - the table name is ours; every value is a parameter
    params = [
        version.schema_id, version.pk, feedback_ids, [labels.get(out.labels[0]) for out in outputs],
        [json.dumps(out.labels) for out in outputs], [json.dumps(out.scores) for out in outputs],
        [out.confidence for out in outputs], list(truncated),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _chunks(ids: list[int]) -> list[tuple[int, int]]:
    size = chunk_size()
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def start_classification_run(
    model_version: ModelVersion, *, course: Course | None = None, actor: AbstractBaseUser | None,
    dispatch: bool = True,
) -> ClassificationRun:
    """Cut the version's backlog into id-range chunks, one `inference` task each, queued on commit.

    The scope is the version's course; an institution-wide version classifies `course` only when one
    is given, else every course falling back to it (administrators only). `actor=None` is the system.
    """
    authorize(actor, Action.CLASSIFY, model_version.course if model_version.course_id else course)
    if not model_version.is_active:
        raise DomainError(f"{model_version} is not active; activate it before classifying with it")
    ids = list(pending_feedback(model_version, course=course).order_by("pk").values_list("pk", flat=True))
    chunks = _chunks(ids)
    with transaction.atomic():
        run = ClassificationRun.objects.create(
            model_version=model_version, course=course, actor=actor, chunks_total=len(chunks),
            progress={"pending": len(ids)},
        )
        if not chunks:
            finish_job(ClassificationRun, run.pk, JobStatus.SUCCEEDED)
        elif dispatch:
            transaction.on_commit(lambda: _enqueue_chunks(run.pk, chunks))
    run.refresh_from_db()
    return run


def _enqueue_chunks(run_id: int, chunks: list[tuple[int, int]]) -> None:
    from classifiers.tasks import classify_batch_task

    try:
        for lo, hi in chunks:
            classify_batch_task.apply_async((run_id, lo, hi), retry=False)
    except BROKER_ERRORS as exc:  # the sweep classifies the backlog later
        finish_job(ClassificationRun, run_id, JobStatus.FAILED, error=f"could not queue: {exc}")
        raise BrokerUnavailable(f"classification run {run_id} could not be queued: broker unreachable") from exc


def run_classification_chunk(run_id: int, lo: int, hi: int) -> ClassificationRun:
    """One chunk of a run (worker side); running it twice is harmless."""
    claim_job(ClassificationRun, run_id)  # the first chunk claims; the others find it running
    run = ClassificationRun.objects.select_related("model_version__schema", "course").get(pk=run_id)
    if run.status in FINAL_STATUSES:
        return run
    total, timer, started = ClassifyResult(), QueryTimer(), time.perf_counter()
    with connection.execute_wrapper(timer):
        while True:
            part = classify_pending(run.model_version, course=run.course, id_range=(lo, hi))
            total.add(part)
            heartbeat(ClassificationRun, run_id)
            if part.read < chunk_size():
                break
        # Where the time goes, summed over chunks (and workers) in the run's progress: bench/inference.py
        # reports the database share from it. jsonb arithmetic in one UPDATE, so concurrent chunks add up.
        timings = {"wall_s": time.perf_counter() - started, "db_s": timer.seconds, "model_s": total.model_s,
                   "truncated": total.truncated}
        ClassificationRun.objects.filter(pk=run_id).update(
            classified=F("classified") + total.classified, skipped=F("skipped") + total.skipped,
            chunks_done=F("chunks_done") + 1, progress=_add_to_progress(timings),
        )
    run.refresh_from_db()
    if run.chunks_done >= run.chunks_total:
        finish_job(ClassificationRun, run_id, JobStatus.SUCCEEDED)
        run.refresh_from_db()
    return run


def _add_to_progress(amounts: dict[str, float]) -> RawSQL:
    terms = ", ".join(f"'{key}', COALESCE((progress->>'{key}')::float8, 0) + %s" for key in amounts)
    return RawSQL(f"progress || jsonb_build_object({terms})", list(amounts.values()))  # noqa: S611 - keys are ours


def run_classification_inline(run: ClassificationRun) -> ClassificationRun:
    """All chunks of a run in this process (manage.py classify --inline)."""
    ids = list(pending_feedback(run.model_version, course=run.course).order_by("pk").values_list("pk", flat=True))
    for lo, hi in _chunks(ids) or [(0, 0)]:
        run = run_classification_chunk(run.pk, lo, hi)
    finish_job(ClassificationRun, run.pk, JobStatus.SUCCEEDED)
    run.refresh_from_db()
    return run


# course id → (read at, ids of the versions serving it), per process: see `versions_serving_arrivals`.
_serving_on_arrival: dict[int, tuple[float, list[int]]] = {}
_SERVING_MAX_CACHED = 5000


def versions_serving_arrivals(course_id: int) -> list[int]:
    """`serving_version_ids`, kept CLASSIFY_SERVING_CACHE_S per process: every survey submission asks it, and
    its query was the largest cost of an identified submission left (README "Benchmarks").

    A stale answer delays, never misclassifies: a version that stopped serving is skipped by the drain (it
    drains active versions only), and comments a newly activated version misses here are classified by its
    activation run or the sweep. Activations, rollbacks and deletions in this process apply at once."""
    ttl, now = settings.CLASSIFY_SERVING_CACHE_S, time.monotonic()
    cached = _serving_on_arrival.get(course_id)
    if ttl > 0 and cached is not None and now - cached[0] < ttl:
        return cached[1]
    ids = serving_version_ids(course_id)
    if ttl > 0:
        if len(_serving_on_arrival) >= _SERVING_MAX_CACHED:
            _serving_on_arrival.clear()
        _serving_on_arrival[course_id] = (now, ids)
    return ids


def forget_serving_versions(*_: object, **__: object) -> None:
    """Ask the database again on the next arrival (after a change of which versions serve, in this process)."""
    _serving_on_arrival.clear()


def classify_new_feedback(course_id: int, feedback_ids: Sequence[int]) -> None:
    """On arrival: mark the course's active versions due (batched, the default: classification.arrivals), or
    queue a task per version and chunk (CLASSIFY_ON_ARRIVAL="per-comment", the path before batching)."""
    from classifiers.classification.arrivals import note_arrivals

    version_ids = versions_serving_arrivals(course_id)
    ids = list(feedback_ids)
    try:
        if settings.CLASSIFY_ON_ARRIVAL == "batched":
            note_arrivals(version_ids, ids)
        else:
            _queue_per_comment(version_ids, ids)
    except BROKER_ERRORS:  # the items are saved; the periodic sweep classifies them later
        logger.warning("broker unreachable: %d new items wait for the sweep", len(ids), exc_info=True)


def _queue_per_comment(version_ids: list[int], ids: list[int]) -> None:
    from classifiers.tasks import classify_feedback_task

    size = chunk_size()
    for version_id in version_ids:
        for i in range(0, len(ids), size):
            classify_feedback_task.apply_async((version_id, ids[i : i + size]), retry=False)


def sweep_unclassified() -> dict[str, int]:
    """Start a run for every active version with a backlog and no run in progress (Celery beat).

    A run still queued after QUEUED_RUN_TIMEOUT_S lost its messages (e.g. Redis restarted without
    persistence): it is failed, so it no longer blocks its version's backlog.
    """
    now = timezone.now()
    lost = ClassificationRun.objects.filter(
        status=JobStatus.QUEUED, created_at__lt=now - timedelta(seconds=QUEUED_RUN_TIMEOUT_S)
    ).update(status=JobStatus.FAILED, finished_at=now, error=(
        f"no worker started it within {QUEUED_RUN_TIMEOUT_S // 60} minutes (its tasks were lost); "
        "the sweep queued the backlog again"))
    started = 0
    for version in ModelVersion.objects.filter(is_active=True).select_related("schema", "course"):
        busy = ClassificationRun.objects.filter(model_version=version, status__in=ACTIVE_STATUSES).exists()
        if not busy and pending_feedback(version).exists():
            try:
                start_classification_run(version, actor=None)
            except BrokerUnavailable:
                logger.warning("sweep: broker unreachable; %s waits for the next sweep", version)
                continue
            started += 1
    return {"runs_started": started, "lost_runs_failed": lost}
