"""The training options, their bounds and the enough-data rule: what the web process needs of the recipe.

Django-free, and free of torch, transformers and scikit-learn: starting a run (validating its options and
its data) happens in a web request, and the web process never loads the ML stack (tests/test_web_imports.py).
The recipe itself is classifiers.ml.training, which re-exports these names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from classifiers.ml import evaluation

# Upper bounds on the training options. One run holds the (single) training queue until it ends, so an
# option a caller may raise without limit is a way to block every other course's training for the task's
# 6-hour limit or to run the worker out of memory. Each bound sits well above what the recipe needs.
MAX_EPOCHS = 50  # best epochs are 2-5 on every data set we benchmarked; early stopping ends most runs sooner
MAX_PATIENCE = 20  # more epochs without improvement than this is no early stopping at all
MAX_STEPS = 100_000  # ~8 epochs of 400k rows at batch 32; larger data sets train by epochs
MAX_BATCH_SIZE = 512  # activations grow with batch x length; 512 x 512 tokens already needs a large GPU
MAX_LENGTH = 512  # the position-embedding size of BERT-family base models: longer inputs cannot be encoded
MAX_MIN_PER_LABEL = 10_000  # a minimum above this refuses every real course; it is a typo, not a choice
MAX_SEED = 2**32 - 1  # numpy's seed range
MAX_ROWS_THRESHOLD = 1_000_000  # a small-data threshold above this refits every course's run: twice the work


class DataRefused(ValueError):
    """The annotations cannot train a model (too few labels or examples); the message says why."""


class CancelledError(RuntimeError):
    """Training stopped because cancellation was requested."""


@dataclass
class TrainConfig:
    base_model: str
    epochs: int = 5
    learning_rate: float = 1e-4
    batch_size: int = 32
    max_length: int = 128
    seed: int = 42
    class_weighting: bool = True
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    patience: int = 2
    freeze_embeddings: bool = True
    # The small-data recipe (README "Training"): below these many labelled rows the word embeddings train
    # too, and the model that serves is refit on train + validation for the epoch validation chose.
    unfreeze_below: int = 10_000
    refit_below: int = 10_000
    # Weight decay on the word-embedding matrix (the recipe before small artifacts). Off: rows of tokens the
    # training text never uses stay the base model's exactly, so a version stores only the rows it changed.
    decay_embeddings: bool = False
    validation_fraction: float = 0.15
    min_per_label: int = 8
    max_steps: int = -1
    device: str = "auto"

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """A validated config; unknown keys and wrong types are refused with the key's name."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown training option(s): {', '.join(unknown)} (known: {', '.join(known)})")
        clean = {}
        for key, value in values.items():
            kind = {"int": int, "float": float, "bool": bool, "str": str}[str(known[key].type)]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"training option {key!r} must be {kind.__name__}, got {value!r}")
            clean[key] = value
        config = cls(**clean)
        config.validate()
        return config

    def validate(self) -> None:
        """Every option inside its range; the message names the option and its limits."""
        checks = [
            (1 <= self.epochs <= MAX_EPOCHS, f"epochs must be between 1 and {MAX_EPOCHS}, got {self.epochs}"),
            (0 < self.learning_rate < 1, "learning_rate must be between 0 and 1"),
            (1 <= self.batch_size <= MAX_BATCH_SIZE,
             f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {self.batch_size}"),
            (8 <= self.max_length <= MAX_LENGTH,
             f"max_length must be between 8 and {MAX_LENGTH}, got {self.max_length}"),
            (0 <= self.patience <= MAX_PATIENCE, f"patience must be between 0 and {MAX_PATIENCE}, got {self.patience}"),
            (self.max_steps == -1 or 1 <= self.max_steps <= MAX_STEPS,
             f"max_steps must be -1 (train by epochs) or between 1 and {MAX_STEPS}, got {self.max_steps}"),
            (0 <= self.warmup_ratio < 1, f"warmup_ratio must be between 0 and 1, got {self.warmup_ratio}"),
            (0 <= self.weight_decay < 1, f"weight_decay must be between 0 and 1, got {self.weight_decay}"),
            (0 <= self.seed <= MAX_SEED, f"seed must be between 0 and {MAX_SEED}, got {self.seed}"),
            (0 < self.validation_fraction < 0.5, "validation_fraction must be between 0 and 0.5"),
            (2 <= self.min_per_label <= MAX_MIN_PER_LABEL,
             f"min_per_label must be between 2 and {MAX_MIN_PER_LABEL}, got {self.min_per_label}"),
            (self.device in ("auto", "cpu", "cuda"), "device must be auto, cpu or cuda"),
            (0 <= self.unfreeze_below <= MAX_ROWS_THRESHOLD,
             f"unfreeze_below must be between 0 and {MAX_ROWS_THRESHOLD}, got {self.unfreeze_below}"),
            (0 <= self.refit_below <= MAX_ROWS_THRESHOLD,
             f"refit_below must be between 0 and {MAX_ROWS_THRESHOLD}, got {self.refit_below}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class PreparedData:
    label_names: list[str]
    multi_label: bool
    train_texts: list[str]
    train_targets: list[list[int]]
    val_texts: list[str]
    val_targets: list[list[int]]
    class_balance: dict[str, int] = field(default_factory=dict)
    split_source: str = "stratified"
    ordinal: bool = False
    # Labels with examples but fewer than `min_per_label`, left out of this run: name → examples.
    not_learned: dict[str, int] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        return evaluation.not_learned_warnings(self.not_learned)


@dataclass(frozen=True)
class ClassBalance:
    """What a run can learn: the labels it trains on (schema order) and the rare ones it leaves out, with counts."""

    learnable: list[str]
    not_learned: dict[str, int]

    @property
    def warnings(self) -> list[str]:
        return evaluation.not_learned_warnings(self.not_learned)


def check_class_balance(
    balance: Mapping[str, int], label_names: Sequence[str], *, min_per_label: int, refuse_rare: bool = False,
) -> ClassBalance:
    """The labels a model can learn and those it leaves out, or DataRefused saying what is missing.

    The one enough-data rule: the training service asks it before queueing a run, `prepare_data` on the worker.
    Unused labels (no examples) are dropped silently. A used label with fewer than `min_per_label` examples
    is left out of the run (the version never predicts it; the run and its report say so), so one rare
    point of a scale does not stop the whole schema from training; at least 2 labels must remain.
    `refuse_rare` (the schema's `rare_labels = refuse`) refuses instead, naming every rare label.
    """
    used = [name for name in label_names if balance.get(name, 0) > 0]
    if len(used) < 2:
        raise DataRefused(
            f"need examples of at least 2 labels to train, found {len(used)} ({', '.join(used) or 'none'}); "
            "annotate more feedback first"
        )
    rare = {name: balance[name] for name in used if balance[name] < min_per_label}
    short = ", ".join(f"{name} ({count})" for name, count in rare.items())
    if rare and refuse_rare:
        raise DataRefused(f"every label needs at least {min_per_label} annotated examples; too few for: {short}")
    learnable = [name for name in used if name not in rare]
    if len(learnable) < 2:
        enough = ", ".join(f"{name} ({balance[name]})" for name in learnable) or "none"
        raise DataRefused(
            f"need at least 2 labels with at least {min_per_label} annotated examples each to train, "
            f"found {len(learnable)} ({enough}); too few for: {short}; annotate more feedback first"
        )
    return ClassBalance(learnable=learnable, not_learned=rare)
