"""bench/inference.py still runs (both modes) and prints its JSON, with a tiny emotion model; not a measurement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from classifiers import registry
from classifiers.ml.training import TrainConfig, prepare_data, train_model
from courses.models import Course
from tests.classifiers.tiny import tiny_bert
from tests.support import ROOT, database_url

pytestmark = pytest.mark.slow

DATA = ROOT.parent / "shared" / "data" / "dair-ai-emotion"
KEYS = {"texts_per_s", "pipeline_texts_per_s", "speed_ratio", "agreement_fp32", "int8_accuracy_delta", "device",
        "db_share", "torch_speed_ratio", "int8_speed_ratio"}


def _tiny_emotion_model(directory: Path) -> Path:
    rows = [line.rpartition(";") for line in (DATA / "train.txt").read_text().splitlines()[1:400]]
    names = sorted({label for _, _, label in rows})
    data = prepare_data([t for t, _, _ in rows], [[y] for _, _, y in rows], names, min_per_label=2)
    config = TrainConfig(base_model=tiny_bert(directory.parent / "tiny-base"), max_steps=10, batch_size=16,
                         freeze_embeddings=False, max_length=64)
    result = train_model(data, config, directory.parent / "work")
    result.model.save_pretrained(directory)
    result.tokenizer.save_pretrained(directory)
    return directory


def _bench(*args: str, tmp_path: Path) -> dict:
    # The bench stores the model as training does: a delta against BASE_MODEL's parts (here the tiny base).
    env = {**os.environ, "DATABASE_URL": database_url(), "MODEL_STORE": str(settings.MODEL_STORE),
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CONN_MAX_AGE": "0",
           "BASE_MODEL": str(tmp_path / "tiny-base")}
    proc = subprocess.run([sys.executable, "bench/inference.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not (DATA / "test.txt").exists(), reason="the dair-ai emotion data set is not in ../shared/data")
def test_inference_bench_runs_in_process_and_through_workers(transactional_db, tmp_path):
    model = _tiny_emotion_model(tmp_path / "tiny-emotion")
    inline = _bench("--model", str(model), "--rows", "300", tmp_path=tmp_path)
    assert set(inline) >= KEYS and inline["rows"] == 300 and inline["product_pipeline_label_agreement"] >= 0.95
    assert inline["torch_speed_ratio"] > 0 and inline["int8_speed_ratio"] > 0  # both backends were measured
    assert registry.stored_base_parts()  # stored as training stores it: a delta against the base's shared parts
    workers = _bench("--model", str(model), "--rows", "1500", "--workers", "2", tmp_path=tmp_path)
    assert workers["rows"] == 1500 and workers["workers"] == 2 and 0 < workers["db_share"] < 1
    assert not Course.objects.filter(code="BENCH-INFERENCE").exists()  # the bench cleans up after itself
