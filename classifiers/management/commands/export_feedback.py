"""python manage.py export_feedback COURSE_CODE FILE — CSV with labels per schema."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from courses.selectors import course_by_code

from ...exports import write_feedback_csv


class Command(BaseCommand):
    help = "Export a course's feedback (redacted text) with annotations per schema as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("course_code")
        parser.add_argument("file", type=Path)

    def handle(self, *args: object, **opts: object) -> None:
        course = course_by_code(opts["course_code"])
        if course is None:
            raise CommandError(f"no course with code {opts['course_code']!r}", returncode=2)
        path: Path = opts["file"]  # type: ignore[assignment]
        with path.open("w", encoding="utf-8", newline="") as out:
            count = write_feedback_csv(course, out)
        self.stdout.write(f"wrote {count} rows to {path}")
