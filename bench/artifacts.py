"""Small artifacts benchmark (issue 23, part 2): stored bytes per version, accuracy against today's recipe, cold start.

Usage (alone on the machine; ~8 minutes on 2 cores with the defaults):
    flock /work/tools/bench.lock .venv/bin/python bench/artifacts.py [--limit 2000] [--steps 150]

In one run, on the same --limit rows of dair-ai emotion (train split; validation 300 rows, test: the whole
2,000-row test split), the Django-free training code (classifiers.ml.training) trains MiniLM twice:
- today's recipe: weight decay on the word embeddings too, stored as full files (`registry.save_artifacts`:
  safetensors, fp32 + int8 ONNX, tokenizer);
- the new one: no weight decay on the word embeddings, stored small (`registry.save_small_artifacts`: a weight
  delta against the base model's parts, which the store keeps once per base model, and the int8 ONNX without
  its embedding matrix).
Below 10,000 rows the recipe trains the embeddings (`unfreeze_below`), so the new version stores the rows of the
tokens its text used. Both versions are published to an S3 API (a moto server on loopback) and measured as they
serve: test accuracy of the model each would serve (int8 ONNX when its check allows), loaded from the store.
`cold_start_s`: a new process with an empty cache makes the first prediction of the new version (fetch version
and base parts, rebuild, load, predict; bench/store.py's measure). Last line: JSON. `measure(limit)` returns the
same figures for bench/scale.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import setup  # noqa: E402
from _emotion_model import read_split  # noqa: E402
from benchdata import seeded_sample as subsample  # noqa: E402
from store import first_prediction, start_moto  # noqa: E402

DATA = Path("/work/shared/data/dair-ai-emotion")
MAX_LENGTH = 128


def _train(data, base_model: str, steps: int, *, decay_embeddings: bool):  # noqa: ANN001, ANN202
    from classifiers.ml.training import TrainConfig, train_model

    config = TrainConfig(
        base_model=base_model, max_steps=steps, batch_size=32, max_length=MAX_LENGTH, decay_embeddings=decay_embeddings
    )
    work = Path(tempfile.mkdtemp(prefix="bench-artifacts-"))
    try:
        started = time.monotonic()
        result = train_model(data, config, work)
        return result, round(time.monotonic() - started, 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _register(result, data, base_model: str, *, small: bool) -> tuple[str, dict]:  # noqa: ANN001
    """Store a trained model as registration does (full files today, or small), publish it; its figures."""
    from classifiers import registry
    from classifiers.ml.serving import export_and_check

    build = registry.new_temp_dir()
    build.mkdir(parents=True, exist_ok=True)
    meta = {
        "label_names": data.label_names,
        "kind": "single",
        "threshold": 0.5,
        "max_length": MAX_LENGTH,
        "base_model": base_model,
    }
    model = result.model
    if small:
        model = registry.save_small_artifacts(build, model, result.tokenizer, meta)
    else:
        registry.save_artifacts(build, model, result.tokenizer, meta)
    check = export_and_check(
        model,
        result.tokenizer,
        build,
        data.val_texts,
        [t[0] for t in data.val_targets],
        max_length=MAX_LENGTH,
        num_labels=len(data.label_names),
    )
    if small:
        registry.finish_small_artifacts(build)
    files = {p.name: p.stat().st_size for p in build.iterdir() if p.is_file()}
    relpath = registry.version_relpath(0, 0, 2 if small else 1)
    registry.publish(build, relpath)
    stored = registry.store().manifest(relpath).total_size
    return relpath, {
        "bytes": stored,
        "files": dict(sorted(files.items(), key=lambda kv: -kv[1])),
        "use_int8": check.use_int8,
        "agreement_fp32": check.agreement_fp32,
        "int8_accuracy_delta": check.int8_accuracy_delta,
    }


def _served_accuracy(relpath: str, use_int8: bool, test: list, names: list[str]) -> float:
    """Test accuracy of what the version serves, loaded from the store as a worker loads it."""
    from functools import partial

    from classifiers import registry
    from classifiers.ml.serving import Predictor, files_to_load

    with registry.local_copy(relpath, select=partial(files_to_load, use_int8=use_int8)) as directory:
        predictor = Predictor(directory, use_int8=use_int8)
    outputs, _ = predictor.predict([text for text, _ in test])
    return sum(out.labels[0] == label for out, (_, label) in zip(outputs, test, strict=True)) / len(test)


def measure(limit: int = 2000, steps: int = 150) -> dict:
    """The part-2 figures (needs Django set up and MODEL_STORE pointing at an object store or a directory)."""
    from django.conf import settings

    from classifiers import registry
    from classifiers.ml.training import prepare_data

    train = subsample(read_split(DATA / "train.txt"), limit)
    val, test = subsample(read_split(DATA / "val.txt"), 300), read_split(DATA / "test.txt")
    names = sorted({label for _, label in train})
    data = prepare_data(
        [t for t, _ in train + val],
        [[y] for _, y in train + val],
        names,
        splits=["train"] * len(train) + ["validation"] * len(val),
    )
    base_model = settings.BASE_MODEL
    out: dict = {"limit": limit, "steps": steps, "test_rows": len(test)}
    versions = {}
    for label, small in (("today", False), ("small", True)):
        result, train_s = _train(data, base_model, steps, decay_embeddings=not small)
        relpath, figures = _register(result, data, base_model, small=small)
        figures["test_accuracy"] = round(_served_accuracy(relpath, figures["use_int8"], test, names), 4)
        figures["train_s"] = train_s
        versions[label] = (relpath, figures)
        out[label] = figures
        print(label, json.dumps(figures), file=sys.stderr)
    meta = registry.read_meta(versions["small"][0])
    parts = meta["artifacts"]["base_parts"]
    out["shared_base_bytes"] = registry.store().manifest(parts["path"]).total_size
    out["bytes_per_version"] = out["small"]["bytes"]
    out["bytes_per_version_today"] = out["today"]["bytes"]
    out["accuracy_delta_points"] = round(100 * (out["small"]["test_accuracy"] - out["today"]["test_accuracy"]), 2)
    scratch = Path(tempfile.mkdtemp(prefix="bench-artifacts-cold-"))
    try:
        cold = first_prediction(versions["small"][0], scratch / "cache", dict(os.environ))
        warm = first_prediction(versions["small"][0], scratch / "cache", dict(os.environ))
        out.update(
            cold_start_s=cold["first_prediction_s"],
            warm_start_s=warm["first_prediction_s"],
            cold=cold,
            store=registry.describe_store(),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for relpath, _ in versions.values():
            registry.delete_version_files(relpath)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=2000, help="training rows of dair-ai emotion (both recipes)")
    parser.add_argument("--steps", type=int, default=150, help="training steps of each recipe")
    opts = parser.parse_args()
    moto = None
    scratch = Path(tempfile.mkdtemp(prefix="bench-artifacts-"))
    if not os.environ.get("MODEL_STORE", "").startswith("s3://"):
        moto, endpoint = start_moto()
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto accepts any
            AWS_DEFAULT_REGION="us-east-1",
            MODEL_STORE="s3://bench-models/eduplatform",
            MODEL_STORE_S3_ADDRESSING_STYLE="path",
        )
        import boto3

        boto3.client("s3").create_bucket(Bucket="bench-models")
    os.environ["MODEL_CACHE_DIR"] = str(scratch / "publisher-cache")
    try:
        setup()
        result = measure(opts.limit, opts.steps)
        result["load_average"] = os.getloadavg()[0]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if moto is not None:
            moto.terminate()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
