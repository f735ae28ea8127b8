"""Annotate benchmark: the save-and-next round trip with 100,000 feedback rows in the course.

Each request is the page's real save: POST /admin/.../annotate/save/ through Django's full stack
(sessions, auth, CSRF-exempt test client, middleware), recording a label and returning the next item.
Measured for each queue order; the baseline, in the same run, is uncertainty-first with the ranking
recomputed on every request (no cache), which is what a naive implementation would do.

Usage: .venv/bin/python bench/annotate.py [--rows 100000] [--saves 150]. Last line: JSON with rows,
p50_ms, p95_ms (the worst order's) and per-order figures. The benchmark course is deleted afterwards.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import setup  # noqa: E402


def build_course(rows: int):  # noqa: ANN201
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from classifiers.models import LabelSchema, ModelVersion, Prediction
    from courses.models import Course, CourseMembership, Feedback, Module, Role

    course = Course.objects.create(code=f"BENCH-ANNOTATE-{int(time.time())}", title="Annotate benchmark")
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    labels = list(schema.labels.all())
    modules = Module.objects.bulk_create(Module(course=course, title=f"Week {i + 1}", position=i) for i in range(10))
    rng, now = random.Random(7), timezone.now()
    feedback = Feedback.objects.bulk_create(
        (Feedback(course=course, module=modules[i % 10], source="import", original_text=f"comment {i} labs pace",
                  redacted_text=f"comment {i} labs pace", submitted_at=now - timedelta(minutes=i),
                  screening="clear")  # written past the screen: what it says of these texts
         for i in range(rows)), batch_size=5000)
    version = ModelVersion.objects.create(schema=schema, course=course, number=1, path="bench", base_model="bench",
                                          label_names=[lb.name for lb in labels], is_active=True)

    def prediction(fb):  # noqa: ANN001, ANN202
        raw = [rng.random() for _ in labels]
        scores = {lb.name: p / sum(raw) for lb, p in zip(labels, raw, strict=True)}
        top = max(scores, key=scores.get)
        return Prediction(feedback=fb, schema=schema, model_version=version, label=labels[[lb.name for lb in labels]
                          .index(top)], label_names=[top], scores=scores, confidence=scores[top])

    Prediction.objects.bulk_create((prediction(fb) for fb in feedback), batch_size=5000)
    user = get_user_model().objects.create_user(f"bench-annotator-{course.pk}", password=None, is_staff=True)
    CourseMembership.objects.create(user=user, course=course, role=Role.ANNOTATOR)
    return course, schema, labels, user


def measure(client, url: str, labels, *, order: str, saves: int, clear_cache: bool = False) -> list[float]:  # noqa: ANN001
    from django.core.cache import cache

    from classifiers.labelling import ordering as queue
    times: list[float] = []
    assert client.get(f"{url}?order={order}").status_code == 200
    held = [item["id"] for item in client.get(f"{url}items/?order={order}").json()["items"]]
    for i in range(saves):
        if clear_cache:
            cache.clear()  # this checkout's own cache DB (CACHE_URL): forces the ranking to be recomputed
            queue._LOCAL_RANKINGS.clear()
        current = held.pop(0)
        body = {"feedback": current, "labels": [labels[i % len(labels)].pk], "order": order, "need": 1,
                "exclude": held}
        start = time.perf_counter()
        response = client.post(f"{url}save/", json.dumps(body), content_type="application/json")
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content
        held += [item["id"] for item in response.json()["next"]]
    return times


def time_bulk_label(course, schema, label, user) -> float:  # noqa: ANN001
    """"Label selected as …" over the whole course (what "Select all" + the action does), in seconds."""
    from classifiers.labelling.bulk import label_items
    from courses.models import Feedback

    start = time.perf_counter()
    label_items(Feedback.objects.filter(course=course), schema, [label], actor=user)
    return round(time.perf_counter() - start, 1)


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"n": len(times), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1), "max_ms": round(ordered[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--saves", type=int, default=150)
    args = parser.parse_args()
    setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    built = time.perf_counter()
    course, schema, labels, user = build_course(args.rows)
    build_s = time.perf_counter() - built
    try:
        client = Client()
        client.force_login(user)
        url = reverse("admin:classifiers_annotate", args=[schema.pk, course.pk])
        results = {order: summary(measure(client, url, labels, order=order, saves=args.saves))
                   for order in ("newest", "uncertain", "random")}
        baseline = summary(measure(client, url, labels, order="uncertain", saves=10, clear_cache=True))
        bulk_s = time_bulk_label(course, schema, labels[0], user)
    finally:
        course.delete()
        user.delete()
        connection.close()
    worst = max(results.values(), key=lambda r: r["p95_ms"])
    print(json.dumps({
        "bench": "annotate", "rows": args.rows, "build_s": round(build_s, 1), "p50_ms": worst["p50_ms"],
        "p95_ms": worst["p95_ms"], "orders": results, "baseline_uncached_uncertain": baseline,
        "bulk_label_all_s": bulk_s,
        "speedup_vs_uncached_p50": round(baseline["p50_ms"] / results["uncertain"]["p50_ms"], 1),
        "target_p95_ms": 100, "meets_target": worst["p95_ms"] < 100, "load_avg_1m": round(os.getloadavg()[0], 1),
    }))


if __name__ == "__main__":
    main()
