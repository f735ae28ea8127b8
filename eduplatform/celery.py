"""The Celery app: Redis broker, late acks, our own job tables for state (see eduplatform.jobs)."""

import os

from celery import Celery, signals
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eduplatform.settings")

app = Celery("eduplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Reapers: a SIGKILLed worker runs no failure handler, so stale jobs are failed from outside.
app.conf.beat_schedule = {
    "reap-stale-jobs": {"task": "classifiers.tasks.reap_stale_jobs_task", "schedule": 60.0},
    # Report alerts: hourly, so a sharp rise is mailed the same day; the Alert table's unique
    # (module, schema, week) makes every run after the first a no-op for that week.
    "report-alerts": {"task": "classifiers.tasks.scan_report_alerts_task", "schedule": crontab(minute=7)},
    "report-summaries": {"task": "classifiers.tasks.sweep_report_summaries_task", "schedule": 300.0},
    # On-arrival classification is best effort (the broker may be down); the sweep catches the rest.
    "sweep-unclassified": {"task": "classifiers.tasks.sweep_unclassified_task", "schedule": 300.0},
    # Embeddings on arrival are best effort too; the sweep queues each course's backlog (themes need them).
    "sweep-unembedded": {"task": "classifiers.tasks.sweep_unembedded_task", "schedule": 300.0},
    # Screening: comments still pending (no screen at ingest, or waiting for the trained screen), and urgent
    # notifications a broker or mail outage left unsent.
    "screen-pending": {"task": "classifiers.tasks.screen_pending_task", "schedule": 60.0},
    "urgent-notifications": {"task": "classifiers.tasks.sweep_urgent_notifications_task", "schedule": 60.0},
    # LMS rosters (NRPS): each course's roster is re-read when older than LTI_ROSTER_SYNC_INTERVAL_S, so a
    # removed instructor loses access within that time even if nobody launches the course.
    "lti-rosters": {"task": "courses.lti.tasks.sync_due_rosters_task", "schedule": 900.0},
    # Participation scores (AGS) a worker left pending (killed, broker down, anonymous batches at the close).
    "lti-scores": {"task": "courses.lti.tasks.sweep_scores_task", "schedule": 300.0},
    # Model store leftovers (uploads of killed writers, files a deletion could not remove) after a day's grace,
    # and base-model parts no version uses any more (MODEL_STORE_BASE_PARTS_GRACE_S).
    "sweep-model-store": {"task": "classifiers.tasks.sweep_model_store_task", "schedule": crontab(minute=23, hour=3)},
}


@signals.worker_init.connect
def _announce_pool_size(sender, **_: object) -> None:  # noqa: ANN001 - Celery's WorkController
    # A prefork worker runs `concurrency` processes on this machine's cores; each sizes its model's thread
    # pool from this (classifiers.ml.serving.default_threads), so two processes on 2 cores use 1 thread each.
    os.environ.setdefault("INFERENCE_PROCESSES", str(sender.concurrency or 1))
