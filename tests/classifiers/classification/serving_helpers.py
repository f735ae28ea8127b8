"""A fine-tuned tiny model with its ONNX exports, trained once per session, and versions serving it.

Training goes through the product's recipe (`classifiers.ml.training`) and export through the one used at
registration (`classifiers.ml.serving.export_and_check`), so the files are what a real version holds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import factory

from classifiers import registry
from classifiers.ml.serving import export_and_check
from classifiers.ml.training import TrainConfig, prepare_data, train_model
from classifiers.models import ModelVersion
from classifiers.training.versions import activate_model_version
from courses.models import Course
from tests.classifiers.helpers import WORDS
from tests.classifiers.tiny import tiny_bert
from tests.factories import ModelVersionFactory

LABELS = ["negative", "neutral", "positive"]
MAX_LENGTH = 32  # short, so "very long text" is easy to make


def build_serving_dir(directory: Path) -> Path:
    """Train the tiny BERT a few epochs on keyword sentences; save it like `_register` does."""
    if (directory / "eduplatform.json").exists():
        return directory
    texts, labels = [], []
    for name in LABELS:
        for i in range(40):
            texts.append(f"the lecture was {WORDS[name][i % 5]} and {WORDS[name][(i + 2) % 5]} {i}")
            labels.append([name])
    data = prepare_data(texts, labels, LABELS)
    config = TrainConfig(base_model=tiny_bert(directory.parent / "tiny-base"), epochs=6, learning_rate=5e-3,
                         batch_size=16, freeze_embeddings=False, max_length=MAX_LENGTH,
                         refit_below=0)  # the model whose epoch validation chose: these tests need a confident one
    build = directory.with_name(directory.name + ".build")
    result = train_model(data, config, build / "work")
    shutil.rmtree(build / "work")
    meta = {"label_names": data.label_names, "kind": "single", "threshold": result.threshold,
            "max_length": MAX_LENGTH, "base_model": config.base_model, "metrics": result.report}
    registry.save_artifacts(build, result.model, result.tokenizer, meta)
    check = export_and_check(result.model, result.tokenizer, build, data.val_texts,
                             [t[0] for t in data.val_targets], max_length=MAX_LENGTH, num_labels=len(LABELS))
    (build / "serving-check.json").write_text(json.dumps(check.as_dict()))
    build.rename(directory)
    return directory


def serving_version(course: Course, source: Path, *, number: int = 1, activate: bool = True,
                    classify: bool = False) -> ModelVersion:
    """A version of the course's sentiment schema serving a copy of `source`, optionally activated."""
    check = json.loads((source / "serving-check.json").read_text())
    version = ModelVersionFactory(
        schema=course.schemas.get(name="sentiment"), course=course, number=number, label_names=LABELS,
        max_length=MAX_LENGTH, beats_baseline=True, onnx_path=factory.LazyAttribute(lambda o: f"{o.path}/model.onnx"),
        use_int8=check["use_int8"], metrics={"f1_macro": 0.9, "baseline": {"f1_macro": 0.2}, "serving": check},
    )
    build = registry.new_temp_dir()  # the files a trained version holds, published as training does
    shutil.copytree(source, build, dirs_exist_ok=True)
    registry.publish(build, version.path)
    if activate:
        version = activate_model_version(version, actor=None, classify=classify)
    return version
