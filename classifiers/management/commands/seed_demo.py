"""python manage.py seed_demo — load the demo course (idempotent) and the staff logins."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from classifiers.demo.data import COURSE_CODE, COURSE_TITLE, TERM, demo_comments
from classifiers.imports.services import import_feedback_file
from courses.importers import ImportOptions
from courses.models import CourseMembership, Role

LABELLED_SHARE = 0.4  # the demo's staff have labelled part of the comments; the model does the rest


def _demo_password() -> str:
    path = Path(settings.BASE_DIR) / "var" / "demo-password.txt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
    return path.read_text().strip()


class Command(BaseCommand):
    help = "Load the DATA201 demo course with comments (part labelled) and create the demo staff users."

    def handle(self, *args: object, **opts: object) -> None:
        rows = demo_comments()
        cutoff = int(len(rows) * LABELLED_SHARE)
        payload = "\n".join(
            json.dumps({**row, "sentiment": row["sentiment"] if i < cutoff or i % 3 == 0 else ""})
            for i, row in enumerate(rows)
        ).encode()
        options = ImportOptions(
            text_col="text", module_col="module", submitted_col="submitted_at", id_col="id", label_col="sentiment"
        )
        with transaction.atomic():
            result = import_feedback_file(
                COURSE_CODE, payload, filename="demo.jsonl", options=options, course_title=COURSE_TITLE
            )
            course = result.course
            if course.term != TERM:
                course.term = TERM
                course.save(update_fields=["term"])
            password = _demo_password()
            users = get_user_model().objects
            staff, _ = users.get_or_create(username="staff", defaults={"is_staff": True, "is_superuser": True})
            instructor, _ = users.get_or_create(username="instructor", defaults={"is_staff": True})
            for user in (staff, instructor):
                user.set_password(password)
                user.save()
            CourseMembership.objects.get_or_create(user=instructor, course=course, defaults={"role": Role.INSTRUCTOR})
        self.stdout.write(json.dumps(result.as_dict()))
        self.stdout.write(
            f"Demo course {COURSE_CODE} ready. Log in at http://127.0.0.1:8000/admin/ as "
            f"staff / {password} (superuser) or instructor / {password}."
        )
        report = reverse("reports:course_report", kwargs={"course_code": COURSE_CODE})
        self.stdout.write(f"Sentiment report of the demo course: http://127.0.0.1:8000{report}")
