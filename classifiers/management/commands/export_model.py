"""python manage.py export_model VERSION_ID DIR [--as USERNAME] — the Hugging Face directory plus the ONNX files."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classifiers.management.commands._cli import actor_or_exit, add_actor_argument
from classifiers.models import ModelVersion
from classifiers.training.versions import export_model_directory
from eduplatform.errors import DomainError


class Command(BaseCommand):
    help = "Copy a model version (transformers.pipeline-ready directory and ONNX files) to DIR."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("version_id", type=int)
        parser.add_argument("directory", type=Path)
        add_actor_argument(parser)

    def handle(self, *args: object, **opts: object) -> None:
        actor = actor_or_exit(opts["as_user"], self.stderr)
        version = ModelVersion.objects.select_related("schema", "course").filter(pk=opts["version_id"]).first()
        if version is None:
            raise CommandError(f"no model version with id {opts['version_id']}", returncode=2)
        try:
            out = export_model_directory(version, opts["directory"], actor=actor)
        except DomainError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(
            f"exported {version} to {out}; load it with transformers.pipeline('text-classification', model='{out}')"
        )
