"""The enough-data rule (Django-free): a rare label is left out of the run, not a reason to refuse the schema."""

from __future__ import annotations

import pytest

from classifiers.ml.evaluation import single_label_report, with_not_learned
from classifiers.ml.training import ClassBalance, DataRefused, check_class_balance, prepare_data

SCALE = ["1", "2", "3", "4", "5", "6", "7"]


def _scale_rows(counts: dict[str, int]) -> tuple[list[str], list[list[str]]]:
    texts, labels = [], []
    for name, n in counts.items():
        for i in range(n):
            texts.append(f"point {name} remark {i}")
            labels.append([name])
    return texts, labels


def test_a_rare_label_is_left_out_with_its_count_and_unused_labels_are_dropped_silently():
    balance = {"1": 12, "2": 9, "3": 0, "4": 8, "7": 2}
    checked = check_class_balance(balance, SCALE, min_per_label=8)
    assert checked == ClassBalance(learnable=["1", "2", "4"], not_learned={"7": 2})
    assert checked.warnings == ["label 7: 2 examples, not learned; this version never predicts it"]


def test_one_example_is_worded_in_the_singular():
    checked = check_class_balance({"a": 8, "b": 8, "c": 1}, ["a", "b", "c"], min_per_label=8)
    assert checked.warnings == ["label c: 1 example, not learned; this version never predicts it"]


def test_fewer_than_two_learnable_labels_is_refused_naming_the_counts():
    with pytest.raises(DataRefused) as refused:
        check_class_balance({"positive": 12, "negative": 3, "neutral": 5}, ["negative", "neutral", "positive"],
                            min_per_label=8)
    assert str(refused.value) == (
        "need at least 2 labels with at least 8 annotated examples each to train, found 1 (positive (12)); "
        "too few for: negative (3), neutral (5); annotate more feedback first"
    )


def test_fewer_than_two_used_labels_keeps_its_message():
    with pytest.raises(DataRefused, match=r"^need examples of at least 2 labels to train, found 1 \(positive\)"):
        check_class_balance({"positive": 20}, ["negative", "positive"], min_per_label=8)


def test_refuse_rare_restores_the_old_refusal_naming_every_rare_label():
    balance = {"1": 12, "2": 9, "4": 8, "6": 5, "7": 2}
    with pytest.raises(DataRefused) as refused:
        check_class_balance(balance, SCALE, min_per_label=8, refuse_rare=True)
    assert str(refused.value) == "every label needs at least 8 annotated examples; too few for: 6 (5), 7 (2)"
    assert check_class_balance({"1": 8, "2": 8}, SCALE, min_per_label=8, refuse_rare=True).not_learned == {}


def test_prepare_data_drops_the_rows_of_a_left_out_label_from_both_splits():
    texts, labels = _scale_rows({"1": 10, "2": 10, "3": 10, "7": 2})
    data = prepare_data(texts, labels, SCALE, ordinal=True, validation_fraction=0.2)
    assert data.label_names == ["1", "2", "3"] and data.not_learned == {"7": 2}
    assert not [t for t in data.train_texts + data.val_texts if t.startswith("point 7 ")]
    assert len(data.train_texts) + len(data.val_texts) == 30
    assert {k for t in data.train_targets + data.val_targets for k in t} == {0, 1, 2}
    assert data.class_balance == {"1": 10, "2": 10, "3": 10}
    assert data.warnings == ["label 7: 2 examples, not learned; this version never predicts it"]


def test_prepare_data_keeps_the_import_split_without_the_left_out_rows():
    texts, labels = _scale_rows({"1": 10, "2": 10, "7": 3})
    splits = (["train"] * 8 + ["validation"] * 2) * 2 + ["train", "validation", "train"]
    data = prepare_data(texts, labels, SCALE, splits=splits)
    assert data.split_source == "import"
    assert len(data.train_texts) == 16 and len(data.val_texts) == 4
    assert data.not_learned == {"7": 3}


def test_multi_label_drops_the_rare_label_from_targets_and_rows_left_with_none():
    names = ["labs", "exams", "pace"]
    texts = [f"row {i}" for i in range(23)]
    labels = [["labs"]] * 10 + [["exams"]] * 10 + [["labs", "pace"], ["pace"], ["exams", "pace"]]
    data = prepare_data(texts, labels, names, multi_label=True, validation_fraction=0.2)
    assert data.label_names == ["labs", "exams"] and data.not_learned == {"pace": 3}
    kept = dict(zip(data.train_texts + data.val_texts, data.train_targets + data.val_targets, strict=True))
    assert "row 21" not in kept  # only "pace": nothing left to learn from it
    assert kept["row 20"] == [0] and kept["row 22"] == [1]  # "pace" removed, the learnable label kept
    assert len(kept) == 22


def test_the_evaluation_report_carries_what_was_not_learned():
    report = single_label_report([0, 1, 1], [0, 1, 0], ["1", "2"], train_labels=[0, 1, 1])
    assert "not_learned" not in report
    noted = with_not_learned(report, {"7": 2})
    assert noted["not_learned"] == {"7": 2} and noted["label_names"] == ["1", "2"]
    assert noted["warnings"] == ["label 7: 2 examples, not learned; this version never predicts it"]
    assert with_not_learned(report, {})["warnings"] == []
