"""python manage.py seed_demo — load the demo course, its open survey and the staff logins (idempotent)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from classifiers.demo.data import COURSE_CODE, COURSE_TITLE, ID_PREFIX, TERM, demo_comments
from classifiers.demo.survey import ensure_demo_survey
from classifiers.imports.services import import_feedback_file
from courses.importers import ImportOptions
from courses.models import Course, CourseMembership, Feedback, Role
from courses.services import delete_feedback

# The demo's staff have labelled part of the comments (the first modules, then every fourth comment);
# the model does the rest.
LABELLED_SHARE = 0.25
LABELLED_EVERY = 4


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
            json.dumps(
                {key: row[key] for key in ("id", "text", "module", "submitted_at")}
                | {"sentiment": row["sentiment"] if i < cutoff or i % LABELLED_EVERY == 0 else ""}
            )
            for i, row in enumerate(rows)
        ).encode()
        options = ImportOptions(
            text_col="text", module_col="module", submitted_col="submitted_at", id_col="id", label_col="sentiment"
        )
        with transaction.atomic():
            stale = _stale_demo_comments({row["id"]: row["text"] for row in rows})
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
            survey = ensure_demo_survey(course, actor=instructor)
        self.stdout.write(json.dumps({**result.as_dict(), "replaced_old_demo_comments": stale}))
        self.stdout.write(
            f"Demo course {COURSE_CODE} ready. Log in at http://127.0.0.1:8000/admin/ as "
            f"staff / {password} (superuser) or instructor / {password}."
        )
        report = reverse("reports:course_report", kwargs={"course_code": COURSE_CODE})
        self.stdout.write(f"Sentiment report of the demo course: http://127.0.0.1:8000{report}")
        self.stdout.write(
            f'Survey "{survey.title}" is open until {survey.closes_at:%-d %B %Y}; '
            f"`manage.py demo_student_link` prints a link to answer it as a student."
        )


def _stale_demo_comments(current: dict[str, str]) -> int:
    """Delete demo comments that are no longer the demo's (an earlier version imported other ids or other text
    under an id), so the import below brings the current ones; students' survey answers have no external id
    and are never touched."""
    course = Course.objects.filter(code=COURSE_CODE).first()
    if course is None:
        return 0
    rows = Feedback.objects.filter(course=course).filter(
        Q(external_id__startswith="demo-") | Q(external_id__startswith=ID_PREFIX)
    )
    stale = [
        pk
        for pk, external_id, text in rows.values_list("pk", "external_id", "original_text")
        if current.get(external_id) != text
    ]
    return delete_feedback(Feedback.objects.filter(pk__in=stale), actor=None) if stale else 0
