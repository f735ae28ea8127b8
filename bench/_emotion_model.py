"""The benchmark's model: MiniLM fine-tuned on dair-ai emotion, registered as a version of a bench course.

Registration goes through the same pieces as a trained version (a small version: registry.save_small_artifacts,
the fp32 + int8 ONNX export of the rebuilt model with its validation check, registry.finish_small_artifacts and
publish, activation), and the checks read it back through registry.local_copy, so the benchmark serves and
measures exactly what the product would.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from _django import ROOT
from benchdata import seeded_sample

# Where `bench/training.py --save-model var/bench-emotion-model` leaves the fully trained model.
TRAINED_MODEL = ROOT / "var" / "bench-emotion-model"
MAX_LENGTH = 128


def read_split(path: Path) -> list[tuple[str, str]]:
    """One dair-ai emotion split file (`text;label` lines after a header)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        text, _, label = line.rpartition(";")
        rows.append((text, label))
    return rows


def quick_fine_tune(train: list, val: list, out: Path, *, rows: int = 4000, steps: int = 300) -> Path:
    """A few hundred steps of the product's recipe on a few thousand rows (~3 minutes on 2 cores)."""
    from django.conf import settings

    from classifiers.ml.training import TrainConfig, prepare_data, train_model

    if (out / "config.json").exists():
        return out
    names = sorted({label for _, label in train})
    part, held = seeded_sample(train, rows), seeded_sample(val, 500)
    data = prepare_data(
        [t for t, _ in part + held], [[y] for _, y in part + held], names,
        splits=["train"] * len(part) + ["validation"] * len(held),
    )
    config = TrainConfig(base_model=settings.BASE_MODEL, max_steps=steps, batch_size=32, max_length=MAX_LENGTH)
    started = time.monotonic()
    print(f"fine-tuning {settings.BASE_MODEL} for {steps} steps on {len(part)} emotion rows …", file=sys.stderr)
    work = out.with_name(out.name + ".work")
    result = train_model(data, config, work)
    shutil.rmtree(work, ignore_errors=True)
    result.model.save_pretrained(out, safe_serialization=True)
    result.tokenizer.save_pretrained(out)
    print(f"fine-tuned in {time.monotonic() - started:.0f}s: validation {result.report}", file=sys.stderr)
    return out


def label_names(model) -> list[str]:  # noqa: ANN001 - a transformers model
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if any(name.startswith("LABEL_") for name in names):
        sys.exit(f"the model's config has no label names ({names}); save it with id2label set")
    return names


def register(course, model_dir: Path, val: list[tuple[str, str]]):  # noqa: ANN001, ANN201 - Course → ModelVersion
    """A small version (weight delta against BASE_MODEL's shared parts + int8 ONNX without its embedding matrix),
    made in the order training's `_register` makes it: save the delta, export and check what it rebuilds,
    finish, publish, activate. `model_dir` must be a fine-tune of BASE_MODEL."""
    from django.conf import settings
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from classifiers import registry
    from classifiers.labelling.schemas import create_schema
    from classifiers.ml.serving import ONNX_INT8_FILE, export_and_check
    from classifiers.models import ModelVersion
    from classifiers.training.versions import activate_model_version

    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    names = label_names(model)
    schema = create_schema("emotion", kind="single", course=course, labels=names, actor=None)
    build = registry.new_temp_dir()
    meta = {"label_names": names, "kind": "single", "threshold": 0.5, "max_length": MAX_LENGTH,
            "base_model": settings.BASE_MODEL}
    model = registry.save_small_artifacts(build, model, tokenizer, meta)
    index = {name: i for i, name in enumerate(names)}
    check = export_and_check(model, tokenizer, build, [t for t, _ in val], [index[y] for _, y in val],
                             max_length=MAX_LENGTH, num_labels=len(names))
    registry.finish_small_artifacts(build)
    parts = registry.base_parts_of(build)
    relpath = registry.version_relpath(schema.pk, course.pk, 1)
    registry.publish(build, relpath)
    version = ModelVersion.objects.create(
        schema=schema, course=course, number=1, path=relpath, base_model=settings.BASE_MODEL,
        base_parts=parts["path"], label_names=names, max_length=MAX_LENGTH, beats_baseline=True,
        onnx_path=f"{relpath}/{ONNX_INT8_FILE}" if check.use_int8 else "", use_int8=check.use_int8,
        metrics={"serving": check.as_dict(), "f1_macro": 1.0, "baseline": {"f1_macro": 0.0}},
    )
    return activate_model_version(version, actor=None, classify=False)


def test_split_checks(version, test: list[tuple[str, str]]) -> dict:  # noqa: ANN001
    """On the test split, the version as the store gives it back (registry.local_copy: rebuilt from its delta):
    fp32 ONNX vs torch argmax agreement (a small version stores no fp32 ONNX: the rebuilt model is exported
    here, as registration's check exports it) and the served int8's accuracy delta."""
    import tempfile

    import numpy as np
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from classifiers import registry
    from classifiers.ml.inference import encode, onnx_runner, predict_logits, torch_runner
    from classifiers.ml.serving import ONNX_FILE, ONNX_INT8_FILE, export_onnx, onnx_session

    with registry.local_copy(version.path) as path, tempfile.TemporaryDirectory() as scratch:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path).eval()
        enc = encode(tokenizer, [t for t, _ in test], version.max_length)
        n = len(version.label_names)

        def argmax(run) -> np.ndarray:  # noqa: ANN001
            return predict_logits(run, enc, pad_id=tokenizer.pad_token_id, num_labels=n).argmax(-1)

        ref = argmax(torch_runner(model))
        fp32_file = path / ONNX_FILE if (path / ONNX_FILE).is_file() else export_onnx(model, Path(scratch))
        fp32 = argmax(onnx_runner(onnx_session(fp32_file)))
        int8 = argmax(onnx_runner(onnx_session(path / ONNX_INT8_FILE)))
    truth = np.array([version.label_names.index(y) for _, y in test])
    torch_acc, int8_acc = float((ref == truth).mean()), float((int8 == truth).mean())
    return {
        "agreement_fp32": round(float((ref == fp32).mean()), 5),
        "torch_accuracy": round(torch_acc, 4), "int8_accuracy": round(int8_acc, 4),
        "int8_accuracy_delta": round(100 * (torch_acc - int8_acc), 3),  # points
        "int8_agreement": round(float((ref == int8).mean()), 5),
    }
