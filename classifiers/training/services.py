"""Training runs: start (queued on commit), cancel, and the worker side that trains and registers.

The ML itself is in classifiers.ml.training (Django-free); this module moves data between the database,
the recipe and the model store, and keeps the run's state honest whatever happens.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import shutil
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max

from classifiers import registry
from classifiers.ml.evaluation import not_learned_warnings
from classifiers.ml.serving import ONNX_INT8_FILE, ServingCheck, export_and_check

# The options and the enough-data rule only: the recipe (torch, transformers, scikit-learn) is imported by the
# worker-side functions below, so the web process that starts runs never loads it (tests/test_web_imports.py).
from classifiers.ml.training_config import (
    CancelledError,
    ClassBalance,
    DataRefused,
    PreparedData,
    TrainConfig,
    check_class_balance,
)
from classifiers.models import LabelSchema, ModelVersion, RareLabels, SchemaKind, TrainingRun
from classifiers.selectors import training_labels
from classifiers.training.versions import activate_first_version
from courses.models import Course, Feedback
from courses.permissions import Action, authorize
from eduplatform.celery import app as celery_app
from eduplatform.errors import BROKER_ERRORS, BrokerUnavailable, DomainError
from eduplatform.jobs import ACTIVE_STATUSES, JobStatus, claim_job, finish_job, heartbeat

logger = logging.getLogger(__name__)


class TrainingRefused(DomainError):
    """Training cannot start; `field` names the input at fault (e.g. "config") when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def default_config(overrides: dict | None = None) -> TrainConfig:
    """The recipe's defaults on BASE_MODEL, with the caller's overrides validated."""
    try:
        return TrainConfig.from_dict({"base_model": settings.BASE_MODEL, **(overrides or {})})
    except ValueError as exc:
        raise TrainingRefused(str(exc), field="config") from exc


def _check_scope(schema: LabelSchema, course: Course | None) -> None:
    if course is None and not schema.is_institution_wide:
        raise TrainingRefused(
            f"schema {schema.name!r} belongs to course {schema.course.code}; train it for that course",
            field="schema",
        )
    if course is not None and schema.course_id not in (None, course.pk):
        raise TrainingRefused(
            f"schema {schema.name!r} belongs to course {schema.course.code}, not {course.code}", field="schema"
        )


def check_enough_data(schema: LabelSchema, *, course: Course | None, config: TrainConfig) -> ClassBalance:
    """Refuse up front (before queueing) when the annotations cannot train a model; else what it can learn.

    The rule is the recipe's own (`check_class_balance`, which the worker applies again in
    `prepare_data`), over the same rows: items held out as `test` do not count.
    """
    labels = training_labels(schema, course=course)
    held_out = set(Feedback.objects.filter(pk__in=list(labels), split="test").values_list("pk", flat=True))
    balance = Counter(name for pk, names in labels.items() if pk not in held_out for name in names)
    label_names = list(schema.labels.order_by("position").values_list("name", flat=True))
    try:
        return check_class_balance(balance, label_names, min_per_label=config.min_per_label,
                                   refuse_rare=_refuses_rare(schema))
    except DataRefused as exc:
        raise TrainingRefused(str(exc)) from exc


def _refuses_rare(schema: LabelSchema) -> bool:
    return schema.rare_labels == RareLabels.REFUSE


def start_training_run(
    schema: LabelSchema, *, course: Course | None, config: dict | None = None,
    actor: AbstractBaseUser | None, dispatch: bool = True,
) -> TrainingRun:
    """Create a queued run and enqueue its task when the transaction commits.

    `course=None` trains institution-wide (administrators only). `dispatch=False` leaves the run queued
    for an in-process `run_training` (manage.py train --inline).
    """
    authorize(actor, Action.TRAIN, course)
    _check_scope(schema, course)
    train_config = default_config(config)
    learnable = check_enough_data(schema, course=course, config=train_config)
    try:
        with transaction.atomic():
            _check_queue_room(course)
            run = TrainingRun.objects.create(
                schema=schema, course=course, config=train_config.as_dict(), actor=actor,
                # What the check foresees, shown while the run waits; the worker records what it trained on.
                data_summary=_not_learned_summary(learnable.not_learned),
                celery_task_id=str(uuid.uuid4()) if dispatch else "",
            )
            if dispatch:
                transaction.on_commit(lambda: _enqueue(run.pk, run.celery_task_id))
    except IntegrityError as exc:
        active = TrainingRun.objects.filter(schema=schema, course=course, status__in=ACTIVE_STATUSES).first()
        what = f"training run {active.pk} is already {active.status}" if active else "a training run is active"
        raise TrainingRefused(f"{what} for this scope; wait for it or cancel it") from exc
    return run


def _check_queue_room(course: Course | None) -> None:
    """Refuse a run when its course already has TRAINING_MAX_QUEUED_PER_COURSE runs waiting.

    Locks the course row first so two concurrent starts cannot both see room for one more run.
    """
    if course is not None:
        Course.objects.select_for_update().filter(pk=course.pk).first()
    limit = settings.TRAINING_MAX_QUEUED_PER_COURSE
    queued = TrainingRun.objects.filter(course=course, status=JobStatus.QUEUED).count()
    if queued >= limit:
        scope = f"course {course.code}" if course is not None else "the institution-wide scope"
        raise TrainingRefused(
            f"{scope} already has {queued} training run(s) queued (the limit is {limit}); "
            "wait for one to start or cancel one"
        )


def _enqueue(run_id: int, task_id: str) -> None:
    # Lazy: classifiers.tasks imports this module (tasks call services), so a module-level import is a cycle.
    from classifiers.tasks import run_training_task

    try:
        run_training_task.apply_async((run_id,), task_id=task_id, retry=False)
    except BROKER_ERRORS as exc:
        finish_job(TrainingRun, run_id, JobStatus.FAILED, error=f"could not queue the run, broker unreachable: {exc}")
        raise BrokerUnavailable(f"training run {run_id} could not be queued: the task broker is unreachable") from exc


def cancel_training_run(run: TrainingRun, *, actor: AbstractBaseUser | None) -> TrainingRun:
    """Queued: cancelled at once. Running: the worker stops at its next step and records cancelled."""
    authorize(actor, Action.CANCEL_TRAINING, run.course)
    who = getattr(actor, "username", "the system")
    if run.status == JobStatus.QUEUED:
        finish_job(TrainingRun, run.pk, JobStatus.CANCELLED, error=f"cancelled by {who} before it started")
        if run.celery_task_id:
            _revoke(run.celery_task_id)
    elif run.status == JobStatus.RUNNING:
        TrainingRun.objects.filter(pk=run.pk, status=JobStatus.RUNNING).update(cancel_requested=True)
    else:
        raise TrainingRefused(f"training run {run.pk} is already {run.status}")
    logger.info("training run %s cancel requested by %s", run.pk, who)
    run.refresh_from_db()
    return run


def _revoke(task_id: str) -> None:
    try:
        celery_app.control.revoke(task_id)
    except BROKER_ERRORS:  # the row is cancelled already; a delivered message finds it cancelled and does nothing
        logger.warning("could not revoke task %s (broker unreachable)", task_id, exc_info=True)


# --- Worker side ---------------------------------------------------------------------------------------


def gather_data(run: TrainingRun, config: TrainConfig) -> tuple[PreparedData, dict]:
    """The scope's current annotations as a prepared split, and the summary that makes it auditable."""
    import torch
    import transformers

    from classifiers.ml.training import prepare_data

    labels, rows = _training_rows(run.schema, run.course)
    ids, texts, splits = [], [], []
    for pk, text, split in rows:
        ids.append(pk)
        texts.append(text)
        splits.append(split)
    label_names = list(run.schema.labels.order_by("position").values_list("name", flat=True))
    data = prepare_data(
        texts, [labels[pk] for pk in ids], label_names,
        multi_label=run.schema.kind == SchemaKind.MULTI, ordinal=run.schema.kind == SchemaKind.ORDINAL,
        splits=splits, validation_fraction=config.validation_fraction, min_per_label=config.min_per_label,
        seed=config.seed, refuse_rare=_refuses_rare(run.schema),
    )
    summary = {
        "annotations": len(ids), "class_balance": data.class_balance, "train_size": len(data.train_texts),
        "validation_size": len(data.val_texts), "split": data.split_source, "label_names": data.label_names,
        "rare_labels": run.schema.rare_labels, **_not_learned_summary(data.not_learned),
        "training_set_sha256": _digest(ids, texts, labels),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__},
    }
    return data, summary


def _not_learned_summary(not_learned: dict[str, int]) -> dict:
    """The run's record of the labels it leaves out (name → examples) and the warning sentences."""
    return {"not_learned": dict(not_learned), "warnings": not_learned_warnings(not_learned)}


def _training_rows(schema: LabelSchema, course: Course | None) -> tuple[dict[int, list[str]], list[tuple]]:
    labels = training_labels(schema, course=course)
    rows = Feedback.objects.filter(pk__in=list(labels)).order_by("pk").values_list("pk", "redacted_text", "split")
    return labels, list(rows.iterator(chunk_size=5000))


def _digest(ids: list[int], texts: list[str], labels: dict[int, list[str]]) -> str:
    """What a run trained on, as one hash: ids, redacted texts and labels in id order."""
    digest = hashlib.sha256()
    for pk, text in zip(ids, texts, strict=True):
        digest.update(json.dumps([pk, text, sorted(labels[pk])]).encode())
    return digest.hexdigest()


def current_version_for_data(schema: LabelSchema, *, course: Course | None) -> ModelVersion | None:
    """The scope's active version when it was trained on exactly the current annotations, else None."""
    version = ModelVersion.objects.filter(schema=schema, course=course, is_active=True).select_related(
        "training_run").first()
    if version is None or version.training_run is None:
        return None
    labels, rows = _training_rows(schema, course)
    current = _digest([r[0] for r in rows], [r[1] for r in rows], labels)
    return version if version.training_run.data_summary.get("training_set_sha256") == current else None


def _progress_writer(run_id: int, extra: Callable[[dict], None] | None) -> Callable[[dict], bool]:
    def write(progress: dict) -> bool:
        if extra is not None:
            extra(progress)
        return heartbeat(TrainingRun, run_id, progress=progress)

    return write


def run_training(run_id: int, *, on_progress: Callable[[dict], None] | None = None) -> TrainingRun:
    """Claim, train, register. Safe to call twice: a second delivery finds the run claimed and returns."""
    import torch

    from classifiers.ml.training import train_model

    if not claim_job(TrainingRun, run_id):
        logger.info("training run %s was already claimed; nothing to do", run_id)
        return TrainingRun.objects.get(pk=run_id)
    run = TrainingRun.objects.select_related("schema", "course", "actor").get(pk=run_id)
    build: Path | None = None
    try:
        config = TrainConfig.from_dict(run.config)
        data, summary = gather_data(run, config)
        TrainingRun.objects.filter(pk=run_id).update(data_summary=summary)
        build = registry.new_temp_dir()
        result = train_model(data, config, build / "work", on_progress=_progress_writer(run_id, on_progress))
        shutil.rmtree(build / "work", ignore_errors=True)
        heartbeat(TrainingRun, run_id)
        _register(run, build, result, config, summary, data)
        build = None
    except (DataRefused, ValueError) as exc:
        finish_job(TrainingRun, run_id, JobStatus.FAILED, error=str(exc))
    except CancelledError:
        finish_job(TrainingRun, run_id, JobStatus.CANCELLED, error="cancelled while running")
    except (torch.OutOfMemoryError, MemoryError) as exc:
        finish_job(TrainingRun, run_id, JobStatus.FAILED, error=(
            f"out of memory while training (batch_size={run.config.get('batch_size')}, "
            f"max_length={run.config.get('max_length')}): lower them and start again. {type(exc).__name__}: {exc}"
        ))
    except Exception as exc:
        logger.exception("training run %s failed", run_id)
        finish_job(TrainingRun, run_id, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
    finally:
        registry.discard(build)
    run.refresh_from_db()
    return run


def _register(
    run: TrainingRun, build: Path, result, config: TrainConfig, summary: dict, data: PreparedData  # noqa: ANN001
) -> ModelVersion | None:
    """Write the artifacts, publish them (complete or not at all), then record the version and finish the run."""
    report = {**result.report, "threshold": result.threshold, "epochs_done": result.epochs_done,
              "best_epoch": result.best_epoch, "train_samples_per_s": result.train_samples_per_s,
              "train_runtime_s": result.train_runtime_s, "train_cpu_s": result.train_cpu_s, "recipe": result.recipe}
    meta = {"label_names": summary["label_names"], "kind": run.schema.kind, "threshold": result.threshold,
            "max_length": config.max_length, "base_model": config.base_model, "metrics": report,
            "config": config.as_dict(), "data_summary": summary, "training_run": run.pk}
    # The version stores a delta against its base model's shared parts; from here on the model is the one
    # rebuilt from that delta, so the ONNX export and its checks see exactly what serves and exports.
    result.model = registry.save_small_artifacts(build, result.model, result.tokenizer, meta)
    heartbeat(TrainingRun, run.pk)
    check = _export_for_serving(build, result, data, config)
    registry.finish_small_artifacts(build)
    report["serving"] = check.as_dict() if check else {"onnx": "export failed; serving with torch"}
    scope = ModelVersion.objects.filter(schema=run.schema, course=run.course)
    number = (scope.aggregate(m=Max("number"))["m"] or 0) + 1
    relpath = registry.version_relpath(run.schema_id, run.course_id, number)
    # A small version keeps only the int8 ONNX; when int8 is not accurate enough, torch serves.
    serving = {"onnx_path": f"{relpath}/{ONNX_INT8_FILE}" if check.use_int8 else "",
               "use_int8": check.use_int8} if check else {}
    parts = registry.base_parts_of(build)
    registry.publish(build, relpath)
    try:
        with transaction.atomic():
            locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
            if locked.status != JobStatus.RUNNING:  # cancelled or reaped meanwhile: keep nothing
                raise _Abandoned(locked.status)
            version = ModelVersion.objects.create(
                schema=run.schema, course=run.course, training_run=locked, number=number, path=relpath,
                base_model=config.base_model, base_parts=parts["path"] if parts else "",
                label_names=summary["label_names"], max_length=config.max_length,
                metrics=report, beats_baseline=report["beats_baseline"], **serving,
            )
            finish_job(TrainingRun, run.pk, JobStatus.SUCCEEDED, metrics=report)
    except (_Abandoned, IntegrityError):
        registry.delete_version_files(relpath)
        return None
    if parts:
        _keep_base_parts(version, parts)
    _activate_first_version(version, run)
    return version


def _export_for_serving(build: Path, result, data: PreparedData, config: TrainConfig) -> ServingCheck | None:  # noqa: ANN001
    """ONNX fp32 + int8 beside the weights, checked against torch on the validation split."""
    try:
        return export_and_check(
            result.model, result.tokenizer, build, data.val_texts, [t[0] for t in data.val_targets],
            max_length=config.max_length, num_labels=len(data.label_names),
        )
    except Exception:  # the torch model still serves; the report says export failed
        logger.exception("ONNX export failed for %s", build)
        return None


def _keep_base_parts(version: ModelVersion, parts: dict) -> None:
    """Now that the row names them, the base parts stay; check they are still there, and publish them again if
    not. A safety net for one request: the collection of unused parts never takes those of a run in progress
    (classifiers.training.versions.delete_unused_base_parts), but a hand in the store could."""
    try:
        registry.restore_base_parts(parts)
    except registry.StoreError:
        logger.exception("%s cannot load until its base-model parts %s are back in the model store", version,
                         parts["path"])


class _Abandoned(Exception):
    pass


def _activate_first_version(version: ModelVersion, run: TrainingRun) -> None:
    """The scope's first good model goes live by itself; later ones wait for staff to compare and activate."""
    others = ModelVersion.objects.filter(schema=version.schema, course=version.course).exclude(pk=version.pk)
    if version.beats_baseline and not others.filter(is_active=True).exists():
        try:
            activate_first_version(version, started_by=run.actor)
        except DomainError:
            logger.warning("could not auto-activate %s", version, exc_info=True)
