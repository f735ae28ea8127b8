"""python manage.py train COURSE_CODE [--schema sentiment] [--institution] [--epochs N] [--if-changed]
[--wait | --inline] [--as USERNAME]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from classifiers.management.commands._cli import (
    ProgressPrinter,
    actor_or_exit,
    add_actor_argument,
    course_or_exit,
    finish,
    render,
    require_worker,
    wait_for,
)
from classifiers.models import TrainingRun
from classifiers.selectors import schema_named
from classifiers.training.services import current_version_for_data, run_training, start_training_run
from eduplatform.errors import DomainError
from eduplatform.workers import start_worker_hint, workers_consuming


class Command(BaseCommand):
    help = "Fine-tune a model for a course's (or the institution's) schema on the training worker."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("course_code")
        parser.add_argument("--schema", default="sentiment")
        parser.add_argument("--institution", action="store_true",
                            help="train over every course sharing the (institution-wide) schema")
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--base-model", help="a local model directory (default: BASE_MODEL)")
        parser.add_argument("--config", default="{}", help='other options as JSON, e.g. \'{"learning_rate": 5e-5}\'')
        parser.add_argument("--if-changed", action="store_true",
                            help="do nothing when the active version was trained on exactly these annotations")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--wait", action="store_true", help="block with a progress bar; print metrics as JSON")
        mode.add_argument("--inline", action="store_true", help="train in this process instead of on a worker")
        add_actor_argument(parser)

    def handle(self, *args: object, **opts: object) -> None:
        actor = actor_or_exit(opts["as_user"], self.stderr)
        course = course_or_exit(opts["course_code"])
        schema = schema_named(course, opts["schema"])
        if schema is None:
            raise CommandError(f"course {course.code} has no schema {opts['schema']!r}", returncode=2)
        try:
            config = json.loads(opts["config"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--config is not valid JSON: {exc}", returncode=2) from exc
        config.update({k: v for k, v in (("epochs", opts["epochs"]), ("base_model", opts["base_model"])) if v})
        scope_course = None if opts["institution"] else course
        if opts["if_changed"] and (current := current_version_for_data(schema, course=scope_course)):
            self.stderr.write(f"{current} was trained on the current annotations; not training again")
            self.stdout.write(json.dumps({"run": current.training_run_id, "status": "unchanged",
                                          "version": current.number, "version_id": current.pk}, sort_keys=True))
            return
        if opts["wait"]:
            require_worker("training")
        try:
            run = start_training_run(
                schema, course=scope_course, config=config, actor=actor,
                dispatch=not opts["inline"],
            )
        except DomainError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        scope = "institution" if opts["institution"] else course.code
        self.stderr.write(f"training run {run.pk} queued for {schema.name} ({scope})")
        for warning in run.warnings:
            self.stderr.write(f"warning: {warning}")
        if opts["inline"]:
            printer = ProgressPrinter(self.stderr, every_s=5)
            run = run_training(run.pk, on_progress=lambda p: printer(render(p)))
            printer.close()
        elif opts["wait"]:
            run = wait_for(TrainingRun, run.pk, lambda r: f"{r.status}: {render(r.progress)}", self.stderr)
        else:
            if not workers_consuming("training"):
                hint = start_worker_hint("training")
                self.stderr.write(f"warning: no worker consumes the 'training' queue yet; {hint}")
            return
        finish(run, _result(run), self.stdout)


def _result(run: TrainingRun) -> dict:
    version = getattr(run, "model_version", None)
    m = run.metrics or {}
    keys = ("accuracy", "f1_macro", "f1_weighted", "f1_micro", "qwk", "beats_baseline", "train_samples_per_s")
    return {
        "run": run.pk, "status": run.status, "error": run.error or None,
        "version": version.number if version else None, "version_id": version.pk if version else None,
        **{k: m[k] for k in keys if k in m},
        "baseline": {k: v for k, v in (m.get("baseline") or {}).items() if k != "strategy"},
    }
