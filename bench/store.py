"""Model store benchmark: bytes per version, publish time, and cold start from an object store.

Usage (alone on the machine):
    .venv/bin/python bench/store.py [--model DIR] [--labels 6]

A version of the default model (MiniLM) is built as registration builds it (a small version: the weight delta
against BASE_MODEL's shared parts + the per-channel int8 ONNX without its word-embedding matrix, see
classifiers.ml.artifacts) from --model DIR (a Hugging Face directory fine-tuned from BASE_MODEL),
else from BASE_MODEL with a fresh classification head (same sizes and speed; accuracy is not measured here).
It is published to an S3 API: MODEL_STORE when it is s3://… (endpoint and credentials from the environment),
else a moto server started on loopback for the run. Then a new process with an empty model cache makes the
first prediction (`cold_start_s`: fetch version and base parts + checksum + rebuild + load + predict, after
the process has imported Django and torch, reported apart as `process_start_s`), and a second one with that
cache warm. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, setup  # noqa: E402

TEXT = "The lectures were clear but the labs felt rushed."


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


def build_version(model_dir: str, labels: int, base_model: str) -> tuple[Path, dict]:
    """A small version (weight delta against `base_model` + int8 ONNX) in a build directory, as registration
    builds one; `model_dir` is a model fine-tuned from `base_model` (or the base itself)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from classifiers import registry
    from classifiers.ml.serving import export_onnx, quantize_int8

    started = time.perf_counter()
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=labels).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    build = registry.new_temp_dir()
    build.mkdir(parents=True, exist_ok=True)
    # A small version, as registration stores one: a delta against BASE_MODEL's shared parts + the int8 ONNX.
    model = registry.save_small_artifacts(build, model, tokenizer, {
        "label_names": names, "kind": "single", "threshold": 0.5, "max_length": 128, "base_model": base_model})
    quantize_int8(export_onnx(model, build))
    registry.finish_small_artifacts(build)
    return build, {"build_s": round(time.perf_counter() - started, 1)}


def first_prediction(relpath: str, cache_dir: Path, env: dict) -> dict:
    """A fresh process: Django + torch imported, then fetch (if not cached), load and predict one text."""
    code = f"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / "bench")!r})
from _django import setup; setup()
from functools import partial
from classifiers import registry
from classifiers.ml.serving import Predictor, files_to_load
def rss_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024
rss0 = rss_mb()
t1 = time.perf_counter()
with registry.local_copy({relpath!r}, select=partial(files_to_load, use_int8=True)) as directory:
    t2 = time.perf_counter()
    predictor = Predictor(directory, use_int8=True)
t3 = time.perf_counter()
labels, _ = predictor.predict([{TEXT!r}])
t4 = time.perf_counter()
fetched = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
print(json.dumps({{"model_rss_mb": rss_mb() - rss0, "process_start_s": t1 - t0, "fetch_s": t2 - t1,
                  "load_s": t3 - t2, "predict_s": t4 - t3,
                  "first_prediction_s": t4 - t1, "bytes_on_this_machine": fetched}}))
"""
    done = subprocess.run([sys.executable, "-c", code], env={**env, "MODEL_CACHE_DIR": str(cache_dir)},
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in json.loads(done.stdout.splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a Hugging Face directory to register (default: BASE_MODEL, new head)")
    parser.add_argument("--labels", type=int, default=6)
    opts = parser.parse_args()

    moto = None
    if not os.environ.get("MODEL_STORE", "").startswith("s3://"):
        moto, endpoint = start_moto()
        os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto accepts any
                          AWS_DEFAULT_REGION="us-east-1", MODEL_STORE="s3://bench-models/eduplatform",
                          MODEL_STORE_S3_ADDRESSING_STYLE="path")
        import boto3

        boto3.client("s3").create_bucket(Bucket="bench-models")
    scratch = Path(tempfile.mkdtemp(prefix="bench-store-"))
    os.environ["MODEL_CACHE_DIR"] = str(scratch / "publisher-cache")
    setup()
    from django.conf import settings

    from classifiers import registry

    try:
        build, result = build_version(opts.model or settings.BASE_MODEL, opts.labels, settings.BASE_MODEL)
        files = {p.name: p.stat().st_size for p in build.iterdir() if p.is_file()}
        relpath = registry.version_relpath(0, 0, 1)
        started = time.perf_counter()
        registry.publish(build, relpath)
        result["publish_s"] = round(time.perf_counter() - started, 2)
        manifest = registry.store().manifest(relpath)
        parts = registry.read_meta(relpath)["artifacts"]["base_parts"]
        result.update(bytes_per_version=manifest.total_size, files=dict(sorted(files.items(), key=lambda kv: -kv[1])),
                      shared_base_bytes=registry.store().manifest(parts["path"]).total_size)
        cache_dir = scratch / "worker-cache"  # another machine: nothing cached yet
        cold = first_prediction(relpath, cache_dir, dict(os.environ))
        warm = first_prediction(relpath, cache_dir, dict(os.environ))
        result.update(cold_start_s=cold["first_prediction_s"], warm_start_s=warm["first_prediction_s"],
                      loaded_model_rss_mb=cold["model_rss_mb"],
                      serving_bytes_fetched=cold["bytes_on_this_machine"], cold=cold, warm=warm,
                      store=registry.describe_store(), model=opts.model or "BASE_MODEL with a new head",
                      load_average=os.getloadavg()[0])
        registry.delete_version_files(relpath)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if moto is not None:
            moto.terminate()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
