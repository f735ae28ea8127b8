"""Peak benchmark: end-of-term comments arriving over many courses, each with its own model version.

Usage (under the shared lock; alone on the machine):
    .venv/bin/python bench/scale.py [--versions 200 --comments 20000 --seconds 120 --workers 2]
    .venv/bin/python bench/scale.py --versions 20 --comments 2000 --seconds 30      # development

Setup: MiniLM fine-tuned a few steps on dair-ai emotion becomes the trained version of the first bench course
(export + int8 check + publish, as training registers it); every other course gets a copy of that version's
files, published through the registry as its own version and activated (files are hard-linked into each build
when the store is local, so 200 versions cost no disk; the operating system's page cache is then shared too).

Then two phases, each with --workers fresh `celery worker -Q inference --concurrency=1` processes (cold: no model
loaded) on this checkout's broker, and --comments comments arriving over --seconds, spread uniformly over the
courses, each its own transaction through the ingest service the API and surveys use (`ingest_feedback`, so the
on-arrival signal fires), from --senders processes:
  1. batched (CLASSIFY_ON_ARRIVAL=batched, the default; workers keep models within MODEL_MEMORY_BUDGET_BYTES);
  2. baseline: today's per-comment tasks (CLASSIFY_ON_ARRIVAL=per-comment; workers hold about two models, as
     before the memory budget). It runs --baseline-wait-s past the last arrival, then its backlog is purged:
     comments still unclassified count as waiting until then, so its p95 is a lower bound when any are left.
Latency is a prediction's created_at minus its comment's created_at (both stamped at insert, one clock).
Last line: JSON. The bench courses (and their versions' files) are deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402
from _emotion_model import quick_fine_tune, read_split, register  # noqa: E402
from benchdata import seeded_sample as subsample  # noqa: E402

PREFIX = "SCALE-"
MODEL_DIR = ROOT / "var" / "bench-scale-model"
MB = 1024**2


# --- setup: N course versions of one trained model -------------------------------------------------------------


def _copy_tree(source: Path, build: Path) -> None:
    """Hard links when the build directory is on the same file system as the source, else copies."""
    build.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file():
            try:
                os.link(path, build / path.name)
            except OSError:
                shutil.copy2(path, build / path.name)


def make_versions(n: int, data: Path) -> list:
    from classifiers import registry
    from classifiers.labelling.schemas import create_schema
    from classifiers.models import ModelVersion
    from classifiers.training.versions import activate_model_version
    from courses.services import get_or_create_course

    cleanup()
    train, val = read_split(data / "train.txt"), read_split(data / "val.txt")
    model_dir = quick_fine_tune(train, val, MODEL_DIR, rows=600, steps=30)
    started = time.monotonic()
    courses = [get_or_create_course(f"{PREFIX}{i:03d}", actor=None, title=f"Scale course {i}")[0] for i in range(n)]
    first = register(courses[0], model_dir, subsample(val, 300))
    versions = [first]
    # The stored files (a small version's delta + int8 ONNX), not local_copy's rebuilt loadable directory.
    with registry._version_files(first.path) as source:  # noqa: SLF001 - a bench copying stored files
        for course in courses[1:]:
            schema = create_schema("emotion", kind="single", course=course, labels=first.label_names, actor=None)
            relpath = registry.version_relpath(schema.pk, course.pk, 1)
            build = registry.new_temp_dir()
            _copy_tree(source, build)
            registry.publish(build, relpath)
            version = ModelVersion.objects.create(
                schema=schema,
                course=course,
                number=1,
                path=relpath,
                base_model=first.base_model,
                base_parts=first.base_parts,
                label_names=first.label_names,
                max_length=first.max_length,
                beats_baseline=True,
                onnx_path=first.onnx_path.replace(first.path, relpath),
                use_int8=first.use_int8,
                metrics=first.metrics,
            )
            versions.append(activate_model_version(version, actor=None, classify=False))
    print(f"{n} versions ready in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return versions


def cleanup() -> None:
    from classifiers import registry
    from classifiers.models import ModelVersion
    from courses.models import Course

    for path in ModelVersion.objects.filter(course__code__startswith=PREFIX).values_list("path", flat=True):
        registry.delete_version_files(path)
    Course.objects.filter(code__startswith=PREFIX).delete()


# --- workers ---------------------------------------------------------------------------------------------------


def purge() -> None:
    from classifiers.classification import arrivals
    from classifiers.classification.services import MODEL_EVENTS_KEY
    from eduplatform.celery import app
    from eduplatform.telemetry import client

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("inference")
    client().delete(
        arrivals.DUE_KEY, arrivals.FROM_KEY, arrivals.CLAIMS_KEY, arrivals.DRAIN_QUEUED_KEY, arrivals.DRAINERS_KEY,
        MODEL_EVENTS_KEY,
    )


def start_workers(n: int, log_dir: Path, env: dict[str, str]) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        log = log_dir / f"worker-{i}.log"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "eduplatform",
                    "worker",
                    "-Q",
                    "inference",
                    "--concurrency=1",
                    "--pool=prefork",
                    "--loglevel=WARNING",
                    f"--hostname=scale{i}-{os.getpid()}@%h",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=ROOT,
                env={**os.environ, "INFERENCE_THREADS": "1", **env},
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
    from eduplatform.workers import workers_consuming

    deadline = time.monotonic() + 300
    while len(workers_consuming("inference")) < n:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            stop(procs)
            sys.exit(
                "workers did not start: "
                + " | ".join((log_dir / f"worker-{i}.log").read_text()[-500:] for i in range(n))
            )
        time.sleep(1)
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _tree_rss_mb(pid: int) -> tuple[float, float]:
    """RSS of a worker's main process and pool children together, and of its largest child (the models')."""
    total, child = 0, 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            if int(stat.parent.name) == pid:
                total += rss
            elif int(fields[1]) == pid:
                total, child = total + rss, max(child, rss)
        except (OSError, ValueError, IndexError):
            continue
    return total / MB, child / MB


class RssSampler(threading.Thread):
    """Peak resident memory of each worker (its main process and pool child together; the child alone), and the
    load average."""

    def __init__(self, procs: list[subprocess.Popen]) -> None:
        super().__init__(daemon=True)
        self.procs, self.peak, self.child_peak, self.loads, self.done = procs, 0.0, 0.0, [], threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0):
            for proc in self.procs:
                total, child = _tree_rss_mb(proc.pid)
                self.peak, self.child_peak = max(self.peak, total), max(self.child_peak, child)
            self.loads.append(os.getloadavg()[0])


# --- arrivals --------------------------------------------------------------------------------------------------


def _send(args: tuple) -> tuple[list[int], float, float, float]:
    """One sender process: its share of the schedule, each comment its own ingest transaction.
    Returns the ids, its first and last send time, and how far it fell behind the schedule at worst."""
    course_ids, offsets, texts, start_at, mode = args
    setup()
    from django.conf import settings

    settings.CLASSIFY_ON_ARRIVAL = mode
    from courses.models import Course, FeedbackSource
    from courses.services import NewFeedback, ingest_feedback

    courses = Course.objects.in_bulk(list(set(course_ids)))
    ids, lag, first = [], 0.0, None
    for course_id, offset, text in zip(course_ids, offsets, texts, strict=True):
        delay = start_at + offset - time.time()
        if delay > 0:
            time.sleep(delay)
        lag = max(lag, -delay)
        first = first or time.time()
        (feedback,) = ingest_feedback(courses[course_id], [NewFeedback(text=text)], source=FeedbackSource.SURVEY)
        ids.append(feedback.pk)
    return ids, first or time.time(), time.time(), lag


def arrive(versions: list, texts: list[str], seconds: float, senders: int, mode: str) -> tuple[list[int], dict]:
    """len(texts) comments over `seconds`, course j % N for comment j (uniform over the courses)."""
    from django.db import connections

    n = len(texts)
    course_ids = [versions[j % len(versions)].course_id for j in range(n)]
    offsets = [j * seconds / n for j in range(n)]
    start_at = time.time() + 45.0  # the senders start (spawned: Django and Celery set up afresh) before it
    shares = [(course_ids[k::senders], offsets[k::senders], texts[k::senders], start_at, mode) for k in range(senders)]
    connections.close_all()
    with multiprocessing.get_context("spawn").Pool(senders) as pool:
        parts = pool.map(_send, shares)
    timing = {
        "arrival_s": round(max(p[2] for p in parts) - min(p[1] for p in parts), 1),
        "sender_max_lag_s": round(max(p[3] for p in parts), 1),
    }
    return [i for part in parts for i in part[0]], timing


# --- measuring -------------------------------------------------------------------------------------------------


def latencies(ids: list[int], until: float | None = None) -> dict:
    """Per comment: seconds from its commit to its prediction (unclassified: to `until`, a lower bound)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT f.id, extract(epoch FROM f.created_at), count(p.id),
                   extract(epoch FROM min(p.created_at) - f.created_at)
            FROM courses_feedback f LEFT JOIN classifiers_prediction p ON p.feedback_id = f.id
            WHERE f.id = ANY(%s) GROUP BY f.id
        """,
            [ids],
        )
        rows = cursor.fetchall()
    waits = sorted(
        float(lat) if lat is not None else until - float(created)
        for _, created, _, lat in rows
        if lat is not None or until is not None
    )
    first = min(rows, key=lambda row: row[1]) if rows else None

    def pct(q: float) -> float | None:
        return round(waits[min(len(waits) - 1, int(q * len(waits)))], 2) if waits else None

    return {
        "classified": sum(1 for row in rows if row[2] >= 1),
        "classified_once": sum(1 for row in rows if row[2] == 1),
        "duplicates": sum(1 for row in rows if row[2] > 1),
        "p50": pct(0.50),
        "p95": pct(0.95),
        "max": round(waits[-1], 2) if waits else None,
        "first_prediction_s": round(float(first[3]), 2) if first and first[3] is not None else None,
    }


def model_loads() -> int:
    from classifiers.classification.services import MODEL_EVENTS_KEY
    from eduplatform.telemetry import read

    return sum(n for field, n in read(MODEL_EVENTS_KEY).items() if field.endswith("|load"))


def phase(
    name: str,
    versions: list,
    texts: list[str],
    args: argparse.Namespace,
    env: dict,
    mode: str,
    wait_s: float,
    log_dir: Path,
) -> dict:
    purge()
    procs = start_workers(args.workers, log_dir / name, env)
    sampler = RssSampler(procs)
    sampler.start()
    try:
        print(f"{name}: {len(texts)} comments over {args.seconds}s to {len(versions)} courses …", file=sys.stderr)
        ids, timing = arrive(versions, texts, args.seconds, args.senders, mode)
        ended = time.time()
        from classifiers.models import Prediction

        while time.time() - ended < wait_s:
            if Prediction.objects.filter(feedback_id__in=ids).count() >= len(ids):
                break
            time.sleep(2)
        until = time.time()
        figures = latencies(ids, until)
        figures.update(
            arrived=len(ids),
            **timing,
            drained_s=round(until - ended, 1),
            model_loads=model_loads(),
            worker_rss_peak_mb=round(sampler.peak),
            worker_child_rss_peak_mb=round(sampler.child_peak),
            load_avg_mean=round(sum(sampler.loads) / max(1, len(sampler.loads)), 2),
            lower_bound=figures["classified"] < len(ids),
        )
    finally:
        sampler.done.set()
        stop(procs)
        purge()
    print(f"{name}: {json.dumps(figures)}", file=sys.stderr)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dair-ai-emotion")
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--comments", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--senders", type=int, default=3, help="processes creating the comments")
    parser.add_argument(
        "--budget-mb", type=int, help="MODEL_MEMORY_BUDGET_BYTES of each batched worker process (default: the setting)"
    )
    parser.add_argument(
        "--baseline-budget-mb",
        type=int,
        default=120,
        help="the baseline workers' budget: about two int8 MiniLM models, as before the budget",
    )
    parser.add_argument("--drain-timeout-s", type=float, default=600)
    parser.add_argument("--baseline-wait-s", type=float, default=60)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    setup()
    from django.conf import settings

    load_before = os.getloadavg()
    versions = make_versions(args.versions, args.data)
    from classifiers import registry

    stored = registry.store().manifest(versions[0].path).total_size  # what one version adds to the store
    pool = [text for text, _ in read_split(args.data / "train.txt")]
    texts = [pool[j % len(pool)] for j in range(args.comments)]
    budget = args.budget_mb * MB if args.budget_mb else settings.MODEL_MEMORY_BUDGET_BYTES
    common = {"DATABASE_URL": os.environ.get("DATABASE_URL", ""), "MODEL_STORE": str(settings.MODEL_STORE)}
    common = {k: v for k, v in common.items() if v}
    result = {
        "versions": args.versions,
        "workers": args.workers,
        "seconds": args.seconds,
        "model_memory_budget_mb": budget // MB,
        "debounce_s": settings.CLASSIFY_DEBOUNCE_S,
        "bytes_per_version": stored,
    }
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        log_dir = Path(tmp)
        for name in ("batched", "baseline"):
            (log_dir / name).mkdir()
        try:
            batched = phase(
                "batched",
                versions,
                texts,
                args,
                {**common, "MODEL_MEMORY_BUDGET_BYTES": str(budget)},
                "batched",
                args.drain_timeout_s,
                log_dir,
            )
            baseline = None
            if not args.skip_baseline:
                baseline = phase(
                    "baseline",
                    versions,
                    texts,
                    args,
                    {**common, "MODEL_MEMORY_BUDGET_BYTES": str(args.baseline_budget_mb * MB)},
                    "per-comment",
                    args.baseline_wait_s,
                    log_dir,
                )
        finally:
            if not args.keep:
                cleanup()
    result.update(
        {
            "arrived": batched["arrived"],
            "arrival_s": batched["arrival_s"],
            "sender_max_lag_s": batched["sender_max_lag_s"],
            "classified_once": batched["classified_once"],
            "duplicates": batched["duplicates"],
            "p50_commit_to_prediction_s": batched["p50"],
            "p95_commit_to_prediction_s": batched["p95"],
            "max_commit_to_prediction_s": batched["max"],
            "model_loads": batched["model_loads"],
            "worker_rss_peak_mb": batched["worker_rss_peak_mb"],
            "worker_child_rss_peak_mb": batched["worker_child_rss_peak_mb"],
            "cold_start_s": batched["first_prediction_s"],
            "drained_after_last_arrival_s": batched["drained_s"],
            "load_avg_mean": batched["load_avg_mean"],
        }
    )
    if baseline is not None:
        result.update(
            {
                "baseline_p95_commit_to_prediction_s": baseline["p95"],
                "baseline_p95_is_lower_bound": baseline["lower_bound"],
                "baseline_classified": baseline["classified"],
                "baseline_arrived": baseline["arrived"],
                "baseline_model_loads": baseline["model_loads"],
                "baseline_worker_rss_peak_mb": baseline["worker_rss_peak_mb"],
                "baseline_load_avg_mean": baseline["load_avg_mean"],
                "baseline_arrival_s": baseline["arrival_s"],
                "p95_ratio": round(baseline["p95"] / batched["p95"], 1) if baseline["p95"] and batched["p95"] else None,
            }
        )
    result["load_avg_before"] = [round(x, 2) for x in load_before]
    result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
