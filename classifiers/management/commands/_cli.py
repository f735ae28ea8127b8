"""Shared by the commands: who acts (--as USER), course lookup, a terminal progress bar, waiting on a job row."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError, OutputWrapper

from courses.models import Course
from courses.selectors import course_by_code
from eduplatform.jobs import FINAL_STATUSES, Job
from eduplatform.workers import start_worker_hint, workers_consuming

BAR_WIDTH = 30


def require_worker(queue: str) -> None:
    """Fail within seconds, saying how to start one, when nobody consumes `queue`."""
    if not workers_consuming(queue):
        raise CommandError(
            f"no Celery worker consumes the '{queue}' queue, so --wait would hang; "
            f"{start_worker_hint(queue)} (or run it here with --inline)", returncode=2,
        )


def render(progress: dict, *, done: int | None = None, total: int | None = None) -> str:
    done = progress.get("step", 0) if done is None else done
    total = progress.get("total_steps") if total is None else total
    frac = min(1.0, done / total) if total else 0.0
    bar = "#" * int(frac * BAR_WIDTH) + "." * (BAR_WIDTH - int(frac * BAR_WIDTH))
    parts = [f"[{bar}] {frac:4.0%} {done}/{total or '?'}"]
    if progress.get("phase") not in (None, "train"):  # small data: "choose epoch", then "refit on all rows"
        parts.append(progress["phase"])
    for key, fmt in (("epoch", "epoch {:.2f}"), ("loss", "loss {:.4f}"), ("eta_s", "ETA {:.0f}s")):
        if progress.get(key) is not None:
            parts.append(fmt.format(progress[key]))
    return " ".join(parts)


class ProgressPrinter:
    """Redraws one line on a terminal; prints a line every few seconds elsewhere (logs, CI)."""

    def __init__(self, out: OutputWrapper, every_s: float = 10.0) -> None:
        self.out, self.every_s, self.last, self.tty = out, every_s, 0.0, sys.stdout.isatty()

    def __call__(self, line: str) -> None:
        if self.tty:
            self.out.write("\r" + line.ljust(100), ending="")
            self.out.flush()
        elif time.monotonic() - self.last >= self.every_s:
            self.last = time.monotonic()
            self.out.write(line)

    def close(self) -> None:
        if self.tty:
            self.out.write("")


def wait_for(model: type[Job], pk: int, show: Callable[[Job], str], out: OutputWrapper, poll_s: float = 1.0) -> Job:
    printer = ProgressPrinter(out)
    while True:
        job = model.objects.get(pk=pk)
        printer(show(job))
        if job.status in FINAL_STATUSES:
            printer.close()
            return job
        time.sleep(poll_s)


def finish(job: Job, result: dict, out: OutputWrapper) -> None:
    """The final JSON line; a failed or cancelled job exits non-zero with its error on stderr."""
    out.write(json.dumps(result, sort_keys=True))
    if job.status != "succeeded":
        raise CommandError(f"{job} ended {job.status}: {job.error}", returncode=1)


def course_or_exit(code: str) -> Course:
    """The course with `code`, or the command's exit 2 with a message saying so."""
    course = course_by_code(code)
    if course is None:
        raise CommandError(f"no course with code {code!r}", returncode=2)
    return course


def add_actor_argument(parser) -> None:  # noqa: ANN001 - argparse's parser
    parser.add_argument("--as", dest="as_user", metavar="USERNAME",
                        help="act as this user, with their permissions (default: the system)")


def actor_or_exit(username: str | None, err: OutputWrapper) -> AbstractBaseUser | None:
    """The user named by --as (exit 2 when there is none), or None, the system, which the command says."""
    if not username:
        err.write("acting as the system (no --as USER given): no permission check applies")
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"--as {username}: no active user with that username", returncode=2)
    return user
