"""Long jobs (training, classification, imports) tracked in our own tables.

A job row is created in the service's transaction and its task enqueued on commit. The task claims
the row with a conditional UPDATE so a redelivered message does nothing twice; a heartbeat lets a
periodic reaper fail jobs whose worker was killed without running any handler.
"""

from __future__ import annotations

from datetime import timedelta

from celery import Task
from django.conf import settings
from django.db import models
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    celery_task_id = models.CharField(max_length=64, blank=True)
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def claim_job(model: type[Job], pk: int) -> bool:
    """Move a queued job to running; False when another delivery already claimed it."""
    now = timezone.now()
    return bool(
        model.objects.filter(pk=pk, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, started_at=now, heartbeat_at=now
        )
    )


def finish_job(model: type[Job], pk: int, status: str, *, error: str = "", **fields: object) -> bool:
    """Move a running (or queued) job to a final status; never overwrites a final status."""
    return bool(
        model.objects.filter(pk=pk, status__in=ACTIVE_STATUSES).update(
            status=status, error=error[:10_000], finished_at=timezone.now(), **fields
        )
    )


def heartbeat(model: type[Job], pk: int, **fields: object) -> bool:
    """Record liveness (and progress); returns True when cancellation was requested."""
    model.objects.filter(pk=pk, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now(), **fields)
    return model.objects.filter(pk=pk, cancel_requested=True).exists()


def reap_stale_jobs(model: type[Job], *, timeout_s: int | None = None) -> int:
    """Fail running jobs whose heartbeat stopped, and queued ones no worker ever picked up."""
    timeout = timedelta(seconds=timeout_s or settings.JOB_HEARTBEAT_TIMEOUT_S)
    now = timezone.now()
    return model.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=now - timeout).update(
        status=JobStatus.FAILED,
        finished_at=now,
        error="The worker stopped responding (killed or out of memory); the job was marked failed.",
    )


class JobTask(Task):
    """Base task for job-backed tasks: a failure marks the job row failed with the error.

    Subclasses set `job_model`; the first positional argument of the task is the job's pk.
    """

    abstract = True
    job_model: type[Job] | None = None
    acks_late = True
    reject_on_worker_lost = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):  # noqa: ANN001 - Celery's signature
        if self.job_model is not None and args:
            finish_job(self.job_model, args[0], JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        super().on_failure(exc, task_id, args, kwargs, einfo)
