"""Celery tasks: thin callers of services (load by id, call, return)."""

from __future__ import annotations

from celery import shared_task
from celery.worker.control import control_command
from django.conf import settings

from classifiers import registry
from classifiers.classification.services import classify_pending, run_classification_chunk, sweep_unclassified
from classifiers.imports.services import run_import_job
from classifiers.models import ClassificationRun, ModelVersion, TrainingRun
from classifiers.training.services import run_training
from courses.models import ImportJob
from eduplatform.jobs import JobTask, reap_stale_jobs


class ImportJobTask(JobTask):
    job_model = ImportJob


class TrainingTask(JobTask):
    job_model = TrainingRun


@shared_task(base=ImportJobTask, bind=True, time_limit=1800, soft_time_limit=1740)
def run_import_task(self, job_id: int) -> str:
    return run_import_job(job_id).status


# Never auto-retried: a training failure (bad data, OOM) does not heal by running it again.
@shared_task(
    base=TrainingTask, bind=True,
    time_limit=settings.CELERY_TASK_TIME_LIMIT, soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def run_training_task(self, run_id: int) -> str:
    return run_training(run_id).status


class ClassificationTask(JobTask):
    job_model = ClassificationRun


# Classification state lives in our tables, so no Celery results: queuing then touches only the broker
# (with a result backend, an unreachable Redis fails in the backend's retry loop, not as a broker error).
# Routed to the `inference` queue (settings.CELERY_TASK_ROUTES); one id-range chunk of a run.
@shared_task(base=ClassificationTask, bind=True, time_limit=1800, soft_time_limit=1740, ignore_result=True)
def classify_batch_task(self, run_id: int, lo: int, hi: int) -> int:
    return run_classification_chunk(run_id, lo, hi).classified


# Every task states both limits: Celery applies the global soft limit (hours, for training) to a task that
# sets only a hard one, and then refuses to queue it (soft > hard) — beat's reaper and sweep included.
# Routed to the `inference` queue (settings.CELERY_TASK_ROUTES).
@shared_task(acks_late=True, time_limit=600, soft_time_limit=570, ignore_result=True)
def classify_feedback_task(version_id: int, feedback_ids: list[int]) -> int:
    version = ModelVersion.objects.select_related("schema").filter(pk=version_id, is_active=True).first()
    if version is None:  # replaced meanwhile; the new version's run or the sweep covers these items
        return 0
    return classify_pending(version, feedback_ids=feedback_ids, limit=len(feedback_ids)).classified


@shared_task(time_limit=300, soft_time_limit=270, ignore_result=True)
def sweep_unclassified_task() -> dict[str, int]:
    return sweep_unclassified()


@shared_task(time_limit=120, soft_time_limit=100)
def reap_stale_jobs_task() -> dict[str, int]:
    return {
        "imports": reap_stale_jobs(ImportJob),
        "training": reap_stale_jobs(TrainingRun),
        "classification": reap_stale_jobs(ClassificationRun),
    }


@shared_task(time_limit=1800, soft_time_limit=1740)
def scan_report_alerts_task() -> dict[str, int]:
    """Beat: raise week-over-week alerts (once per module and week) and e-mail them to instructors."""
    from classifiers.reports.services import scan_all_courses

    return scan_all_courses()


@shared_task(time_limit=1800, soft_time_limit=1740)
def sweep_report_summaries_task() -> int:
    """Beat: rebuild report summaries older than REPORT_SUMMARY_MAX_AGE_S (deleted or moved feedback)."""
    from classifiers.reports.summary import sweep_stale_summaries

    return sweep_stale_summaries()


@shared_task(time_limit=1800, soft_time_limit=1740, ignore_result=True)
def sweep_model_store_task() -> dict[str, int]:
    """Beat, daily: remove store leftovers no model version names (killed uploads and builds)."""
    from classifiers.training.versions import sweep_model_store

    return sweep_model_store()


# A remote-control command, not a task: `registry.delete_version_files` broadcasts it to every worker, and each
# worker's main process drops its machine's cached copies of the deleted version at once (a worker that was
# down meanwhile drops them at its next cache re-check, MODEL_CACHE_RECHECK_S).
@control_command(args=[("relpath", str)], signature="<relpath>")
def drop_model_version(state, relpath: str) -> dict[str, int]:  # noqa: ANN001 - Celery's worker state
    return {"dropped": registry.drop_cached(relpath)}
