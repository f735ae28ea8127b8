"""python manage.py classify COURSE_CODE [--schema sentiment] [--wait | --inline] [--if-model] [--as USERNAME]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from classifiers.classification.services import (
    active_runs,
    classification_coverage,
    pending_feedback,
    run_classification_inline,
    start_classification_run,
)
from classifiers.management.commands._cli import (
    actor_or_exit,
    add_actor_argument,
    course_or_exit,
    finish,
    render,
    require_worker,
    wait_for,
)
from classifiers.models import ClassificationRun
from classifiers.selectors import active_version_for, schema_named
from eduplatform.errors import DomainError
from eduplatform.workers import start_worker_hint, workers_consuming


class Command(BaseCommand):
    help = "Classify every feedback item of a course that has no prediction from the active version yet."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("course_code")
        parser.add_argument("--schema", default="sentiment")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--wait", action="store_true",
                          help="wait for runs in progress, classify the rest with a progress bar; print counts as JSON")
        mode.add_argument("--inline", action="store_true", help="classify in this process instead of on workers")
        parser.add_argument("--if-model", action="store_true",
                            help="exit 0 with a message when the course has no active model yet (scripts, make demo)")
        add_actor_argument(parser)

    def handle(self, *args: object, **opts: object) -> None:
        actor = actor_or_exit(opts["as_user"], self.stderr)
        course = course_or_exit(opts["course_code"])
        schema = schema_named(course, opts["schema"])
        version = active_version_for(schema, course) if schema else None
        if version is None:
            message = f"course {course.code} has no active model for schema {opts['schema']!r}; train and activate one"
            if opts["if_model"]:
                self.stderr.write(f"{message}; nothing classified")
                return
            raise CommandError(message, returncode=2)
        busy = list(active_runs(version, course=course).values_list("pk", flat=True))
        if opts["wait"] and (busy or pending_feedback(version, course=course).exists()):
            require_worker("inference")
        for pk in busy if opts["wait"] else []:  # e.g. the run queued by activation: no second run over its items
            self.stderr.write(f"waiting for classification run {pk} in progress")
            wait_for(ClassificationRun, pk, _line, self.stderr)
        try:
            run = start_classification_run(version, course=course, actor=actor, dispatch=not opts["inline"])
        except DomainError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stderr.write(f"classification run {run.pk}: {run.progress.get('pending', 0)} items with {version}")
        if opts["inline"]:
            run = run_classification_inline(run)
        elif opts["wait"]:
            run = wait_for(ClassificationRun, run.pk, _line, self.stderr)
        else:
            if not workers_consuming("inference"):
                hint = start_worker_hint("inference")
                self.stderr.write(f"warning: no worker consumes the 'inference' queue yet; {hint}")
            return
        coverage = classification_coverage(version, course=course)
        self.stderr.write(
            f"{course.code}: {coverage['classified']} of {coverage['comments']} comments classified by {version}"
            f" ({coverage['skipped']} without text, {coverage['pending']} pending)"
        )
        finish(run, {"run": run.pk, "status": run.status, "version": version.number, "classified": run.classified,
                     "skipped": run.skipped, "error": run.error or None, "coverage": coverage}, self.stdout)


def _line(run: ClassificationRun) -> str:
    bar = render({}, done=run.chunks_done, total=run.chunks_total)
    return f"{run.status}: {bar} {run.classified} classified"
