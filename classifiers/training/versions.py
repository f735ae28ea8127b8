"""Model versions: activate (with the baseline gate), roll back, export, delete (freeing the files, and the
shared base-model parts no version uses any more).

Each public service authorizes its actor first (courses.permissions); the scope course is the version's
course, None for an institution-wide version (administrators only). `actor=None` is the system.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from classifiers import registry
from classifiers.classification.services import forget_serving_versions, start_classification_run
from classifiers.models import LabelSchema, ModelVersion, TrainingRun
from courses.models import Course
from courses.permissions import Action, authorize
from eduplatform.errors import DomainError
from eduplatform.jobs import ACTIVE_STATUSES

logger = logging.getLogger(__name__)


class VersionRefused(DomainError):
    pass


def _baseline_gap(version: ModelVersion) -> str:
    metrics = version.metrics or {}
    key = "f1_macro" if "f1_macro" in metrics else "f1_micro"
    model, base = metrics.get(key), (metrics.get("baseline") or {}).get(key)
    if model is None or base is None:
        return "it has no evaluation report"
    return f"macro-F1 {model:.3f} vs majority baseline {base:.3f}"


def activate_model_version(
    version: ModelVersion, *, actor: AbstractBaseUser | None, override: bool = False, classify: bool = True
) -> ModelVersion:
    """Make `version` the one active model of its scope; its scope's feedback is then classified.

    A version that does not beat the majority-class baseline is refused unless `override` is given
    (and the actor may override the gate).
    """
    authorize(actor, Action.ACTIVATE_VERSION, version.course)
    if not version.beats_baseline:
        if not override:
            raise VersionRefused(
                f"{version} does not beat the majority-class baseline ({_baseline_gap(version)}); "
                "activate it with the explicit override if you want it anyway"
            )
        authorize(actor, Action.OVERRIDE_BASELINE, version.course)
    return _activate(version, actor=actor, activated_by=actor, classify=classify)


def activate_first_version(version: ModelVersion, *, started_by: AbstractBaseUser | None) -> ModelVersion:
    """The system puts a scope's first good model live after training (no person asked for it now).

    `started_by` (who was allowed to start the run) is recorded as `activated_by`; the follow-up
    classification is the system's.
    """
    if not version.beats_baseline:
        raise VersionRefused(f"{version} does not beat the majority-class baseline; it waits for staff")
    return _activate(version, actor=None, activated_by=started_by, classify=True)


def _activate(
    version: ModelVersion, *, actor: AbstractBaseUser | None, activated_by: AbstractBaseUser | None, classify: bool
) -> ModelVersion:
    _require_files(version, "it cannot serve")
    with transaction.atomic():
        scope = ModelVersion.objects.select_for_update().filter(schema=version.schema, course=version.course)
        list(scope)  # lock the scope's rows so two activations cannot interleave
        scope.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
        scope.filter(pk=version.pk).update(is_active=True, activated_at=timezone.now(), activated_by=activated_by)
        if classify:
            transaction.on_commit(lambda: _classify_scope(version.pk, actor))
        transaction.on_commit(forget_serving_versions)  # update() sends no post_save
    forget_serving_versions()  # and now: this process's next arrival asks again (tests, outer transactions)
    logger.info("%s activated by %s", version, getattr(activated_by, "username", "the system"))
    version.refresh_from_db()
    return version


def _require_files(version: ModelVersion, consequence: str) -> None:
    try:
        present = registry.version_exists(version.path)
    except registry.StoreError as exc:
        raise VersionRefused(f"{exc}; {consequence} until the model store is reachable again") from exc
    if not present:
        raise VersionRefused(f"the files of {version} are missing from the model store; {consequence}")


def _export_name(version: ModelVersion, actor: AbstractBaseUser | None) -> str:
    authorize(actor, Action.EXPORT_VERSION, version.course)
    _require_files(version, "it cannot be exported")
    scope = version.course.code if version.course_id else "institution"
    return f"{version.schema.name}-{scope}-v{version.number}"


def export_model_archive(version: ModelVersion, *, actor: AbstractBaseUser | None) -> tuple[str, Iterator[bytes]]:
    """(file name, zip stream) of the version's Hugging Face directory and ONNX files (the API download)."""
    name = _export_name(version, actor)
    return f"{name}.zip", registry.export_version_zip(version.path, folder=name)


def export_model_directory(version: ModelVersion, destination: Path, *, actor: AbstractBaseUser | None) -> Path:
    """The same files copied to `destination` (manage.py export_model); an existing non-empty one is refused."""
    _export_name(version, actor)
    try:
        return registry.export_version(version.path, destination)
    except FileExistsError as exc:
        raise VersionRefused(f"{exc}; choose an empty or new directory") from exc


def _classify_scope(version_id: int, actor: AbstractBaseUser | None) -> None:
    version = ModelVersion.objects.get(pk=version_id)
    try:
        start_classification_run(version, actor=actor)
    except DomainError:
        # The activation stands; the periodic sweep classifies the backlog once the broker is back.
        logger.warning("could not queue classification for %s", version, exc_info=True)


def rollback_model_version(
    schema: LabelSchema, *, course: Course | None, actor: AbstractBaseUser | None
) -> ModelVersion:
    """Re-activate the most recently served version older than the current one.

    "Older" is by version number, so rolling back twice walks further back instead of ping-ponging.
    """
    authorize(actor, Action.ROLLBACK_VERSION, course)
    scope = ModelVersion.objects.filter(schema=schema, course=course)
    current = scope.filter(is_active=True).first()
    if current is None:
        raise VersionRefused("no version is active in this scope, so there is nothing to roll back from")
    previous = (
        scope.filter(number__lt=current.number, activated_at__isnull=False)
        .order_by("-activated_at").first()
    )
    if previous is None:
        raise VersionRefused(f"{current} has no older version that ever served; there is none to roll back to")
    # It served before, so the baseline gate was passed (or overridden) once already: rolling back needs
    # no override permission of its own.
    return _activate(previous, actor=actor, activated_by=actor, classify=True)


def delete_model_version(version: ModelVersion, *, actor: AbstractBaseUser | None) -> None:
    """Delete a version and its files (after commit); the active version must be replaced first."""
    authorize(actor, Action.DELETE_VERSION, version.course)
    if version.is_active:
        raise VersionRefused(f"{version} is active; activate another version or roll back before deleting it")
    path = version.path
    with transaction.atomic():
        version.delete()
        transaction.on_commit(lambda: _delete_files(path))
    logger.info("%s deleted by %s", version, getattr(actor, "username", "the system"))


def _delete_files(path: str) -> None:
    # After the commit the version is gone for everyone; files the store refused to delete now are invisible
    # leftovers, removed by the next `sweep_model_store` (beat), so the person deleting gets no error for them.
    try:
        registry.delete_version_files(path)
    except registry.StoreError:
        logger.exception("the files of deleted version %s stay in the model store until the next sweep", path)
        return
    try:
        delete_unused_base_parts()  # it may have been the last version of its base model
    except registry.StoreError:
        logger.exception("base-model parts no version uses stay in the model store until the next sweep")


# Longer than any publish-to-row gap (the row is written right after the upload), so a version being
# registered right now is never swept; partial uploads of killed writers wait this long too.
SWEEP_GRACE_S = 24 * 3600


def sweep_model_store(*, grace_s: int = SWEEP_GRACE_S, base_parts_grace_s: int | None = None) -> dict[str, int]:
    """Delete what the model store holds that no ModelVersion names (Celery beat, daily; `manage.py
    sweep_model_store`): uploads of writers killed before their manifest, builds of killed trainings, files a
    deletion could not remove, and base-model parts no version needs any more (delete_unused_base_parts)."""
    known = set(ModelVersion.objects.values_list("path", flat=True))
    cutoff = time.time() - grace_s
    leftovers = [relpath for relpath, changed in registry.stored_versions().items()
                 if relpath not in known and changed < cutoff and not relpath.startswith(f"{registry.BASE_ROOT}/")]
    for relpath in leftovers:
        registry.delete_version_files(relpath)
        logger.info("model store sweep: deleted %s (no model version names it)", relpath)
    return {"deleted": len(leftovers), "base_parts_deleted": len(delete_unused_base_parts(grace_s=base_parts_grace_s))}


def delete_unused_base_parts(*, grace_s: int | None = None) -> list[str]:
    """Delete the base-model parts no model version names, nor a training in progress may be about to name,
    whose newest file is older than `grace_s` (MODEL_STORE_BASE_PARTS_GRACE_S); returns their paths.

    Why this never breaks a version being registered: a training publishes (or finds) its base parts only
    after claiming its run, and its version row is created in the transaction that ends the run. The parts are
    listed first, then the active runs are read, then the version rows: whichever side of that commit the runs
    are read on, the run (still active) or its row (read after) protects the parts. A run protects every
    part of its base model's name (its digest is known only once built). Parts published meanwhile are not in
    the listing; the grace period also covers writers outside training runs, and registration checks its parts
    once its row is committed (registry.restore_base_parts)."""
    grace = settings.MODEL_STORE_BASE_PARTS_GRACE_S if grace_s is None else grace_s
    stored = registry.stored_base_parts()
    if not stored:
        return []
    cutoff = time.time() - grace
    training = {registry.base_parts_name(config.get("base_model") or settings.BASE_MODEL)
                for config in TrainingRun.objects.filter(status__in=ACTIVE_STATUSES).values_list("config", flat=True)}
    named = _named_base_parts()
    doomed = [relpath for relpath, changed in stored.items()
              if changed < cutoff and relpath not in named and registry.base_parts_key_name(relpath) not in training]
    for relpath in doomed:
        registry.delete_version_files(relpath)
        logger.info("model store: deleted the base-model parts %s (no model version uses them)", relpath)
    return doomed


def _named_base_parts() -> set[str]:
    """The base parts every model version names; a row registered before they were recorded has them read
    from its stored metadata once (a StoreError stops the caller: nothing is deleted on a partial picture)."""
    named = set()
    for pk, path, parts in ModelVersion.objects.values_list("pk", "path", "base_parts"):
        if not parts:
            parts = registry.version_base_parts(path)  # "" for full files: read again next time (few, old)
            if parts:
                ModelVersion.objects.filter(pk=pk, base_parts="").update(base_parts=parts)
        named.add(parts)
    return named
