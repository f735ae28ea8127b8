"""Training benchmark: the product's Celery training path against a plain Hugging Face Trainer.

Usage: .venv/bin/python bench/training.py --data ../shared/data/dair-ai-emotion [--limit N] [--device cuda]

Imports the official train and validation splits as labelled feedback of a benchmark course, trains
through the real path (start_training_run → `training` queue → worker) with default settings, and
predicts the test split. In the same run a plain Trainer baseline (dynamic padding, lr 1e-4, batch
64, 2 epochs, same base model, same data) trains and predicts. Last line: JSON.
The benchmark course and its model files are deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402

COURSE = "BENCH-EMOTION"


def read_split(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        text, _, label = line.rpartition(";")
        rows.append((text, label))
    return rows


def subsample(rows: list, n: int | None, seed: int = 13) -> list:
    if not n or n >= len(rows):
        return rows
    return random.Random(seed).sample(rows, n)


def import_course(train: list, val: list) -> None:
    from classifiers.services.imports import import_feedback_file
    from courses.importers import ImportOptions
    from courses.models import Course

    Course.objects.filter(code=COURSE).delete()
    lines = [
        json.dumps({"id": f"{split}{i}", "text": text, "label": label, "split": split})
        for split, rows in (("train", train), ("validation", val)) for i, (text, label) in enumerate(rows)
    ]
    options = ImportOptions(text_col="text", id_col="id", label_col="label", split_col="split")
    import_feedback_file(COURSE, "\n".join(lines).encode(), filename="emotion.jsonl", options=options,
                         schema_name="emotion", create_labels=True, course_title="Benchmark: dair-ai emotion")


def ensure_worker() -> subprocess.Popen | None:
    from eduplatform.workers import workers_consuming

    if workers_consuming("training"):
        return None
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


def product(device: str) -> tuple[dict, object, float]:
    from classifiers.selectors import schemas_for_course
    from classifiers.services.training import start_training_run
    from courses.models import Course

    course = Course.objects.get(code=COURSE)
    schema = schemas_for_course(course).get(name="emotion", course=course)
    started = time.monotonic()
    run = start_training_run(schema, course=course, config={"device": device}, actor=None)
    last = ""
    while run.is_active:
        time.sleep(5)
        run.refresh_from_db()
        line = f"{run.status} {run.progress}"
        if line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
    wall = time.monotonic() - started
    if run.status != "succeeded":
        sys.exit(f"product training {run.status}: {run.error}")
    return run.metrics, run.model_version, wall


def predict_version(version, texts: list[str]) -> list[str]:  # noqa: ANN001
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from classifiers import registry
    from classifiers.inference import encode, predict_logits, torch_runner

    path = registry.absolute(version.path)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).to("cuda" if torch.cuda.is_available() else "cpu")
    logits = predict_logits(torch_runner(model), encode(tok, texts, version.max_length),
                            pad_id=tok.pad_token_id, num_labels=len(version.label_names))
    return [version.label_names[i] for i in logits.argmax(-1)]


def baseline(train: list, test: list, labels: list[str], device: str, base_model: str) -> dict:
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
    index = {name: i for i, name in enumerate(labels)}
    model = AutoModelForSequenceClassification.from_pretrained(base_model, num_labels=len(labels))

    def rows(data: list) -> list[dict]:
        enc = tok([t for t, _ in data], truncation=True)
        return [{"input_ids": ids, "attention_mask": m, "labels": index[y]}
                for ids, m, (_, y) in zip(enc["input_ids"], enc["attention_mask"], data, strict=True)]

    args = TrainingArguments(
        output_dir=str(ROOT / "var" / "bench-baseline"), learning_rate=1e-4, per_device_train_batch_size=64,
        per_device_eval_batch_size=64, num_train_epochs=2, save_strategy="no", eval_strategy="no",
        report_to="none", use_cpu=device != "cuda", disable_tqdm=True, seed=42,
    )
    trainer = Trainer(model=model, args=args, train_dataset=rows(train), processing_class=tok,
                      data_collator=DataCollatorWithPadding(tok))
    started = time.monotonic()
    trainer.train()
    runtime = time.monotonic() - started
    pred = trainer.predict(rows(test)).predictions.argmax(-1)
    truth = np.array([index[y] for _, y in test])
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "baseline_accuracy": round(float(accuracy_score(truth, pred)), 4),
        "baseline_f1_macro": round(float(f1_score(truth, pred, average="macro")), 4),
        "baseline_train_samples_per_s": round(trainer.state.global_step * 64 / runtime, 2),
        "baseline_wall_s": round(runtime, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dair-ai-emotion")
    parser.add_argument("--limit", type=int, help="subsample the train split to N rows (val N/8, test N/4)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark course and model")
    opts = parser.parse_args()
    if not (opts.data / "train.txt").exists():
        sys.exit(f"SKIPPED: {opts.data} not found (the dair-ai emotion data set lives in ../shared/data)")
    setup()
    from django.conf import settings
    from sklearn.metrics import accuracy_score, f1_score

    from courses.models import Course

    limit = opts.limit
    train = subsample(read_split(opts.data / "train.txt"), limit)
    val = subsample(read_split(opts.data / "val.txt"), limit and max(limit // 8, 60))
    test = subsample(read_split(opts.data / "test.txt"), limit and max(limit // 4, 100))
    import_course(train, val)
    worker = ensure_worker()
    try:
        metrics, version, wall = product(opts.device)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    predicted = predict_version(version, [t for t, _ in test])
    truth = [y for _, y in test]
    result = {
        "accuracy": round(accuracy_score(truth, predicted), 4),
        "f1_macro": round(f1_score(truth, predicted, average="macro"), 4),
        "train_samples_per_s": metrics["train_samples_per_s"],
        "wall_s": round(wall, 1),
        "epochs_done": metrics.get("epochs_done"),
        "validation_f1_macro": round(metrics["f1_macro"], 4),
    }
    result.update(baseline(train, test, version.label_names, opts.device, settings.BASE_MODEL))
    result.update({
        "speed_ratio": round(result["train_samples_per_s"] / result["baseline_train_samples_per_s"], 3),
        "device": opts.device, "train_rows": len(train), "test_rows": len(test), "torch_threads": _threads(),
    })
    if not opts.keep:
        from classifiers import registry

        registry.delete_version_files(version.path)
        Course.objects.filter(code=COURSE).delete()
    print(json.dumps(result))


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
