"""Evaluation reports (accuracy, F1, per-class scores, confusion matrix, QWK) beside a majority baseline.

Django-free: used by the worker, the benchmarks and the tests alike. scikit-learn is imported by the
functions that score, not by the module: the web process reads `not_learned_warnings` only, and never
loads scikit-learn for it (tests/test_web_imports.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

# Thresholds tried when tuning the multi-label decision threshold on the validation split.
THRESHOLD_GRID = tuple(round(t, 2) for t in np.arange(0.05, 0.96, 0.05))


def _per_class(y_true: Sequence[int], y_pred: Sequence[int], names: Sequence[str]) -> dict[str, dict]:
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(len(names))), zero_division=0
    )
    return {
        name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, name in enumerate(names)
    }


def _single_scores(y_true: Sequence[int], y_pred: Sequence[int], n: int, ordinal: bool) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

    labels = list(range(n))
    scores = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "f1_weighted": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
    }
    if ordinal:
        # Quadratic weighted kappa: off-by-two on a scale is worse than off-by-one.
        qwk = cohen_kappa_score(y_true, y_pred, labels=labels, weights="quadratic")
        scores["qwk"] = 0.0 if np.isnan(qwk) else float(qwk)
    return scores


def single_label_report(
    y_true: Sequence[int], y_pred: Sequence[int], label_names: Sequence[str], *,
    train_labels: Sequence[int], ordinal: bool = False,
) -> dict:
    """The report for single-label and ordinal schemas, with the majority-class baseline beside it.

    The baseline always predicts the most frequent label of the training split, evaluated on the
    same split as the model.
    """
    from sklearn.metrics import confusion_matrix

    n = len(label_names)
    majority = Counter(train_labels).most_common(1)[0][0]
    baseline_pred = [majority] * len(y_true)
    model = _single_scores(y_true, y_pred, n, ordinal)
    baseline = _single_scores(y_true, baseline_pred, n, ordinal)
    return {
        "kind": "ordinal" if ordinal else "single",
        "samples": len(y_true),
        **model,
        "baseline": {**baseline, "strategy": f"always '{label_names[majority]}' (majority class)"},
        "beats_baseline": beats_baseline(model, baseline),
        "per_class": _per_class(y_true, y_pred, label_names),
        "baseline_per_class": _per_class(y_true, baseline_pred, label_names),
        "label_names": list(label_names),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=list(range(n))).tolist(),
    }


def beats_baseline(model: dict[str, float], baseline: dict[str, float]) -> bool:
    """Macro-F1 is the selection metric (accuracy alone rewards predicting the majority class)."""
    key = "f1_macro" if "f1_macro" in model else "f1_micro"
    return model[key] > baseline[key] + 1e-9


def _multi_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "f1_micro": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "subset_accuracy": float(accuracy_score(y_true, y_pred)),
    }


def tune_threshold(y_true: np.ndarray, probs: np.ndarray) -> float:
    """The decision threshold maximising micro-F1 on the validation split (ties: the lower one)."""
    from sklearn.metrics import f1_score

    best_t, best_f1 = 0.5, -1.0
    for t in THRESHOLD_GRID:
        pred = (probs >= t).astype(int)
        f1 = f1_score(y_true, pred, average="micro", zero_division=0)
        if f1 > best_f1 + 1e-12:
            best_t, best_f1 = float(t), float(f1)
    return best_t


def multi_label_report(
    y_true: np.ndarray, probs: np.ndarray, label_names: Sequence[str], *, threshold: float, train_true: np.ndarray
) -> dict:
    """Micro/macro F1 and per-label scores; the baseline predicts the most frequent training label."""
    from sklearn.metrics import precision_recall_fscore_support

    y_pred = (probs >= threshold).astype(int)
    baseline_pred = np.zeros_like(y_true)
    top = int(np.asarray(train_true).sum(axis=0).argmax())
    baseline_pred[:, top] = 1
    model, baseline = _multi_scores(y_true, y_pred), _multi_scores(y_true, baseline_pred)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    return {
        "kind": "multi",
        "samples": int(len(y_true)),
        "threshold": threshold,
        **model,
        "baseline": {**baseline, "strategy": f"always '{label_names[top]}' (most frequent label)"},
        "beats_baseline": beats_baseline(model, baseline),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(label_names)
        },
        "label_names": list(label_names),
    }


def not_learned_warnings(not_learned: dict[str, int]) -> list[str]:
    """One sentence per label a run left out for having too few examples (the same words on every page)."""
    return [
        f"label {name}: {count} example{'s' if count != 1 else ''}, not learned; this version never predicts it"
        for name, count in not_learned.items()
    ]


def with_not_learned(report: dict, not_learned: dict[str, int]) -> dict:
    """The report with the labels the model was not trained on (name → examples) and their warnings.

    Its scores cover the learned labels only: the left-out labels' rows were in neither split.
    """
    return {**report, "not_learned": dict(not_learned), "warnings": not_learned_warnings(not_learned)}
