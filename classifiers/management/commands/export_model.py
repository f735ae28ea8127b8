"""python manage.py export_model VERSION_ID DIR — the Hugging Face directory plus the ONNX files."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classifiers import registry
from classifiers.models import ModelVersion


class Command(BaseCommand):
    help = "Copy a model version (transformers.pipeline-ready directory and ONNX files) to DIR."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("version_id", type=int)
        parser.add_argument("directory", type=Path)

    def handle(self, *args: object, **opts: object) -> None:
        version = ModelVersion.objects.filter(pk=opts["version_id"]).first()
        if version is None:
            raise CommandError(f"no model version with id {opts['version_id']}", returncode=2)
        try:
            out = registry.export_version(version.path, opts["directory"])
        except (FileExistsError, FileNotFoundError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(
            f"exported {version} to {out}; load it with transformers.pipeline('text-classification', model='{out}')"
        )
