"""bench/training.py --suite small still runs end to end and prints one entry per task; not a measurement.

A tiny BERT and a few dozen rows of our own writing in a temporary data root stand in for MiniLM and the
public data sets, so the suite's plumbing (import without a split, the real worker, the plain Trainer, the
summary) is checked in seconds; data sets missing from the root are reported as skipped.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from courses.models import Course
from tests.classifiers.helpers import WORDS
from tests.classifiers.tiny import tiny_bert
from tests.support import ROOT, database_url

pytestmark = pytest.mark.slow

SST5 = ["very negative", "negative", "neutral", "positive", "very positive"]
STEMS = {"very negative": "negative", "negative": "negative", "neutral": "neutral", "positive": "positive",
         "very positive": "positive"}


def _write_sst5(folder: Path) -> None:
    folder.mkdir(parents=True)
    for split, n in (("train", 80), ("dev", 10), ("test", 30)):
        with (folder / f"sst5_{split}.csv").open("w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["text", "label", "label_name"])
            for i in range(n):
                name = SST5[i % 5]
                words = WORDS[STEMS[name]]
                out.writerow([f"{'really ' if 'very' in name else ''}{words[i % 5]} film {i}", i % 5, name])


def _write_student_feedback(folder: Path) -> None:
    folder.mkdir(parents=True)
    with (folder / "student_feedback_doc_level.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "sentiment", "aspect_categories", "split_suggested"])
        for i in range(100):
            name = ["negative", "neutral", "positive"][i % 3]
            out.writerow([f"the lecture was {WORDS[name][i % 5]} {i}", name, "Lecturer",
                          "test" if i >= 75 else "train"])


def test_small_suite_prints_one_entry_per_task_and_names_the_missing_data_sets(transactional_db, tmp_path):
    root = tmp_path / "data"
    _write_sst5(root / "sst")
    _write_student_feedback(root / "student-feedback-nilanga2022")
    env = {**os.environ, "DATABASE_URL": database_url(), "MODEL_STORE": str(settings.MODEL_STORE),
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CONN_MAX_AGE": "0",
           "BASE_MODEL": tiny_bert(tmp_path / "tiny-base")}
    proc = subprocess.run(
        [sys.executable, "bench/training.py", "--suite", "small", "--data-root", str(root), "--rows", "60"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert [t["task"] for t in summary["tasks"]] == ["sst5-2k", "student-feedback"]
    assert summary["skipped"] == ["goemotions-ekman-2k", "emotion-2k"]
    assert "SKIPPED: goemotions-ekman-2k" in proc.stdout
    for entry in summary["tasks"]:
        assert entry["n_train"] == 60 and {"f1_macro", "baseline_f1_macro", "delta"} <= set(entry)
        assert entry["delta"] == pytest.approx(entry["f1_macro"] - entry["baseline_f1_macro"], abs=1e-4)
        assert entry["recipe"]["refit"] and entry["recipe"]["refit_rows"] == 60  # small data: refit on all rows
    deltas = [t["delta"] for t in summary["tasks"]]
    assert summary["mean_delta"] == pytest.approx(sum(deltas) / 2, abs=1e-4)
    assert not Course.objects.filter(code__startswith="BENCH-").exists()  # the suite cleans up after itself
