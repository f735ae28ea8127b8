"""Celery tasks: thin callers of services (load by id, call, return)."""

from __future__ import annotations

from celery import shared_task

from courses.models import ImportJob
from eduplatform.jobs import JobTask, reap_stale_jobs

from .services.imports import run_import_job


class ImportJobTask(JobTask):
    job_model = ImportJob


@shared_task(base=ImportJobTask, bind=True, time_limit=1800, soft_time_limit=1740)
def run_import_task(self, job_id: int) -> str:
    return run_import_job(job_id).status


@shared_task(time_limit=120)
def reap_stale_jobs_task() -> dict[str, int]:
    return {"imports": reap_stale_jobs(ImportJob)}


@shared_task(time_limit=1800, soft_time_limit=1740)
def scan_report_alerts_task() -> dict[str, int]:
    """Beat: raise week-over-week alerts (once per module and week) and e-mail them to instructors."""
    from .services.report_actions import scan_all_courses

    return scan_all_courses()


@shared_task(time_limit=1800, soft_time_limit=1740)
def sweep_report_summaries_task() -> int:
    """Beat: rebuild report summaries older than REPORT_SUMMARY_MAX_AGE_S (deleted or moved feedback)."""
    from .services.report_summary import sweep_stale_summaries

    return sweep_stale_summaries()
