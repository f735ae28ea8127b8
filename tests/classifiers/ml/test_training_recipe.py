"""The training recipe itself (Django-free): multi-label weighting and the choice of the best epoch."""

from __future__ import annotations

import pytest

from classifiers.ml.training import MAX_POSITIVE_WEIGHT, TrainConfig, positive_weights, prepare_data, train_model
from tests.classifiers.helpers import WORDS
from tests.classifiers.tiny import tiny_bert


def test_positive_weights_favour_rare_labels_and_are_capped():
    # 1,000 rows: label 0 in half of them, label 1 in 40, label 2 in 2.
    targets = [[0] if i % 2 else [] for i in range(1000)]
    for i in range(40):
        targets[i * 2].append(1)
    targets[0].append(2)
    targets[2].append(2)
    weights = positive_weights(targets, 3).tolist()
    assert weights[0] == pytest.approx(1.0)
    assert weights[1] == pytest.approx((960 / 40) ** 0.5, rel=1e-5)
    assert weights[2] == MAX_POSITIVE_WEIGHT  # sqrt(998 / 2) ≈ 22 before the cap


def test_balanced_multi_label_data_trains_unweighted():
    assert positive_weights([[0], [1], [0, 1], [1], [0]], 2) is None


def test_multi_label_training_keeps_the_epoch_with_the_best_validation_macro_f1(tmp_path):
    names = ["negative", "neutral", "positive"]
    texts, labels = [], []
    for i in range(90):
        first, second = names[i % 3], names[(i // 3) % 3]
        texts.append(f"the lecture was {WORDS[first][i % 5]} and {WORDS[second][(i + 1) % 5]} {i}")
        labels.append(sorted({first, second}))
    data = prepare_data(texts, labels, names, multi_label=True)
    config = TrainConfig(base_model=tiny_bert(tmp_path / "tiny-base"), epochs=4, learning_rate=5e-3, batch_size=16,
                         freeze_embeddings=False, max_length=32, patience=10)
    seen: list[dict] = []
    result = train_model(data, config, tmp_path / "work", on_progress=lambda p: seen.append(p) and False)
    evaluations = seen[-1]["evaluations"]
    assert [e["epoch"] for e in evaluations] == [1.0, 2.0, 3.0, 4.0]
    assert all(0 <= e["f1_micro"] <= 1 and 0 <= e["f1_macro"] <= 1 for e in evaluations)
    best = max(evaluations, key=lambda e: e["f1_macro"])  # the first of equals, as the callback keeps it
    assert result.best_epoch == best["epoch"]
