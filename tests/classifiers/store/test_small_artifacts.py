"""Small versions (issue 23, part 2): a weight delta against base-model parts stored once per base model.

A tiny BERT is fine-tuned with the product's recipe (embeddings trained, as below 10,000 rows), stored the way
registration stores it, published to a local store and to a real S3 API on loopback, and loaded back."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from classifiers import registry
from classifiers.ml import artifacts
from classifiers.ml.inference import encode, predict_logits, torch_runner
from classifiers.ml.serving import ONNX_INT8_FILE, Predictor, export_and_check, files_to_load
from classifiers.ml.training import TrainConfig, prepare_data, train_model
from tests.classifiers.helpers import WORDS
from tests.classifiers.store.helpers import bucket_keys
from tests.classifiers.tiny import tiny_bert

LABELS = ["negative", "neutral", "positive"]
TEXTS = [
    f"the lecture was {WORDS[name][i % 5]} and {WORDS[name][(i + 2) % 5]} {i}" for name in LABELS for i in range(30)
]
TARGETS = [[name] for name in LABELS for _ in range(30)]
PROBE = ["the lecture was great", "boring and rushed", "it was okay", "useless labs", "clear and helpful notes"]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> str:
    return tiny_bert(tmp_path_factory.mktemp("tiny") / "base")


def _train(base: str, tmp_path: Path, **options):  # noqa: ANN003, ANN202
    data = prepare_data(TEXTS, TARGETS, LABELS)
    recipe = {
        "epochs": 3,
        "learning_rate": 5e-3,
        "batch_size": 16,
        "max_length": 32,
        "freeze_embeddings": False,
        "refit_below": 0,
        **options,
    }
    result = train_model(data, TrainConfig(base_model=base, **recipe), tmp_path / "work")
    shutil.rmtree(tmp_path / "work", ignore_errors=True)
    return result, data


def _publish_small(result, data, base: str, number: int = 1) -> tuple[str, torch.nn.Module]:  # noqa: ANN001
    """As training's registration does: delta, ONNX export + checks on the rebuilt model, publish."""
    build = registry.new_temp_dir()
    meta = {"label_names": data.label_names, "kind": "single", "threshold": 0.5, "max_length": 32, "base_model": base}
    model = registry.save_small_artifacts(build, result.model, result.tokenizer, meta)
    export_and_check(
        model,
        result.tokenizer,
        build,
        data.val_texts,
        [t[0] for t in data.val_targets],
        max_length=32,
        num_labels=len(LABELS),
    )
    registry.finish_small_artifacts(build)
    relpath = registry.version_relpath(1, 1, number)
    registry.publish(build, relpath)
    return relpath, model


def _argmax(model: torch.nn.Module, tokenizer) -> list[int]:  # noqa: ANN001
    logits = predict_logits(torch_runner(model.eval()), encode(tokenizer, PROBE, 32), pad_id=0, num_labels=3)
    return logits.argmax(-1).tolist()


@pytest.fixture(params=["local", "s3"])
def any_store(request) -> str:
    return request.getfixturevalue("s3_model_store") if request.param == "s3" else "local"


def test_a_small_version_stores_only_its_delta_and_serves_the_model_it_checked(any_store, tiny_base, tmp_path):
    result, data = _train(tiny_base, tmp_path)
    relpath, stored_model = _publish_small(result, data, tiny_base)

    names = set(registry.store().manifest(relpath).names())
    assert names == {artifacts.DELTA_FILE, "config.json", "eduplatform.json", ONNX_INT8_FILE}
    # Rebuilt from the delta: the int8 per-row differences change no prediction of the trained model.
    assert _argmax(stored_model, result.tokenizer) == _argmax(result.model, result.tokenizer)

    # Served as a worker loads it (int8 ONNX, its embeddings rebuilt from the base's) and with torch (full weights).
    with registry.local_copy(relpath, select=partial(files_to_load, use_int8=True)) as directory:
        assert "model.safetensors" not in {p.name for p in directory.iterdir()}
        int8 = Predictor(directory, use_int8=True)
    with registry.local_copy(relpath, select=partial(files_to_load, use_int8=False, backend="torch")) as directory:
        fp32 = Predictor(directory, backend="torch")
    expected = [LABELS[i] for i in _argmax(stored_model, result.tokenizer)]
    assert [out.labels[0] for out in fp32.predict(PROBE)[0]] == expected
    assert np.mean([out.labels[0] == want for out, want in zip(int8.predict(PROBE)[0], expected, strict=True)]) >= 0.8


def test_unseen_tokens_keep_the_base_embedding_rows_exactly_unless_the_old_decay_is_asked_for(tiny_base, tmp_path):
    result, _ = _train(tiny_base, tmp_path)
    base = artifacts.base_state(tiny_base)
    seen = {i for text in TEXTS for i in result.tokenizer(text)["input_ids"]}
    tensors, meta = artifacts.encode_delta(result.model, base)
    changed = set(tensors[f"rows:{meta['embedding']}"].tolist())
    assert changed and changed <= seen

    frozen, data = _train(tiny_base, tmp_path, freeze_embeddings=True, unfreeze_below=0)
    tensors, meta = artifacts.encode_delta(frozen.model, base)
    assert len(tensors[f"rows:{meta['embedding']}"]) == 0  # a frozen matrix: no row stored
    relpath, stored = _publish_small(frozen, data, tiny_base)
    with registry.local_copy(relpath) as directory:
        assert Predictor(directory, backend="torch").predict(PROBE)[0]

    decayed, _ = _train(tiny_base, tmp_path, decay_embeddings=True)
    tensors, meta = artifacts.encode_delta(decayed.model, base)
    assert len(tensors[f"rows:{meta['embedding']}"]) > len(seen)  # the recipe before: every row drifts


def test_versions_share_one_copy_of_the_base_parts_and_deleting_one_keeps_them(
    s3_model_store, tiny_base, tmp_path, settings
):
    result, data = _train(tiny_base, tmp_path)
    first, _ = _publish_small(result, data, tiny_base, number=1)
    second, _ = _publish_small(result, data, tiny_base, number=2)
    base_keys = [key for key in bucket_keys() if f"/{registry.BASE_ROOT}/" in key]
    assert len([key for key in base_keys if key.endswith(artifacts.BASE_WEIGHTS)]) == 1
    assert not [
        key
        for key in bucket_keys(first)
        if key.endswith((".safetensors", "tokenizer.json")) and not key.endswith(artifacts.DELTA_FILE)
    ]

    registry.delete_version_files(first)
    assert bucket_keys(first) == [] and [key for key in bucket_keys() if f"/{registry.BASE_ROOT}/" in key] == base_keys
    settings.MODEL_CACHE_DIR = tmp_path / "another-machine"
    with registry.local_copy(second, select=partial(files_to_load, use_int8=True)) as directory:
        assert Predictor(directory, use_int8=True).predict(PROBE)[0]


def test_a_version_whose_base_parts_are_missing_or_changed_refuses_to_load_saying_so(
    any_store, tiny_base, tmp_path, settings
):
    result, data = _train(tiny_base, tmp_path)
    relpath, _ = _publish_small(result, data, tiny_base)
    parts = registry.read_meta(relpath)["artifacts"]["base_parts"]

    changed = registry.new_temp_dir()
    changed.mkdir(parents=True, exist_ok=True)
    (changed / artifacts.BASE_WEIGHTS).write_bytes(b"not the weights it was trained on")
    registry.store().delete(parts["path"])
    registry.publish(changed, parts["path"])
    settings.MODEL_CACHE_DIR = tmp_path / "fresh-cache"
    with pytest.raises(registry.BasePartsMissing, match="checksums differ"), registry.local_copy(relpath):
        pass

    registry.store().delete(parts["path"])
    with pytest.raises(registry.BasePartsMissing, match="missing from the model store"), registry.local_copy(relpath):
        pass


def test_the_export_of_a_small_version_loads_in_a_plain_pipeline(tiny_base, tmp_path):
    from transformers import pipeline

    result, data = _train(tiny_base, tmp_path)
    relpath, stored_model = _publish_small(result, data, tiny_base)
    exported = registry.export_version(relpath, tmp_path / "export")
    assert {"model.safetensors", "config.json", "tokenizer.json", ONNX_INT8_FILE, artifacts.EMBEDDINGS_FILE} <= {
        p.name for p in exported.iterdir()
    }
    classifier = pipeline("text-classification", model=str(exported), device="cpu")
    assert [out["label"] for out in classifier(PROBE)] == [LABELS[i] for i in _argmax(stored_model, result.tokenizer)]
    # The zip (API download) holds the same files.
    archive = b"".join(registry.export_version_zip(relpath, folder="v1"))
    assert b"v1/model.safetensors" in archive and b"v1/" + ONNX_INT8_FILE.encode() in archive


def test_a_version_stored_as_full_files_before_still_loads(tiny_base, tmp_path):
    result, data = _train(tiny_base, tmp_path)
    build = registry.new_temp_dir()
    registry.save_artifacts(
        build,
        result.model,
        result.tokenizer,
        {"label_names": LABELS, "kind": "single", "threshold": 0.5, "max_length": 32, "base_model": tiny_base},
    )
    relpath = registry.version_relpath(1, 1, 1)
    registry.publish(build, relpath)
    assert not registry.is_small_version(relpath)
    with registry.local_copy(relpath) as directory:
        predictor = Predictor(directory, backend="torch")
    assert [out.labels[0] for out in predictor.predict(PROBE)[0]] == [
        LABELS[i] for i in _argmax(result.model, result.tokenizer)
    ]


def _scores(predictor: Predictor, texts: list[str]) -> tuple[list[str], np.ndarray]:
    outputs, _ = predictor.predict(texts)
    return [out.labels[0] for out in outputs], np.array([[out.scores[name] for name in LABELS] for out in outputs])


@pytest.mark.parametrize("embeddings", ["trained", "frozen"])
def test_a_small_version_serves_beside_the_shared_base_matrix_as_its_rebuilt_model_does(
    any_store, tiny_base, tmp_path, embeddings
):
    from classifiers.ml import serving

    options = {"freeze_embeddings": True, "unfreeze_below": 0} if embeddings == "frozen" else {}
    result, data = _train(tiny_base, tmp_path, **options)
    first, _ = _publish_small(result, data, tiny_base, number=1)
    second, _ = _publish_small(result, data, tiny_base, number=2)
    parts = registry.read_meta(first)["artifacts"]["base_parts"]
    serving._SHARED_BASES.clear()

    shared = []
    for relpath in (first, second):
        with registry.stored_files(relpath) as directory:
            key = artifacts.base_embedding_key(artifacts.delta_metadata(directory))
            rows, _ = artifacts.changed_embedding_rows(directory, artifacts.base_state(tiny_base)[key])
            with registry.base_parts_copy(parts, needed_by=relpath) as base_dir:
                base = serving.shared_base(parts["digest"], base_dir, key)
            shared.append(serving.small_version_predictor(directory, base, threads=1))
    assert (len(rows) > 0) == (embeddings == "trained")  # the row fix is exercised, or the graph is as exported
    # One matrix and one tokenizer for both versions; nothing rebuilt or written for them.
    assert shared[0].tokenizer is shared[1].tokenizer and len(serving._SHARED_BASES) == 1
    assert not list(registry.cache().root.rglob(artifacts.EMBEDDINGS_FILE))

    texts = PROBE + TEXTS[::3]
    with registry.local_copy(first, select=partial(files_to_load, use_int8=True)) as directory:
        rebuilt = Predictor(directory, use_int8=True, threads=1)  # what served before: materialize + its file
    want_labels, want_scores = _scores(rebuilt, texts)
    for predictor in shared:
        labels, scores = _scores(predictor, texts)
        assert labels == want_labels
        np.testing.assert_allclose(scores, want_scores, atol=1e-5)


@pytest.mark.django_db
def test_the_worker_path_serves_a_small_int8_version_from_its_stored_files(tiny_base, tmp_path, settings):
    from classifiers.classification import services
    from classifiers.ml import serving
    from tests.factories import CourseFactory, ModelVersionFactory

    result, data = _train(tiny_base, tmp_path)
    relpath, _ = _publish_small(result, data, tiny_base)
    course = CourseFactory()
    version = ModelVersionFactory(schema=course.schemas.get(name="sentiment"), course=course, path=relpath,
                                  label_names=LABELS, max_length=32, use_int8=True)
    serving._SHARED_BASES.clear()
    settings.INFERENCE_THREADS = 1
    predictor, file_bytes = services._load_predictor(version)
    assert [base.tokenizer for base in serving._SHARED_BASES.values()] == [predictor.tokenizer]
    assert file_bytes == (registry.absolute(relpath) / ONNX_INT8_FILE).stat().st_size
    assert not list(registry.cache().root.rglob(artifacts.EMBEDDINGS_FILE))  # no materialized directory
    with registry.local_copy(relpath, select=partial(files_to_load, use_int8=True)) as directory:
        expected, _ = _scores(Predictor(directory, use_int8=True, threads=1), PROBE)
    assert _scores(predictor, PROBE)[0] == expected
