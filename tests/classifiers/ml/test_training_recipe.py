"""The training recipe itself (Django-free): multi-label weighting and the choice of the best epoch."""

from __future__ import annotations

import pytest

from classifiers.ml.training import (
    MAX_POSITIVE_WEIGHT,
    TrainConfig,
    positive_weights,
    prepare_data,
    small_data_plan,
    train_model,
)
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


# --- The small-data recipe: trainable embeddings and a refit on train + validation below a size ---

def test_small_data_plan_follows_the_thresholds():
    config = TrainConfig(base_model="x", unfreeze_below=5_000, refit_below=3_000)
    assert small_data_plan(config, 2_999) == {"trainable_embeddings": True, "refit": True}
    assert small_data_plan(config, 3_000) == {"trainable_embeddings": True, "refit": False}
    assert small_data_plan(config, 5_000) == {"trainable_embeddings": False, "refit": False}
    # freeze_embeddings=False trains them at every size; thresholds of 0 switch the small-data steps off.
    assert small_data_plan(TrainConfig(base_model="x", freeze_embeddings=False, unfreeze_below=0, refit_below=0),
                           10) == {"trainable_embeddings": True, "refit": False}


def _sentiment_data(rows: int = 90):
    names = ["negative", "neutral", "positive"]
    texts = [f"the lecture was {WORDS[names[i % 3]][i % 5]} {i}" for i in range(rows)]
    return prepare_data(texts, [[names[i % 3]] for i in range(rows)], names)


def test_below_the_threshold_the_served_model_is_refit_on_all_rows_for_the_chosen_epoch(tmp_path):
    data = _sentiment_data()
    config = TrainConfig(base_model=tiny_bert(tmp_path / "tiny-base"), epochs=3, learning_rate=5e-3, batch_size=16,
                         max_length=32, patience=10)
    seen: list[dict] = []
    result = train_model(data, config, tmp_path / "work", on_progress=lambda p: seen.append(p) and False)
    refit_epochs = max(1, round(result.best_epoch))
    assert result.recipe == {"trainable_embeddings": True, "refit": True, "refit_epochs": refit_epochs,
                             "refit_rows": 90}
    first = [p for p in seen if p["phase"] == "choose epoch"]
    refit = [p for p in seen if p["phase"] == "refit on all rows"]
    assert seen.index(refit[0]) > seen.index(first[-1])
    # The first phase: 76 training rows (5 steps of 16 per epoch); the refit: all 90 rows (6 steps per epoch).
    assert first[-1]["total_steps"] == 5 * 3 and refit[0]["total_steps"] == 6 * refit_epochs
    assert refit[-1]["evaluations"] == first[-1]["evaluations"]  # the run's page keeps the epochs' figures
    assert result.model.get_input_embeddings().weight.requires_grad
    # The reported figures are the held-out run's: 14 validation rows.
    assert result.report["samples"] == len(data.val_texts) == 14


def test_at_or_above_the_threshold_the_recipe_is_unchanged(tmp_path):
    data = _sentiment_data()
    config = TrainConfig(base_model=tiny_bert(tmp_path / "tiny-base"), epochs=2, learning_rate=5e-3, batch_size=16,
                         max_length=32, unfreeze_below=90, refit_below=90)
    seen: list[dict] = []
    result = train_model(data, config, tmp_path / "work", on_progress=lambda p: seen.append(p) and False)
    assert result.recipe == {"trainable_embeddings": False, "refit": False, "refit_epochs": None, "refit_rows": None}
    assert {p["phase"] for p in seen} == {"train"}
    assert not result.model.get_input_embeddings().weight.requires_grad
