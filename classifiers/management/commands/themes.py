"""python manage.py themes --course CODE [--wait | --inline] [--as USERNAME]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from classifiers.management.commands._cli import (
    actor_or_exit,
    add_actor_argument,
    course_or_exit,
    finish,
    require_worker,
    wait_for,
)
from classifiers.themes.models import ThemeRun
from classifiers.themes.services import run_summary, run_theme_run, start_theme_run
from eduplatform.errors import DomainError
from eduplatform.workers import start_worker_hint, workers_consuming


class Command(BaseCommand):
    help = ("Recompute a course's themes: embed comments that have no current embedding, cluster them, and match "
            "the new themes to the previous ones (ids and staff-given names survive).")

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--course", required=True, metavar="CODE", help="the course's code")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--wait", action="store_true", help="wait for the worker and print the result as JSON")
        mode.add_argument("--inline", action="store_true", help="recompute in this process instead of on a worker")
        add_actor_argument(parser)

    def handle(self, *args: object, **opts: object) -> None:
        actor = actor_or_exit(opts["as_user"], self.stderr)
        course = course_or_exit(opts["course"])
        if opts["wait"]:
            require_worker("inference")
        try:
            run = start_theme_run(course, actor=actor, dispatch=not opts["inline"])
        except DomainError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stderr.write(f"theme run {run.pk} for {course.code}")
        if opts["inline"]:
            run = run_theme_run(run.pk)
        elif opts["wait"]:
            run = wait_for(ThemeRun, run.pk, _line, self.stderr)
        else:
            if not workers_consuming("inference"):
                self.stderr.write(f"warning: no worker consumes the 'inference' queue yet; "
                                  f"{start_worker_hint('inference')}")
            return
        finish(run, run_summary(run), self.stdout)


def _line(run: ThemeRun) -> str:
    progress = run.progress or {}
    return f"{run.status}: {progress.get('stage', 'embedding')}, {progress.get('embedded', 0)} comments embedded"
