"""Celery tasks: thin callers of services (load by id, call, return)."""

from __future__ import annotations

import logging

from celery import shared_task, signals
from celery.worker.control import control_command
from django.conf import settings

from classifiers import registry
from classifiers.classification.arrivals import drain_arrivals
from classifiers.classification.services import classify_pending, run_classification_chunk, sweep_unclassified
from classifiers.imports.services import run_import_job
from classifiers.models import ClassificationRun, ModelVersion, ThemeRun, TrainingRun
from classifiers.screening.notifications import DELIVERY_ERRORS, MAX_ATTEMPTS, send_urgent_notification
from classifiers.screening.notifications import sweep_urgent_notifications as sweep_urgent_notifications_service
from classifiers.screening.services import screen_pending
from classifiers.themes.embeddings import embed_course, embed_pending, pending_embeddings, sweep_unembedded
from classifiers.themes.services import run_theme_run
from classifiers.training.services import run_training
from courses.models import Course, ImportJob
from eduplatform.errors import BROKER_ERRORS
from eduplatform.jobs import JobTask, reap_stale_jobs

logger = logging.getLogger(__name__)

EMBED_TASK_BUDGET_S = 600  # then the task queues its own continuation (its hard limit is 900 s)


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


# One drain hands over to a successor after CLASSIFY_DRAIN_BUDGET_S (a chunk takes seconds), so the hard limit
# leaves room for the chunk in progress. Routed to the `inference` queue (settings.CELERY_TASK_ROUTES).
@shared_task(
    acks_late=True,
    time_limit=settings.CLASSIFY_DRAIN_BUDGET_S + 600,
    soft_time_limit=settings.CLASSIFY_DRAIN_BUDGET_S + 570,
    ignore_result=True,
)
def drain_arrivals_task(recover: bool = False) -> int:
    return drain_arrivals(recover=recover).classified


@signals.worker_ready.connect
def _recover_arrivals(sender, **_: object) -> None:  # noqa: ANN001 - Celery's consumer
    # A worker killed mid-batch leaves its claim behind; a worker starting (it may be the same one, restarted)
    # finishes that batch once the claim lapses, instead of leaving it to the beat sweep.
    try:
        drain_arrivals_task.apply_async((True,), retry=False)
    except BROKER_ERRORS:
        logger.warning("could not queue the recovering drain; the sweep covers it", exc_info=True)


@shared_task(time_limit=300, soft_time_limit=270, ignore_result=True)
def sweep_unclassified_task() -> dict[str, int]:
    return sweep_unclassified()


@shared_task(time_limit=120, soft_time_limit=100)
def reap_stale_jobs_task() -> dict[str, int]:
    return {
        "imports": reap_stale_jobs(ImportJob),
        "training": reap_stale_jobs(TrainingRun),
        "classification": reap_stale_jobs(ClassificationRun),
        "themes": reap_stale_jobs(ThemeRun),
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


# --- Themes (classifiers/themes): all on the `inference` queue (settings.CELERY_TASK_ROUTES) ---------------


class ThemeRunTask(JobTask):
    job_model = ThemeRun


@shared_task(base=ThemeRunTask, bind=True, time_limit=3600, soft_time_limit=3540, ignore_result=True)
def run_theme_run_task(self, run_id: int) -> str:
    return run_theme_run(run_id).status


@shared_task(acks_late=True, time_limit=600, soft_time_limit=570, ignore_result=True)
def embed_feedback_task(course_id: int, feedback_ids: list[int]) -> int:
    """On arrival: embed these items (those already current are skipped, so a redelivery is harmless)."""
    course = Course.objects.filter(pk=course_id).first()
    if course is None:
        return 0
    return embed_pending(course, feedback_ids=feedback_ids, limit=len(feedback_ids)).embedded


# Re-queues itself until the course's backlog is embedded: no task runs for hours, and a killed worker's
# chunk is simply done again by the next pass (chunks commit one by one).
@shared_task(acks_late=True, time_limit=900, soft_time_limit=870, ignore_result=True)
def embed_course_task(course_id: int) -> int:
    course = Course.objects.filter(pk=course_id).first()
    if course is None:
        return 0
    done = embed_course(course, budget_s=EMBED_TASK_BUDGET_S)
    if pending_embeddings(course).exists():
        embed_course_task.apply_async((course_id,), retry=False)
    return done


@shared_task(time_limit=300, soft_time_limit=270, ignore_result=True)
def sweep_unembedded_task() -> dict[str, int]:
    return sweep_unembedded()


# --- Screening (classifiers/screening) -------------------------------------------------------------------
# Routed to the `inference` queue: with a trained screen serving, screening classifies (loads a model).


@shared_task(acks_late=True, time_limit=600, soft_time_limit=570, ignore_result=True)
def screen_feedback_task(feedback_ids: list[int]) -> int:
    """On arrival: the trained screen's verdict for comments ingest left pending."""
    return screen_pending(limit=len(feedback_ids), feedback_ids=feedback_ids).screened


@shared_task(acks_late=True, time_limit=600, soft_time_limit=570, ignore_result=True)
def screen_pending_task() -> int:
    """Beat: one batch of pending comments; a full batch that made progress queues the next one."""
    result = screen_pending(limit=settings.SCREENING_BATCH_SIZE)
    if result.screened and result.read >= settings.SCREENING_BATCH_SIZE:
        screen_pending_task.apply_async()
    return result.screened


# Mail server or webhook errors may heal: retried with exponential backoff, MAX_ATTEMPTS in all.
@shared_task(acks_late=True, time_limit=120, soft_time_limit=100, ignore_result=True,
             autoretry_for=DELIVERY_ERRORS, retry_backoff=30, retry_backoff_max=1800, max_retries=MAX_ATTEMPTS - 1)
def send_urgent_notification_task(notification_id: int) -> str:
    notification = send_urgent_notification(notification_id)
    return notification.status if notification is not None else "gone"


@shared_task(time_limit=120, soft_time_limit=100, ignore_result=True)
def sweep_urgent_notifications_task() -> dict[str, int]:
    return sweep_urgent_notifications_service()


@shared_task(time_limit=1800, soft_time_limit=1740, ignore_result=True)
def sweep_model_store_task() -> dict[str, int]:
    """Beat, daily: remove store leftovers no model version names (killed uploads and builds) and base-model
    parts no version uses any more."""
    from classifiers.training.versions import sweep_model_store

    return sweep_model_store()


# A remote-control command, not a task: `registry.delete_version_files` broadcasts it to every worker, and each
# worker's main process drops its machine's cached copies of the deleted version at once (a worker that was
# down meanwhile drops them at its next cache re-check, MODEL_CACHE_RECHECK_S).
@control_command(args=[("relpath", str)], signature="<relpath>")
def drop_model_version(state, relpath: str) -> dict[str, int]:  # noqa: ANN001 - Celery's worker state
    return {"dropped": registry.drop_cached(relpath)}
