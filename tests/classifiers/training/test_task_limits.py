"""Every task can be queued: Celery refuses a task whose (inherited) soft time limit exceeds its hard one."""

from __future__ import annotations

from eduplatform.celery import app


def test_every_task_can_be_queued_with_its_time_limits():
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if name.split(".")[0] in ("classifiers", "courses")}
    assert "classifiers.tasks.sweep_unclassified_task" in ours and "classifiers.tasks.reap_stale_jobs_task" in ours
    refused = [name for name, task in ours.items()
               if task.soft_time_limit and task.time_limit and task.soft_time_limit > task.time_limit]
    assert refused == []
    # Beat's schedule names real tasks.
    assert {entry["task"] for entry in app.conf.beat_schedule.values()} <= set(ours)
