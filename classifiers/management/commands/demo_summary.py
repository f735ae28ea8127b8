"""python manage.py demo_summary COURSE_CODE — where the trained model and its report are, and coverage."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from classifiers.classification.services import classification_coverage
from classifiers.management.commands._cli import course_or_exit
from classifiers.selectors import active_version_for, schema_named

BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Print the active model of a course's schema, its training run and report in admin, and coverage."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("course_code")
        parser.add_argument("--schema", default="sentiment")

    def handle(self, *args: object, **opts: object) -> None:
        course = course_or_exit(opts["course_code"])
        schema = schema_named(course, opts["schema"])
        version = active_version_for(schema, course) if schema else None
        if version is None:
            raise CommandError(f"course {course.code} has no active {opts['schema']!r} model", returncode=2)
        coverage = classification_coverage(version, course=course)
        classified, total = coverage["classified"], coverage["comments"]
        m = version.metrics
        self.stdout.write(
            json.dumps(
                {
                    "version": version.number,
                    "accuracy": m.get("accuracy"),
                    "f1_macro": m.get("f1_macro"),
                    "beats_baseline": version.beats_baseline,
                    "classified": classified,
                    "feedback": total,
                }
            )
        )
        if version.training_run_id:
            run_url = reverse("admin:classifiers_trainingrun_change", args=[version.training_run_id])
            self.stdout.write(f"Training run (progress, data, config): {BASE_URL}{run_url}")
        version_url = reverse("admin:classifiers_modelversion_change", args=[version.pk])
        self.stdout.write(f"Model version and evaluation report: {BASE_URL}{version_url}")
        self.stdout.write(f"{classified} of {total} {course.code} comments classified by {version}.")
        report = reverse("reports:course_report", kwargs={"course_code": course.code})
        self.stdout.write(f"Report, with what students talk about (themes) per module: {BASE_URL}{report}")
