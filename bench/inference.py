"""Inference benchmark: the product's batch classification against a plain `transformers.pipeline`.

Usage (alone on the machine: another benchmark or test run would distort the figures):
    .venv/bin/python bench/inference.py [--model DIR] [--rows 4000]
    .venv/bin/python bench/inference.py --rows 100000 --workers 2

The model is MiniLM fine-tuned on dair-ai emotion: --model DIR, else var/bench-emotion-model when it
exists (`bench/training.py --save-model var/bench-emotion-model` leaves it there), else a quick
fine-tune of BASE_MODEL saved under var/ (reused by later runs). It is registered as the active version of a
benchmark course the way training registers one (a small version: a weight delta against BASE_MODEL's shared
parts + the int8 ONNX, after the export and the validation check), and read back through registry.local_copy.

Default mode, in one run: (a) the product path end to end — start_classification_run and the chunks the
`inference` task runs, from reading the feedback rows in Postgres to writing Prediction rows — over the
test split plus more emotion rows, with the ONNX file the version serves (`texts_per_s`) and, for the
record, with the other backend (`int8_speed_ratio`, `torch_speed_ratio`: both against the pipeline; a small
version stores no fp32 ONNX, torch is what serves it when its int8 check fails);
(b) `pipeline("text-classification", batch_size=64)` over the same texts; (c) fp32 ONNX vs torch argmax
agreement and (d) the int8 accuracy delta, both on the test split.
--workers N: N real Celery worker processes (one inference thread each) classify --rows stored comments
through the batch task on the `inference` queue. Last line: JSON. The course is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402
from _emotion_model import TRAINED_MODEL, quick_fine_tune, read_split, register, test_split_checks  # noqa: E402

COURSE = "BENCH-INFERENCE"
PIPELINE_BATCH = 64


def make_course(texts: list[str]):  # noqa: ANN201 - Course
    from courses.models import Course, Feedback, FeedbackSource
    from courses.services import get_or_create_course, redact

    Course.objects.filter(code=COURSE).delete()
    course, _ = get_or_create_course(COURSE, actor=None, title="Benchmark: classifying dair-ai emotion")
    # Stored directly (not through ingest): loading is not what is measured, and it must not be announced.
    Feedback.objects.bulk_create(
        [Feedback(course=course, source=FeedbackSource.IMPORT, original_text=t, redacted_text=redact(t),
                  submitted_at=course.created_at, screening="clear") for t in texts],
        batch_size=5000,
    )
    return course


def product_inline(version, course) -> dict:  # noqa: ANN001
    """(a) What one `inference` worker does, in this process, timed from the first query to the last insert."""
    from django.db import connection

    from classifiers.classification.services import (
        QueryTimer,
        predictor_for,
        run_classification_inline,
        start_classification_run,
    )
    from classifiers.models import Prediction

    predictor_for(version).predict(["warm up the session"])  # a worker loads the model once, not per chunk
    timer = QueryTimer()
    started = time.perf_counter()
    with connection.execute_wrapper(timer):
        run = run_classification_inline(start_classification_run(version, course=course, actor=None, dispatch=False))
    wall = time.perf_counter() - started
    if run.status != "succeeded":
        sys.exit(f"product classification {run.status}: {run.error}")
    labels = dict(Prediction.objects.filter(model_version=version).values_list("feedback_id", "label__name"))
    return {"texts_per_s": round(run.classified / wall, 1), "wall_s": round(wall, 2), "rows": run.classified,
            "db_s": round(timer.seconds, 2), "db_share": round(timer.seconds / wall, 3),
            "model_s": round(run.progress["model_s"], 2), "labels": labels,
            "backend": f"onnx-{'int8' if version.use_int8 else 'fp32'}" if predictor_for(version).backend == "onnx"
            else predictor_for(version).backend}


def unserved_backend(version, course) -> dict:  # noqa: ANN001
    """(a') The product path with the backend the version does not serve, for the record: fp32 ONNX, or torch
    for a small version (it stores no fp32 ONNX; torch is what serves it when its int8 check fails).

    Run before the served pass and its predictions deleted afterwards, so a --keep course holds the served ones.
    """
    from classifiers.models import ModelVersion, Prediction

    served = version.use_int8
    ModelVersion.objects.filter(pk=version.pk).update(use_int8=not served)
    version.use_int8 = not served
    try:
        result = product_inline(version, course)
    finally:
        ModelVersion.objects.filter(pk=version.pk).update(use_int8=served)
        version.use_int8 = served
        Prediction.objects.filter(model_version=version).delete()
    return result


def plain_pipeline(version, texts: list[str]) -> tuple[dict, list[str]]:  # noqa: ANN001
    """(b) transformers.pipeline over the version's Hugging Face directory (what export writes), batch 64."""
    from transformers import pipeline

    from classifiers import registry

    with registry.local_copy(version.path) as directory:  # the version rebuilt from its delta, as export writes it
        classifier = pipeline("text-classification", model=str(directory), device="cpu", batch_size=PIPELINE_BATCH)
    classifier(texts[:PIPELINE_BATCH], truncation=True)  # warm-up, as the product's session was
    started = time.perf_counter()
    out = classifier(texts, truncation=True)
    wall = time.perf_counter() - started
    return {"pipeline_texts_per_s": round(len(texts) / wall, 1), "pipeline_wall_s": round(wall, 2)}, [
        o["label"] for o in out]


def start_workers(n: int) -> list[subprocess.Popen]:
    from eduplatform.celery import app
    from eduplatform.workers import workers_consuming

    app.control.purge()
    env = {**os.environ, "INFERENCE_THREADS": "1", "CONN_MAX_AGE": "60"}
    procs = []
    (ROOT / "var").mkdir(exist_ok=True)  # a fresh clone has none yet
    for i in range(n):
        log = open(ROOT / "var" / f"bench-inference-worker-{i}.log", "w")  # noqa: SIM115 - lives with the worker
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "eduplatform", "worker", "-Q", "inference", "--concurrency=1",
             "--loglevel=WARNING", f"--hostname=bench-inference-{i}-{os.getpid()}@%h", "--without-gossip",
             "--without-mingle"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        ))
    deadline = time.monotonic() + 90
    while len(workers_consuming("inference")) < n:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            stop(procs)
            sys.exit("the benchmark's inference workers did not start; see var/bench-inference-worker-*.log")
        time.sleep(1)
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def through_workers(version, course, n: int) -> dict:  # noqa: ANN001
    """The real classify path: a run cut into chunks, each a batch task on the `inference` queue."""
    from django.utils import timezone

    from classifiers.classification.services import start_classification_run
    from classifiers.models import ClassificationRun

    procs = start_workers(n)
    try:
        # Each worker loads the model on its first chunk; that is part of a real run, so it is counted.
        started = timezone.now()
        run = start_classification_run(version, course=course, actor=None)
        while run.is_active:
            time.sleep(2)
            run = ClassificationRun.objects.get(pk=run.pk)
            print(f"{run.status}: {run.chunks_done}/{run.chunks_total} chunks, {run.classified} classified",
                  file=sys.stderr, flush=True)
        wall = (run.finished_at - started).total_seconds()  # the run's own end, not the next poll
    finally:
        stop(procs)
    if run.status != "succeeded":
        sys.exit(f"classification run {run.status}: {run.error}")
    busy = run.progress["wall_s"]  # summed over chunks, i.e. over both workers
    return {"rows": run.classified, "workers": n, "wall_s": round(wall, 1),
            "rows_per_s": round(run.classified / wall, 1), "db_share": round(run.progress["db_s"] / busy, 3),
            "model_share": round(run.progress["model_s"] / busy, 3),
            "chunks": run.chunks_total, "under_10_min": wall < 600}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dair-ai-emotion")
    parser.add_argument("--model", type=Path, help="a Hugging Face directory of MiniLM fine-tuned on emotion")
    parser.add_argument("--rows", type=int, default=4000, help="comments to classify (test split first)")
    parser.add_argument("--workers", type=int, default=0, help="classify through N real Celery worker processes")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark course and version")
    opts = parser.parse_args()
    if not (opts.data / "test.txt").exists():
        sys.exit(f"SKIPPED: {opts.data} not found (the dair-ai emotion data set lives in ../shared/data)")
    setup()
    from classifiers import registry
    from classifiers.ml.serving import available_cores
    from courses.models import Course

    train, val, test = (read_split(opts.data / f"{s}.txt") for s in ("train", "val", "test"))
    model_dir = opts.model or (TRAINED_MODEL if (TRAINED_MODEL / "config.json").exists() else None)
    if model_dir is None:
        from django.conf import settings

        base = Path(settings.BASE_MODEL.rstrip("/")).name  # one cached fine-tune per base model
        model_dir = quick_fine_tune(train, val, ROOT / "var" / f"bench-emotion-{base}")
    elif not (model_dir / "config.json").exists():
        sys.exit(f"--model {model_dir}: no Hugging Face model directory there (config.json missing)")
    pool = [t for t, _ in test + val + train]
    texts = [pool[i % len(pool)] for i in range(opts.rows)]
    course = make_course(texts)
    version = register(course, model_dir, val)
    result: dict = {"model": str(model_dir), "device": "cpu", "cores": available_cores(), "use_int8": version.use_int8,
                    "int8_variant": version.metrics["serving"].get("int8_variant")}
    try:
        if opts.workers:
            result.update(through_workers(version, course, opts.workers))
        else:
            other = unserved_backend(version, course)
            product = product_inline(version, course)
            ours = product.pop("labels")
            pipe, theirs = plain_pipeline(version, texts)
            result.update(product)
            result.update(pipe)
            result["speed_ratio"] = round(product["texts_per_s"] / pipe["pipeline_texts_per_s"], 2)
            for path in (product, other):  # both ONNX precisions against the same pipeline figure
                name = path["backend"].removeprefix("onnx-")
                result[f"{name}_texts_per_s"] = path["texts_per_s"]
                result[f"{name}_speed_ratio"] = round(path["texts_per_s"] / pipe["pipeline_texts_per_s"], 2)
            ordered = [ours[pk] for pk in sorted(ours)]  # feedback ids follow the texts' order
            result["product_pipeline_label_agreement"] = round(
                sum(a == b for a, b in zip(ordered, theirs, strict=True)) / len(theirs), 4)
            result.update(test_split_checks(version, test))
            result["int8_accuracy_delta_unit"] = "accuracy points (torch - int8), test split"
    finally:
        if not opts.keep:
            registry.delete_version_files(version.path)
            Course.objects.filter(code=COURSE).delete()
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
