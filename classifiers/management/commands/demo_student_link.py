"""python manage.py demo_student_link — a fresh link to answer the demo course's open survey as a student."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from classifiers.demo.data import COURSE_CODE
from classifiers.demo.survey import ensure_demo_survey, student_link
from classifiers.management.commands._cli import course_or_exit
from eduplatform.errors import DomainError

BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Print a single-use invitation link to the demo survey (run seed_demo first)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--base-url", default=BASE_URL, help=f"where the site is served (default {BASE_URL})")

    def handle(self, *args: object, **opts: object) -> None:
        course = course_or_exit(COURSE_CODE)
        try:
            survey = ensure_demo_survey(course, actor=None)
            link = student_link(survey, actor=None, base_url=str(opts["base_url"]).rstrip("/"))
        except DomainError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(f'Student view: answer the demo survey "{survey.title}" at\n  {link}')
        self.stdout.write(
            "Open it in a private window (the link works without logging in; it is anonymous and "
            "single-use: run `manage.py demo_student_link` for another). The answer reaches the "
            "report and the annotate queue the next day, when anonymous answers lose their time."
        )
