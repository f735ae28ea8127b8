"""Find similar comments: the nearest comments to one item, for labelling near-duplicates in one step.

The rule is here, not in the annotate view: only `user`'s annotate courses; only comments of the item's own
course; only what course staff may read (courses.screening: no held, pending or removed comment, no anonymous
answer of today) and what is still in `user`'s queue for the schema (not yet labelled by them). Similarity
is the cosine of the stored unit vectors (FeedbackEmbedding, float32 bytes), computed with numpy over the
course's current vectors: one query and one matrix product, fine up to about 100,000 comments a course
(README, "Find similar comments", has the measured time); larger courses would want an index (pgvector).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import MD5

from classifiers.ml.embeddings import from_bytes
from classifiers.models import Annotation, AnnotationSource, LabelSchema
from classifiers.themes.embeddings import current_spec
from courses.models import Course, Feedback
from courses.permissions import Action, authorize
from courses.screening import shown_to_course_staff
from eduplatform.errors import DomainError

SIMILAR_SHOWN = 10  # rows a person can read before ticking them: more would be skimmed, not seen
SIMILAR_MIN = 0.6  # cosine below which comments are about something else (all-MiniLM-L6-v2 paraphrases: > 0.7)


@dataclass(frozen=True)
class SimilarComment:
    feedback: Feedback
    similarity: float


def similar_candidates(schema: LabelSchema, course: Course, *, user: AbstractBaseUser) -> QuerySet[Feedback]:
    """The course's comments `user` may see and has not labelled under `schema`: their annotate queue."""
    labelled = Annotation.objects.filter(
        feedback=OuterRef("pk"), schema=schema, annotator=user, source=AnnotationSource.HUMAN, is_current=True
    )
    return shown_to_course_staff(Feedback.objects.filter(course=course)).filter(~Exists(labelled))


def similar_comments(
    feedback_id: int,
    schema: LabelSchema,
    *,
    course: Course,
    user: AbstractBaseUser,
    limit: int = SIMILAR_SHOWN,
    minimum: float = SIMILAR_MIN,
) -> list[SimilarComment]:
    """Up to `limit` comments of `course` nearest to item `feedback_id` (at least `minimum` cosine), nearest
    first. Empty when the item has no current vector yet (themes never computed, or its text just changed)."""
    authorize(user, Action.ANNOTATE, course)
    if schema.course_id not in (None, course.pk):
        raise DomainError("the schema belongs to another course")  # callers look the schema up in the course
    key = current_spec().key
    # The item itself must be one `user` may see in this course: an id of another course finds nothing.
    own = (
        _current_vectors(shown_to_course_staff(Feedback.objects.filter(course=course)), key)
        .filter(pk=feedback_id)
        .values_list("embedding__vector", flat=True)
        .first()
    )
    if own is None:
        return []
    rows = _current_vectors(similar_candidates(schema, course, user=user).exclude(pk=feedback_id), key)
    ids, blobs = _fetch_binary(rows.order_by().values_list("pk", "embedding__vector"))
    if not ids:
        return []
    scores = from_bytes(blobs) @ from_bytes([own])[0]
    order = nearest(scores, limit=limit, minimum=minimum)
    found = Feedback.objects.select_related("module").in_bulk([ids[i] for i in order])
    return [SimilarComment(found[ids[i]], float(scores[i])) for i in order if ids[i] in found]


def _current_vectors(rows: QuerySet[Feedback], key: str) -> QuerySet[Feedback]:
    """`rows` that have a vector of the current model and of their current text (as themes use them)."""
    return rows.filter(embedding__model_key=key, embedding__text_md5=MD5("redacted_text"))


def _fetch_binary(rows: QuerySet) -> tuple[list[int], list[bytes]]:
    """(ids, vectors) of a values_list("pk", "embedding__vector") query in Postgres' binary format: Django's
    client-side cursor receives bytea as hex text, twice the bytes and a parse per row (~2x slower at 100,000)."""
    sql, params = rows.query.sql_with_params()
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        found = cursor.fetchall()
    return [pk for pk, _ in found], [blob for _, blob in found]


def nearest(scores: np.ndarray, *, limit: int, minimum: float) -> list[int]:
    """Indices of the `limit` highest scores at or above `minimum`, highest first (ties: lower index)."""
    if not len(scores) or limit <= 0:
        return []
    top = (
        np.argpartition(-scores, min(limit, len(scores)) - 1)[:limit] if len(scores) > limit else np.arange(len(scores))
    )
    top = top[scores[top] >= minimum]
    return sorted(top.tolist(), key=lambda i: (-scores[i], i))
