"""The fine-tuning recipe: data split, Hugging Face Trainer with our defaults, evaluation; Django-free.

Defaults that work without tuning on CPU and GPU (see README "Training"): learning rate 1e-4 (MiniLM
needs far more than BERT's 2e-5), warm-up then linear decay, dynamic padding with length-grouped
batches, a frozen word-embedding matrix (half of MiniLM's parameters: skipping its gradient and
AdamW update is the largest CPU saving after padding, at no measurable accuracy cost), class-weighted
loss when classes are imbalanced, best epoch by validation macro-F1 with early stopping, kept in
memory instead of checkpoint files.

Small data (below `refit_below` / `unfreeze_below` labelled rows, 10,000 by default): the embeddings
train too (their cost is small there, and informal course text needs them), and after the epoch is chosen
on the validation split a fresh model is trained on train + validation for that many epochs, so the
15 % hold-out is not lost to a model that has only a few thousand rows (README "Small data").
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_callback import PrinterCallback
from transformers.utils import logging as hf_logging

from classifiers.ml import evaluation
from classifiers.ml.inference import encode, predict_logits, to_probabilities, torch_runner

# Re-exported: the options and the enough-data rule live apart, where the web process can read them.
from classifiers.ml.training_config import (  # noqa: F401
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_LENGTH,
    MAX_MIN_PER_LABEL,
    MAX_PATIENCE,
    MAX_ROWS_THRESHOLD,
    MAX_SEED,
    MAX_STEPS,
    CancelledError,
    ClassBalance,
    DataRefused,
    PreparedData,
    TrainConfig,
    check_class_balance,
)

# Above this ratio of most to least frequent label the loss is class-weighted.
IMBALANCE_RATIO = 1.5
# Cap on a multi-label positive weight: a label with a handful of examples would otherwise dominate its
# gradient (sqrt(neg/pos) is 55 for 2 positives in 6,000 rows).
MAX_POSITIVE_WEIGHT = 10.0
# The progress callback reports at most this often (each report is a database write on the worker).
PROGRESS_EVERY_S = 2.0


def prepare_data(
    texts: Sequence[str], labels: Sequence[Sequence[str]], label_names: Sequence[str], *,
    multi_label: bool = False, ordinal: bool = False, splits: Sequence[str] | None = None,
    validation_fraction: float = 0.15, min_per_label: int = 8, seed: int = 42, refuse_rare: bool = False,
) -> PreparedData:
    """Validate the class balance and split train/validation (the import's split when it has one).

    Rows whose suggested split is `test` are held out of both. Labels nobody used are dropped from
    the model's outputs; labels with fewer than `min_per_label` examples are left out (see
    `check_class_balance`): removed from every row's targets, and rows left without a label are dropped
    from training and validation alike.
    """
    splits = list(splits) if splits is not None else [""] * len(texts)
    labelled = [i for i, s in enumerate(splits) if s != "test" and labels[i]]
    balance = Counter(name for i in labelled for name in labels[i])
    checked = check_class_balance(balance, label_names, min_per_label=min_per_label, refuse_rare=refuse_rare)
    index = {name: i for i, name in enumerate(checked.learnable)}
    targets = {i: [index[n] for n in labels[i] if n in index] for i in labelled}
    keep = [i for i in labelled if targets[i]]
    val_rows = [i for i in keep if splits[i] == "validation"]
    if val_rows and len(val_rows) < len(keep):
        train_rows, source = [i for i in keep if splits[i] != "validation"], "import"
    else:
        train_rows, val_rows = train_test_split(
            keep, test_size=validation_fraction, random_state=seed,
            stratify=[min(targets[i]) for i in keep],
        )
        source = "stratified"
    return PreparedData(
        label_names=checked.learnable, multi_label=multi_label, ordinal=ordinal,
        train_texts=[texts[i] for i in train_rows], train_targets=[targets[i] for i in train_rows],
        val_texts=[texts[i] for i in val_rows], val_targets=[targets[i] for i in val_rows],
        class_balance={name: balance[name] for name in checked.learnable}, split_source=source,
        not_learned=checked.not_learned,
    )


@dataclass
class TrainResult:
    report: dict
    threshold: float
    epochs_done: float
    best_epoch: float
    train_runtime_s: float
    train_samples_per_s: float
    train_cpu_s: float  # CPU seconds of this process: a throughput figure other load does not distort
    model: torch.nn.Module
    tokenizer: object
    recipe: dict = field(default_factory=dict)  # which small-data steps applied (small_data_plan + refit epochs)


class _ListDataset(torch.utils.data.Dataset):
    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]


def _rows(tokenizer, texts: list[str], targets: list[list[int]], n: int, multi: bool, max_length: int) -> list:  # noqa: ANN001
    enc = encode(tokenizer, texts, max_length)
    rows = []
    for ids, target in zip(enc.input_ids, targets, strict=True):
        if multi:
            label: object = [1.0 if k in target else 0.0 for k in range(n)]
        else:
            label = target[0]
        rows.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": label})
    return rows


def _imbalanced(counts: np.ndarray) -> bool:
    return counts.min() > 0 and counts.max() / counts.min() > IMBALANCE_RATIO


def class_weights(targets: list[list[int]], n: int) -> torch.Tensor | None:
    """Square-root inverse-frequency weights (mean 1) when the classes are imbalanced, else None."""
    counts = np.bincount([t[0] for t in targets], minlength=n).astype(float)
    if not _imbalanced(counts):
        return None
    w = np.sqrt(counts.sum() / (n * counts))
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def positive_weights(targets: list[list[int]], n: int) -> torch.Tensor | None:
    """Multi-label BCE `pos_weight`: sqrt(negatives / positives) per label (capped) when the labels are
    imbalanced, else None. Without it rare labels never outscore the decision threshold and the model
    learns only the frequent ones (GoEmotions: macro-F1 0.02, every row "neutral")."""
    positives = np.bincount([k for t in targets for k in t], minlength=n).astype(float)
    if not _imbalanced(positives):
        return None
    ratio = np.sqrt((len(targets) - positives) / positives)
    return torch.tensor(np.minimum(ratio, MAX_POSITIVE_WEIGHT), dtype=torch.float32)


class _Progress(TrainerCallback):
    """Reports step/epoch/loss/ETA, keeps the best epoch's weights in memory, stops early, cancels."""

    def __init__(
        self, on_progress: Callable[[dict], bool] | None, patience: int, *, phase: str = "train",
        evaluations: list[dict] | None = None, best_f1: float = -1.0,
    ) -> None:
        self.on_progress, self.patience, self.phase = on_progress, patience, phase
        self.best_f1, self.best_epoch, self.best_state, self.bad_epochs = best_f1, 0.0, None, 0
        self.loss, self.last_report, self.started, self.cancelled = None, 0.0, time.monotonic(), False
        # validation figures per evaluation, for the run's page (a refit phase carries its first phase's)
        self.evaluations: list[dict] = evaluations if evaluations is not None else []

    def _report(self, state, control, force: bool = False) -> None:  # noqa: ANN001
        now = time.monotonic()
        if self.on_progress is None or (not force and now - self.last_report < PROGRESS_EVERY_S):
            return
        self.last_report = now
        elapsed = now - self.started
        eta = elapsed / state.global_step * (state.max_steps - state.global_step) if state.global_step else None
        progress = {
            "step": state.global_step, "total_steps": state.max_steps, "epoch": round(state.epoch or 0, 3),
            "loss": self.loss, "eta_s": round(eta, 1) if eta is not None else None,
            "best_f1_macro": self.best_f1 if self.best_f1 >= 0 else None,
            "evaluations": self.evaluations, "phase": self.phase,
        }
        if self.on_progress(progress):
            self.cancelled = True
            control.should_training_stop = True
            control.should_evaluate = False

    def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001
        if logs and "loss" in logs:
            self.loss = round(float(logs["loss"]), 4)

    def on_train_begin(self, args, state, control, **kw):  # noqa: ANN001
        self._report(state, control, force=True)  # each phase announces itself (and its step total)

    def on_step_end(self, args, state, control, **kw):  # noqa: ANN001
        self._report(state, control)

    def on_train_end(self, args, state, control, **kw):  # noqa: ANN001
        self._report(state, control, force=True)  # the last figures of each phase, whatever the throttle

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kw):  # noqa: ANN001
        f1 = (metrics or {}).get("eval_f1_macro", -1.0)
        accuracy = (metrics or {}).get("eval_accuracy")  # single-label only
        micro = (metrics or {}).get("eval_f1_micro")  # multi-label only
        self.evaluations.append({"epoch": round(state.epoch or 0, 2), "f1_macro": round(f1, 4),
                                 "accuracy": round(accuracy, 4) if accuracy is not None else None,
                                 **({"f1_micro": round(micro, 4)} if micro is not None else {})})
        if f1 > self.best_f1:
            self.best_f1, self.best_epoch, self.bad_epochs = f1, state.epoch, 0
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                control.should_training_stop = True
        self._report(state, control, force=True)


def _compute_metrics(multi: bool) -> Callable:
    def compute(pred) -> dict:  # noqa: ANN001 - EvalPrediction
        logits, labels = pred.predictions, pred.label_ids
        if multi:
            # At the threshold registration will tune; the best epoch is chosen by macro-F1 as for the other
            # kinds (micro-F1 prefers an early epoch that predicts only the most frequent label).
            probs = to_probabilities(logits, multi_label=True)
            predicted = (probs >= evaluation.tune_threshold(labels, probs)).astype(int)
            return {"f1_macro": f1_score(labels, predicted, average="macro", zero_division=0),
                    "f1_micro": f1_score(labels, predicted, average="micro", zero_division=0)}
        pred_labels = logits.argmax(-1)
        return {"f1_macro": f1_score(labels, pred_labels, average="macro"),
                "accuracy": float((pred_labels == labels).mean())}

    return compute


def _loss_func(weights: torch.Tensor | None, multi: bool) -> Callable:
    """Cross-entropy with class weights, or BCE with positive weights (multi-label); None: unweighted."""
    def loss(outputs, labels, num_items_in_batch=None):  # noqa: ANN001 - Trainer's signature
        logits = outputs.logits
        w = weights.to(logits.device, logits.dtype) if weights is not None else None
        if multi:
            return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), pos_weight=w)
        return torch.nn.functional.cross_entropy(logits, labels, weight=w)

    return loss


def _use_cuda(config: TrainConfig) -> bool:
    return config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())


def training_arguments(
    config: TrainConfig, output_dir: Path, steps_per_epoch: int, *, evaluate: bool = True
) -> TrainingArguments:
    cuda = _use_cuda(config)
    bf16 = cuda and torch.cuda.is_bf16_supported()
    return TrainingArguments(
        output_dir=str(output_dir), num_train_epochs=config.epochs, max_steps=config.max_steps,
        learning_rate=config.learning_rate, weight_decay=config.weight_decay,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=max(64, config.batch_size),
        warmup_steps=config.warmup_ratio, lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length",
        eval_strategy="no" if not evaluate else "epoch" if config.max_steps < 0 else "steps",
        eval_steps=max(1, config.max_steps) if evaluate and config.max_steps > 0 else None,
        save_strategy="no", logging_strategy="steps", logging_steps=max(1, min(50, steps_per_epoch // 4)),
        seed=config.seed, data_seed=config.seed, use_cpu=not cuda, bf16=bf16, fp16=cuda and not bf16,
        report_to="none", disable_tqdm=True, dataloader_num_workers=0,
    )


def _new_model(config: TrainConfig, data: PreparedData, *, trainable_embeddings: bool) -> torch.nn.Module:
    n = len(data.label_names)
    model = AutoModelForSequenceClassification.from_pretrained(
        config.base_model, num_labels=n,
        id2label=dict(enumerate(data.label_names)), label2id={k: i for i, k in enumerate(data.label_names)},
        problem_type="multi_label_classification" if data.multi_label else "single_label_classification",
    )
    if not trainable_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    return model


def small_data_plan(config: TrainConfig, n_rows: int) -> dict:
    """Which parts of the small-data recipe apply to a run of `n_rows` labelled rows (train + validation)."""
    return {
        "trainable_embeddings": not config.freeze_embeddings or n_rows < config.unfreeze_below,
        "refit": n_rows < config.refit_below,
    }


def train_model(
    data: PreparedData, config: TrainConfig, work_dir: Path, *, on_progress: Callable[[dict], bool] | None = None
) -> TrainResult:
    """Fine-tune `config.base_model` on `data`; raises CancelledError when `on_progress` returns True.

    Below `config.refit_below` rows the epoch is chosen on the validation split as usual, then a fresh
    model is trained on train + validation for that many epochs: the one it serves. The reported figures
    stay those of the held-out run (the refit model has no unseen rows left to measure on).
    """
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.manual_seed(config.seed)
    n, multi = len(data.label_names), data.multi_label
    plan = small_data_plan(config, len(data.train_texts) + len(data.val_texts))
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    model = _new_model(config, data, trainable_embeddings=plan["trainable_embeddings"])
    train_rows = _rows(tokenizer, data.train_texts, data.train_targets, n, multi, config.max_length)
    val_rows = _rows(tokenizer, data.val_texts, data.val_targets, n, multi, config.max_length)
    weights = None
    if config.class_weighting:
        weights = positive_weights(data.train_targets, n) if multi else class_weights(data.train_targets, n)
    callback = _Progress(on_progress, config.patience, phase="choose epoch" if plan["refit"] else "train")
    started, cpu_started = time.monotonic(), time.process_time()
    steps, epochs_done = _fit(model, tokenizer, config, work_dir, train_rows, val_rows, weights, multi, callback,
                              epochs=config.epochs, max_steps=config.max_steps)
    if callback.best_state is not None:
        model.load_state_dict(callback.best_state)
    report, threshold = evaluate_model(model, tokenizer, data, config.max_length)
    refit_epochs = None
    if plan["refit"] and config.max_steps < 0:
        refit_epochs = max(1, round(callback.best_epoch))
        torch.manual_seed(config.seed)
        model = _new_model(config, data, trainable_embeddings=plan["trainable_embeddings"])
        refit_callback = _Progress(on_progress, 0, phase="refit on all rows", evaluations=callback.evaluations,
                                   best_f1=callback.best_f1)
        more, _ = _fit(model, tokenizer, config, work_dir, train_rows + val_rows, None, weights, multi,
                       refit_callback, epochs=refit_epochs, max_steps=-1)
        steps += more
    runtime, cpu = time.monotonic() - started, time.process_time() - cpu_started
    return TrainResult(
        report=report, threshold=threshold, epochs_done=epochs_done, best_epoch=float(callback.best_epoch),
        train_runtime_s=round(runtime, 2), train_cpu_s=round(cpu, 2),
        train_samples_per_s=round(steps * config.batch_size / runtime, 2) if runtime else 0.0,
        model=model, tokenizer=tokenizer,
        recipe={**plan, "refit_epochs": refit_epochs, "refit_rows": len(train_rows) + len(val_rows)
                if refit_epochs else None},
    )


class _Trainer(Trainer):
    """Leaves the word-embedding matrix out of weight decay unless `decay_embeddings` (see TrainConfig)."""

    decay_embeddings = False

    def get_decay_parameter_names(self, model: torch.nn.Module) -> list[str]:
        names = super().get_decay_parameter_names(model)
        if self.decay_embeddings:
            return names
        weight = model.get_input_embeddings().weight
        embedding = {name for name, param in model.named_parameters() if param is weight}
        return [name for name in names if name not in embedding]


def _fit(
    model: torch.nn.Module, tokenizer, config: TrainConfig, work_dir: Path, train_rows: list, val_rows: list | None,  # noqa: ANN001
    weights: torch.Tensor | None, multi: bool, callback: _Progress, *, epochs: int, max_steps: int,
) -> tuple[int, float]:
    """One Trainer run (evaluating each epoch when `val_rows` is given); returns (steps, epochs done)."""
    steps_per_epoch = math.ceil(len(train_rows) / config.batch_size)
    args = training_arguments(dataclasses.replace(config, epochs=epochs, max_steps=max_steps), work_dir,
                              steps_per_epoch, evaluate=val_rows is not None)
    trainer = _Trainer(
        model=model, args=args, train_dataset=_ListDataset(train_rows),
        eval_dataset=_ListDataset(val_rows) if val_rows is not None else None,
        processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
        compute_loss_func=_loss_func(weights, multi), compute_metrics=_compute_metrics(multi), callbacks=[callback],
    )
    trainer.decay_embeddings = config.decay_embeddings
    trainer.remove_callback(PrinterCallback)  # progress goes to on_progress, not to stdout
    trainer.train()
    if callback.cancelled:
        raise CancelledError("training was cancelled")
    return trainer.state.global_step, float(trainer.state.epoch or 0)


def evaluate_model(model: torch.nn.Module, tokenizer, data: PreparedData, max_length: int) -> tuple[dict, float]:  # noqa: ANN001
    """The full evaluation report on the validation split (and the tuned multi-label threshold)."""
    logits = predict_logits(
        torch_runner(model), encode(tokenizer, data.val_texts, max_length),
        pad_id=tokenizer.pad_token_id or 0, num_labels=len(data.label_names),
    )
    n = len(data.label_names)
    if data.multi_label:
        probs = to_probabilities(logits, multi_label=True)
        y = np.array([[int(k in t) for k in range(n)] for t in data.val_targets])
        train_y = np.array([[int(k in t) for k in range(n)] for t in data.train_targets])
        threshold = evaluation.tune_threshold(y, probs)
        report = evaluation.multi_label_report(y, probs, data.label_names, threshold=threshold, train_true=train_y)
        return evaluation.with_not_learned(report, data.not_learned), threshold
    report = evaluation.single_label_report(
        [t[0] for t in data.val_targets], logits.argmax(-1).tolist(), data.label_names,
        train_labels=[t[0] for t in data.train_targets], ordinal=data.ordinal,
    )
    return evaluation.with_not_learned(report, data.not_learned), 0.5

