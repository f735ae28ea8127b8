"""Training benchmark: the product's Celery training path against a plain Hugging Face Trainer.

Usage: .venv/bin/python bench/training.py [--suite full] [--dataset emotion|student-feedback|goemotions]
       [--data DIR] [--limit N] [--device cuda] [--keep] [--save-model DIR] [--config JSON]
       .venv/bin/python bench/training.py --suite small [--tasks sst5,sst2,...] [--device cuda]

`--suite small` (issue "Real data in, best model out"): several public small-data tasks of 1k-4k training
texts that carry no validation split, as a course's own labels would: the product's defaults (through the
real worker; it holds out and refits by itself) against the plain Trainer recipe (full train split, 3 epochs,
lr 1e-4, batch 32, max_length 256, embeddings trainable, no hold-out) in the same run, macro-F1 on each
data set's official test split (at most 2,500 rows, seeded). Last line: JSON with `tasks` and `mean_delta`.

`--suite full` (default):

Imports the data set's official train and validation splits as labelled feedback of a benchmark
course, trains through the real path (start_training_run → `training` queue → worker) with default
settings, and predicts the official test split. In the same run a plain Trainer baseline (dynamic
padding, lr 1e-4, batch 64, 2 epochs, same base model, same data) trains and predicts. Throughput is
reported per wall second and per CPU second of the training process (the second is not distorted by
other load on a shared machine). Last line: JSON. The benchmark course and its model files are
deleted afterwards unless --keep.
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
from benchdata import Benchmark, Rows, load, seeded_sample  # noqa: E402

BASELINE_EPOCHS, BASELINE_BATCH, BASELINE_LR = 2, 64, 1e-4
# The small suite: (task, data set, training rows). Chosen before measuring: one ordinal task (SST-5),
# two imbalanced 6-7 class tasks (GoEmotions mapped to Ekman's emotions, dair-ai emotion) and the
# course-feedback domain itself (Nilanga 2022 sentiment, its whole train split). ~1 hour on 2 cores.
SMALL_SUITE = [
    ("sst5-2k", "sst5", 2000),
    ("goemotions-ekman-2k", "goemotions-ekman", 2000),
    ("emotion-2k", "emotion", 2000),
    ("student-feedback", "student-feedback", None),
]
SMALL_TEST_ROWS = 2500
# The plain Trainer recipe the issue measured the product against on small data.
PLAIN = {"epochs": 3, "batch_size": 32, "learning_rate": 1e-4, "max_length": 256}


def course_code(bench: Benchmark) -> str:
    return "BENCH-" + bench.name.upper()[:40]


def import_course(bench: Benchmark, *, with_validation: bool = True) -> None:
    from classifiers.imports.services import import_feedback_file
    from classifiers.models import SchemaKind
    from courses.importers import ImportOptions
    from courses.models import Course

    Course.objects.filter(code=course_code(bench)).delete()
    lines = [
        json.dumps({"id": f"{split}{i}", "text": text, "label": "|".join(labels), "split": split})
        for split, rows in (("train", bench.train), ("validation", bench.validation if with_validation else []))
        for i, (text, labels) in enumerate(rows)
    ]
    options = ImportOptions(text_col="text", id_col="id", label_col="label",
                            split_col="split" if with_validation else None,
                            label_sep="|" if bench.multi_label else None)
    import_feedback_file(
        course_code(bench), "\n".join(lines).encode(), filename="bench.jsonl", options=options,
        schema_name="bench", create_labels=True, course_title=f"Benchmark: {bench.name}",
        schema_kind=SchemaKind.MULTI if bench.multi_label else SchemaKind.SINGLE,
    )


def ensure_worker() -> subprocess.Popen | None:
    from eduplatform.workers import workers_consuming

    if workers_consuming("training"):
        return None
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / "bench-training-worker.log", "w")  # noqa: SIM115 - lives as long as the worker
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "eduplatform", "worker", "-Q", "training", "--concurrency=1",
         "--loglevel=INFO", f"--hostname=bench-{os.getpid()}@%h", "--without-gossip", "--without-mingle"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not workers_consuming("training"):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            sys.exit("the benchmark's training worker did not start; see var/bench-training-worker.log")
        time.sleep(1)
    return proc


def product(bench: Benchmark, device: str, overrides: dict) -> tuple[dict, object, float]:
    from classifiers.selectors import schemas_for_course
    from classifiers.training.services import start_training_run
    from courses.models import Course

    course = Course.objects.get(code=course_code(bench))
    schema = schemas_for_course(course).get(name="bench", course=course)
    started = time.monotonic()
    run = start_training_run(schema, course=course, config={"device": device, **overrides},
                             actor=None)
    last = ""
    while run.is_active:
        time.sleep(5)
        run.refresh_from_db()
        line = f"{run.status} step {run.progress.get('step')}/{run.progress.get('total_steps')} " \
               f"eval {run.progress.get('evaluations', [])[-1:]}"
        if line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
    wall = time.monotonic() - started
    if run.status != "succeeded":
        sys.exit(f"product training {run.status}: {run.error}")
    return run.metrics, run.model_version, wall


def predict_version(version, texts: list[str]):  # noqa: ANN001, ANN201 - probabilities (n, labels)
    """The registered version's probabilities on `texts`, loaded from the model store like serving does."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from classifiers import registry
    from classifiers.ml.inference import encode, predict_logits, to_probabilities, torch_runner

    with registry.local_copy(version.path) as path:  # a small version is rebuilt from its delta here
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path)
    model = model.to("cuda" if torch.cuda.is_available() else "cpu")
    logits = predict_logits(torch_runner(model), encode(tok, texts, version.max_length),
                            pad_id=tok.pad_token_id, num_labels=len(version.label_names))
    return to_probabilities(logits, multi_label=version.schema.kind == "multi")


def scores(truth: Rows, probs, names: list[str], *, multi: bool, threshold: float = 0.5) -> dict:  # noqa: ANN001
    """accuracy and macro-F1 (single-label); micro/macro F1 and exact-match accuracy (multi-label)."""
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    index = {name: i for i, name in enumerate(names)}
    if multi:
        y = np.zeros((len(truth), len(names)), dtype=int)
        for row, (_, labels) in enumerate(truth):
            y[row, [index[name] for name in labels if name in index]] = 1
        pred = (probs >= threshold).astype(int)
        pred[np.arange(len(pred)), probs.argmax(1)] |= ~pred.any(1)  # at least the top label, as serving does
        return {"accuracy": round(float(accuracy_score(y, pred)), 4),
                "f1_micro": round(float(f1_score(y, pred, average="micro", zero_division=0)), 4),
                "f1_macro": round(float(f1_score(y, pred, average="macro", zero_division=0)), 4)}
    y = [index.get(labels[0], -1) for _, labels in truth]
    pred = probs.argmax(1)
    return {"accuracy": round(float(accuracy_score(y, pred)), 4),
            "f1_macro": round(float(f1_score(y, pred, average="macro")), 4)}


def baseline(bench: Benchmark, names: list[str], device: str, base_model: str, *, epochs: int = BASELINE_EPOCHS,
             batch: int = BASELINE_BATCH, lr: float = BASELINE_LR, max_length: int | None = None) -> dict:
    """The plain recipe: tokenise, dynamic padding, Trainer defaults with lr 1e-4, batch 64, 2 epochs."""
    import numpy as np
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    tok = AutoTokenizer.from_pretrained(base_model)
    index = {name: i for i, name in enumerate(names)}
    multi = bench.multi_label
    model = AutoModelForSequenceClassification.from_pretrained(
        base_model, num_labels=len(names),
        problem_type="multi_label_classification" if multi else "single_label_classification",
    )

    def rows(data: Rows) -> list[dict]:
        enc = tok([t for t, _ in data], truncation=True, max_length=max_length)
        out = []
        for ids, mask, (_, labels) in zip(enc["input_ids"], enc["attention_mask"], data, strict=True):
            target = [float(n in labels) for n in names] if multi else index[labels[0]]
            out.append({"input_ids": ids, "attention_mask": mask, "labels": target})
        return out

    args = TrainingArguments(
        output_dir=str(ROOT / "var" / "bench-baseline"), learning_rate=lr,
        per_device_train_batch_size=batch, per_device_eval_batch_size=64,
        num_train_epochs=epochs, save_strategy="no", eval_strategy="no", report_to="none",
        use_cpu=device != "cuda", disable_tqdm=True, seed=42,
    )
    trainer = Trainer(model=model, args=args, train_dataset=rows(bench.train), processing_class=tok,
                      data_collator=DataCollatorWithPadding(tok))
    started, cpu_started = time.monotonic(), time.process_time()
    trainer.train()
    runtime, cpu = time.monotonic() - started, time.process_time() - cpu_started
    logits = trainer.predict(rows(bench.test)).predictions
    from classifiers.ml.inference import to_probabilities

    probs = to_probabilities(np.asarray(logits), multi_label=multi)
    samples = trainer.state.global_step * batch
    return {
        **{f"baseline_{k}": v for k, v in scores(bench.test, probs, names, multi=multi).items()},
        "baseline_train_samples_per_s": round(samples / runtime, 2),
        "baseline_train_samples_per_cpu_s": round(samples / cpu, 2),
        "baseline_wall_s": round(runtime, 1),
    }


def small_suite(tasks: list[str], device: str, *, shared: Path, rows_override: int | None = None) -> None:
    """Product defaults against the plain Trainer on each small task; one JSON line per task, then the summary."""
    setup()
    from django.conf import settings

    from classifiers import registry
    from courses.models import Course

    results, skipped, chosen = [], [], []
    for task, dataset, rows in SMALL_SUITE:
        if tasks and task not in tasks:
            continue
        bench = load(dataset, None, shared)
        if bench is None:
            print(f"SKIPPED: {task}: the {dataset} data set was not found in {shared}")
            skipped.append(task)
        else:
            chosen.append(small_task(bench, task, rows_override or rows))
    worker = ensure_worker() if chosen else None
    try:
        for bench in chosen:
            task = bench.name
            import_course(bench, with_validation=False)
            started = time.monotonic()
            metrics, version, _ = product(bench, device, {})
            wall = time.monotonic() - started
            names = list(version.label_names)
            probs = predict_version(version, [t for t, _ in bench.test])
            mine = scores(bench.test, probs, names, multi=False)
            plain = baseline(bench, names, device, settings.BASE_MODEL, epochs=PLAIN["epochs"],
                             batch=PLAIN["batch_size"], lr=PLAIN["learning_rate"], max_length=PLAIN["max_length"])
            entry = {
                "task": task, "n_train": len(bench.train), "n_test": len(bench.test), "labels": len(names),
                "f1_macro": mine["f1_macro"], "baseline_f1_macro": plain["baseline_f1_macro"],
                "delta": round(mine["f1_macro"] - plain["baseline_f1_macro"], 4),
                "accuracy": mine["accuracy"], "baseline_accuracy": plain["baseline_accuracy"],
                "best_epoch": metrics.get("best_epoch"), "recipe": metrics.get("recipe"),
                "validation_f1_macro": round(metrics["f1_macro"], 4),
                "wall_s": round(wall, 1), "baseline_wall_s": plain["baseline_wall_s"],
            }
            print(json.dumps(entry), flush=True)
            results.append(entry)
            registry.delete_version_files(version.path)
            Course.objects.filter(code=course_code(bench)).delete()
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    deltas = [r["delta"] for r in results]
    print(json.dumps({
        "suite": "small", "tasks": results, "skipped": skipped,
        "mean_f1_macro": round(sum(r["f1_macro"] for r in results) / len(results), 4) if results else None,
        "mean_baseline_f1_macro": round(sum(r["baseline_f1_macro"] for r in results) / len(results), 4)
        if results else None,
        "mean_delta": round(sum(deltas) / len(deltas), 4) if deltas else None,
        "min_delta": min(deltas) if deltas else None, "device": device,
        "torch_threads": _threads(), "load_avg_1m": round(os.getloadavg()[0], 2),
    }))


def small_task(bench: Benchmark, task: str, rows: int | None) -> Benchmark:
    """`rows` training texts (seeded; all when None), no validation split, at most SMALL_TEST_ROWS test rows."""
    return Benchmark(task, seeded_sample(bench.train, rows), [], seeded_sample(bench.test, SMALL_TEST_ROWS),
                     bench.label_names, bench.multi_label)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suite", choices=("full", "small"), default="full",
                        help="full: one data set, official splits (default); small: the small-data suite")
    parser.add_argument("--tasks", type=lambda v: [t for t in v.split(",") if t],
                        help=f"small suite only: a subset of {','.join(t for t, _, _ in SMALL_SUITE)}")
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data",
                        help="small suite only: the folder holding the data sets (default ../shared/data)")
    parser.add_argument("--rows", type=int, help="small suite only: N training rows per task (a quick check)")
    parser.add_argument("--dataset", choices=("emotion", "student-feedback", "goemotions"), default="emotion")
    parser.add_argument("--data", type=Path, help="the data set's folder (default ../shared/data/<name>)")
    parser.add_argument("--limit", type=int, help="subsample the train split to N rows (val N/8, test N/4)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark course and model")
    parser.add_argument("--save-model", type=Path, help="copy the trained Hugging Face directory here")
    parser.add_argument("--config", type=json.loads, default={},
                        help='training options over the defaults, e.g. \'{"min_per_label": 2}\' for a small subsample')
    opts = parser.parse_args()
    if opts.suite == "small":
        small_suite(opts.tasks or [], opts.device, shared=opts.data_root, rows_override=opts.rows)
        return
    bench = load(opts.dataset, opts.data, ROOT.parent / "shared" / "data")
    if bench is None:
        print(f"SKIPPED: the {opts.dataset} data set was not found (it lives in ../shared/data)")
        return
    bench = bench.subsample(opts.limit)
    setup()
    import shutil

    from django.conf import settings

    from classifiers import registry
    from courses.models import Course

    import_course(bench)
    worker = ensure_worker()
    try:
        metrics, version, wall = product(bench, opts.device, opts.config)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    multi = bench.multi_label
    probs = predict_version(version, [t for t, _ in bench.test])
    names = list(version.label_names)
    result = {
        "dataset": bench.name,
        **scores(bench.test, probs, names, multi=multi, threshold=metrics.get("threshold", 0.5)),
        "train_samples_per_s": metrics["train_samples_per_s"],
        "train_samples_per_cpu_s": round(metrics["train_samples_per_s"] * metrics["train_runtime_s"]
                                         / metrics["train_cpu_s"], 2),
        "wall_s": round(wall, 1),
        "epochs_done": metrics.get("epochs_done"), "best_epoch": metrics.get("best_epoch"),
        "validation_f1_macro": round(metrics["f1_macro"], 4),
    }
    if opts.save_model:
        with registry.local_copy(version.path) as path:  # full Hugging Face weights, also of a small version
            shutil.copytree(path, opts.save_model, dirs_exist_ok=True)
    result.update(baseline(bench, names, opts.device, settings.BASE_MODEL))
    result.update({
        "speed_ratio": round(result["train_samples_per_s"] / result["baseline_train_samples_per_s"], 3),
        "speed_ratio_cpu": round(result["train_samples_per_cpu_s"] / result["baseline_train_samples_per_cpu_s"], 3),
        "config_overrides": opts.config, "device": opts.device,
        "train_rows": len(bench.train), "test_rows": len(bench.test),
        "torch_threads": _threads(), "load_avg_1m": round(os.getloadavg()[0], 2),
    })
    if not opts.keep:
        registry.delete_version_files(version.path)
        Course.objects.filter(code=course_code(bench)).delete()
    print(json.dumps(result))


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
