"""Embedding feedback with the base encoder: in chunks (one commit each), on arrival, and the periodic sweep.

Resumable by construction, like classification: every pass selects only items whose vector is missing or
outdated (another embedding model, or a redacted text edited since), and each chunk is committed on its
own, so a killed worker loses at most the chunk it was in and the next pass continues after the last one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import MD5
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from classifiers.ml.embeddings import EncoderSpec, SentenceEncoder, from_bytes, to_bytes
from classifiers.themes.models import FeedbackEmbedding, ThemeRun
from courses.models import Course, Feedback
from eduplatform.errors import BROKER_ERRORS

logger = logging.getLogger(__name__)

_ENCODERS: dict[str, SentenceEncoder] = {}


def current_spec() -> EncoderSpec:
    """The embedding model every stored vector is compared with (settings: BASE_MODEL, EMBEDDING_*)."""
    return EncoderSpec(str(settings.BASE_MODEL), settings.EMBEDDING_MAX_LENGTH, settings.EMBEDDING_BACKEND)


def encoder_for(spec: EncoderSpec) -> SentenceEncoder:
    """One loaded encoder per worker process (ONNX exports are cached under MODEL_STORE/embeddings)."""
    if spec.key not in _ENCODERS:
        _ENCODERS.clear()  # a new key replaces the old model: only one is ever needed at a time
        _ENCODERS[spec.key] = SentenceEncoder(
            spec,
            cache_dir=Path(settings.MODEL_STORE) / "embeddings",
            batch_size=settings.INFERENCE_BATCH_SIZE,
            threads=settings.INFERENCE_THREADS or None,
        )
        logger.info("loaded the embedding model %s", spec.key)
    return _ENCODERS[spec.key]


def text_md5(text: str) -> str:
    """What Postgres' md5(redacted_text) gives for the same text (UTF-8): no hash of our own to keep in step."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def pending_embeddings(course: Course | None = None, *, key: str | None = None) -> QuerySet[Feedback]:
    """Items (of `course`, or of every course) without a vector of the current model and their current text."""
    key = key or current_spec().key
    current = FeedbackEmbedding.objects.filter(
        feedback=OuterRef("pk"), model_key=key, text_md5=MD5(OuterRef("redacted_text"))
    )
    rows = Feedback.objects.filter(course=course) if course is not None else Feedback.objects.all()
    return rows.filter(~Exists(current))


@dataclass
class EmbedResult:
    embedded: int = 0
    read: int = 0  # pending rows fetched
    model_s: float = 0.0
    last_id: int = 0  # the highest id fetched: the next chunk of a pass starts after it


def embed_pending(
    course: Course | None = None, *, limit: int | None = None, feedback_ids: Sequence[int] | None = None, after: int = 0
) -> EmbedResult:
    """Embed up to `limit` (default: one chunk) pending items with an id above `after`, oldest id first, and
    commit them."""
    spec = current_spec()
    qs = pending_embeddings(course, key=spec.key)
    if feedback_ids is not None:
        qs = qs.filter(pk__in=list(feedback_ids))
    if after:
        qs = qs.filter(pk__gt=after)
    rows = list(qs.order_by("pk").values_list("pk", "redacted_text")[: limit or settings.EMBED_CHUNK_SIZE])
    result = EmbedResult(read=len(rows), last_id=rows[-1][0] if rows else after)
    if not rows:
        return result
    started = time.perf_counter()
    # Identical texts ("none", "nothing", "good") are embedded once per chunk.
    distinct = list(dict.fromkeys(text for _, text in rows))
    vectors = dict(zip(distinct, encoder_for(spec).encode(distinct), strict=True))
    result.model_s = time.perf_counter() - started
    with transaction.atomic():  # no model work inside: the transaction only writes
        result.embedded = _upsert(spec.key, [pk for pk, _ in rows], [text for _, text in rows], vectors)
    return result


def _upsert(key: str, ids: list[int], texts: list[str], vectors: dict[str, np.ndarray]) -> int:
    """One INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE: a single round trip per chunk."""
    table = FeedbackEmbedding._meta.db_table
    sql = f"""
        INSERT INTO {table} (feedback_id, model_key, text_md5, vector)
        SELECT u.f, %s, u.m, u.v FROM unnest(%s::bigint[], %s::text[], %s::bytea[]) AS u(f, m, v)
        ON CONFLICT (feedback_id) DO UPDATE
        SET model_key = EXCLUDED.model_key, text_md5 = EXCLUDED.text_md5, vector = EXCLUDED.vector
    """  # noqa: S608 - the table name is ours; every value is a parameter
    params = [key, ids, [text_md5(t) for t in texts], [to_bytes(vectors[t]) for t in texts]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def embed_course(course: Course, *, budget_s: float | None = None, on_chunk=None) -> int:  # noqa: ANN001
    """Embed the course's backlog chunk by chunk (each committed) until none is left or `budget_s` ran out;
    `on_chunk(done)` after each chunk (a heartbeat). Returns how many were embedded.

    Each chunk starts after the last id of the one before: without that, chunk i re-checked the i thousand
    items already done (their md5 and vector lookup), quadratic work over a large backlog. An item that turns
    pending behind the pass (its text edited meanwhile) is left to the next pass or the sweep."""
    started, done, after = time.monotonic(), 0, 0
    while True:
        part = embed_pending(course, after=after)
        after = part.last_id
        done += part.embedded
        if on_chunk is not None:
            on_chunk(done)
        if part.read < settings.EMBED_CHUNK_SIZE:
            return done
        if budget_s is not None and time.monotonic() - started > budget_s:
            return done


@dataclass(frozen=True)
class CourseVectors:
    ids: list[int]
    texts: list[str]
    vectors: np.ndarray  # (n, dim) float32 unit rows, in id order


def course_vectors(rows: QuerySet[Feedback]) -> CourseVectors:
    """The current vectors of `rows` (missing or outdated ones left out), ordered by id: the same data gives
    the same order, hence the same themes."""
    key = current_spec().key
    found = (
        rows.filter(embedding__model_key=key, embedding__text_md5=MD5("redacted_text"))
        .order_by("pk")
        .values_list("pk", "redacted_text", "embedding__vector")
    )
    ids, texts, blobs = [], [], []
    for pk, text, blob in found.iterator(chunk_size=5000):
        ids.append(pk)
        texts.append(text)
        blobs.append(blob)
    return CourseVectors(ids, texts, from_bytes(blobs))


# --- On arrival and the sweep ----------------------------------------------------------------------------


# course id -> (read at, themes in use). Per process: the answer changes once per course (its first
# recomputation) but was asked by every survey submission, a query each at the end-of-term peak.
_in_use: dict[int, tuple[float, bool]] = {}
_IN_USE_MAX_CACHED = 10_000


def themes_in_use(course_id: int) -> bool:
    """Courses whose themes were computed once keep their embeddings current; others are embedded by their
    first recomputation (no model work for courses nobody asked themes of).

    Kept THEMES_IN_USE_CACHE_S per process: a first run saved in this process applies at once, in others
    within the delay (the sweep embeds what arrived meanwhile)."""
    ttl, now = settings.THEMES_IN_USE_CACHE_S, time.monotonic()
    cached = _in_use.get(course_id)
    if ttl > 0 and cached is not None and now - cached[0] < ttl:
        return cached[1]
    in_use = ThemeRun.objects.filter(course_id=course_id).exists()
    if ttl > 0:
        if len(_in_use) >= _IN_USE_MAX_CACHED:
            _in_use.clear()
        _in_use[course_id] = (now, in_use)
    return in_use


@receiver([post_save, post_delete], sender=ThemeRun, dispatch_uid="themes.forget_in_use")
def forget_in_use(sender: type[ThemeRun], instance: ThemeRun, **_: object) -> None:
    _in_use.pop(instance.course_id, None)


def embed_new_feedback(course_id: int, feedback_ids: Sequence[int]) -> None:
    """On arrival: queue the new items on the `inference` queue (the sweep catches what the broker missed)."""
    from classifiers.tasks import embed_feedback_task

    if not themes_in_use(course_id):
        return
    ids, size = list(feedback_ids), settings.EMBED_CHUNK_SIZE
    try:
        for i in range(0, len(ids), size):
            embed_feedback_task.apply_async((course_id, ids[i : i + size]), retry=False)
    except BROKER_ERRORS:
        logger.warning("broker unreachable: %d new items wait for the embedding sweep", len(ids), exc_info=True)


def sweep_unembedded() -> dict[str, int]:
    """Queue a resumable embedding task for every course with themes and a backlog (Celery beat)."""
    from classifiers.tasks import embed_course_task

    key, queued = current_spec().key, 0
    for course in Course.objects.filter(Exists(ThemeRun.objects.filter(course=OuterRef("pk")))).only("pk", "code"):
        if not pending_embeddings(course, key=key).exists():
            continue
        try:
            embed_course_task.apply_async((course.pk,), retry=False)
        except BROKER_ERRORS:
            logger.warning("sweep: broker unreachable; %s waits for the next sweep", course.code)
            break
        queued += 1
    return {"courses_queued": queued}
