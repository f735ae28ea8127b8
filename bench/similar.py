"""Find-similar benchmark: the annotate view's "similar comments" over one course of N stored embeddings.

Usage (alone on the machine):
    .venv/bin/python bench/similar.py [--rows 100000] [--queries 20] [--keep]

N comments (groups of near-duplicates around random topics, screened clear) and their 384-dimensional float32
vectors are written straight to Postgres; then `similar_comments` (the selector the endpoint calls: the
visibility and queue filters, one query for the vectors, numpy cosine, top 10) runs for --queries items as
an annotator would, warm after the first. Reports p50/p95/max wall time of the selector, and the share of one
call spent in the query (fetching N vectors) versus numpy. Last line: JSON. The course is deleted unless --keep.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import setup  # noqa: E402

COURSE = "BENCH-SIMILAR"
DIM = 384
CHUNK = 20_000


def build(rows: int, seed: int = 7):  # noqa: ANN201 - (course, user, schema)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from classifiers.ml.embeddings import to_bytes
    from classifiers.themes.embeddings import current_spec, text_md5
    from courses.models import Course, CourseMembership, Role
    from courses.services import create_course

    Course.objects.filter(code=COURSE).delete()
    course = create_course(code=COURSE, title="Similar comments benchmark", actor=None)
    user, _ = get_user_model().objects.get_or_create(username="bench-similar")
    CourseMembership.objects.get_or_create(course=course, user=user, defaults={"role": Role.ANNOTATOR})
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(rows // 20 + 1, DIM)).astype(np.float32)
    key, now = current_spec().key, timezone.now()
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        texts = [f"comment {start + i} about topic {(start + i) // 20}" for i in range(n)]
        topic = np.arange(start, start + n) // 20
        vectors = topics[topic] + 0.3 * rng.normal(size=(n, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO courses_feedback (course_id, source, original_text, redacted_text, language, submitted_at,"
                " split, text_was_cut, created_at, screening, screening_reasons, screened_with)"
                " SELECT %s, 'import', t, t, '', %s, '', false, %s, 'clear', '[]', '' FROM unnest(%s::text[]) AS t"
                " RETURNING id",
                [course.pk, now, now, texts],
            )
            ids = [r[0] for r in cursor.fetchall()]
            cursor.execute(
                "INSERT INTO classifiers_feedbackembedding (feedback_id, model_key, text_md5, vector)"
                " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bytea[])",
                [ids, [key] * n, [text_md5(t) for t in texts], [to_bytes(v) for v in vectors]],
            )
    with connection.cursor() as cursor:  # what autovacuum does after a large import
        cursor.execute("ANALYZE courses_feedback; ANALYZE classifiers_feedbackembedding")
    return course, user, course.schemas.get(name="sentiment")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    setup()
    from classifiers.themes import similar
    from courses.models import Course, Feedback

    started = time.perf_counter()
    course, user, schema = build(args.rows)
    build_s = time.perf_counter() - started
    ids = list(Feedback.objects.filter(course=course).order_by("?").values_list("pk", flat=True)[: args.queries])
    times, found = [], 0
    try:
        for pk in ids:
            t0 = time.perf_counter()
            found += len(similar.similar_comments(pk, schema, course=course, user=user))
            times.append(time.perf_counter() - t0)
        # One call taken apart: the numpy part alone, on the same matrix.
        matrix = np.random.default_rng(0).normal(size=(args.rows, DIM)).astype(np.float32)
        t0 = time.perf_counter()
        scores = matrix @ matrix[0]
        similar.nearest(scores, limit=similar.SIMILAR_SHOWN, minimum=-1.0)
        numpy_s = time.perf_counter() - t0
    finally:
        if not args.keep:
            Course.objects.filter(pk=course.pk).delete()
    times.sort()
    result = {
        "rows": args.rows,
        "queries": len(times),
        "build_s": round(build_s, 1),
        "p50_s": round(statistics.median(times), 3),
        "p95_s": round(times[int(0.95 * (len(times) - 1))], 3),
        "max_s": round(times[-1], 3),
        "numpy_s": round(numpy_s, 4),
        "mean_found": round(found / len(times), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
