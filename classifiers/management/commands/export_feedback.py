"""python manage.py export_feedback COURSE_CODE FILE — CSV with labels per schema."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from classifiers.imports.exports import write_feedback_csv
from classifiers.management.commands._cli import course_or_exit


class Command(BaseCommand):
    help = "Export a course's feedback (redacted text) with annotations per schema as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("course_code")
        parser.add_argument("file", type=Path)

    def handle(self, *args: object, **opts: object) -> None:
        course = course_or_exit(opts["course_code"])
        path: Path = opts["file"]  # type: ignore[assignment]
        with path.open("w", encoding="utf-8", newline="") as out:
            count = write_feedback_csv(course, out)
        self.stdout.write(f"wrote {count} rows to {path}")
