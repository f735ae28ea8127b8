"""CSV export of a course's feedback with its labels per schema (redacted text only)."""

from __future__ import annotations

import csv
from typing import TextIO

from courses.models import Course
from courses.selectors import feedback_for_course

from .selectors import latest_labels, schemas_for_course

LABEL_SEP = "|"


def write_feedback_csv(course: Course, out: TextIO) -> int:
    """Write one row per feedback item; returns the number of rows written."""
    schemas = list(schemas_for_course(course))
    annotations = {s.name: latest_labels(s, course=course) for s in schemas}
    writer = csv.writer(out)
    writer.writerow(
        ["id", "external_id", "module", "submitted_at", "redacted_text"]
        + [f"annotation:{s.name}" for s in schemas]
    )
    count = 0
    for fb in feedback_for_course(course).order_by("submitted_at", "id").iterator(chunk_size=5000):
        writer.writerow(
            [fb.pk, fb.external_id or "", fb.module.title if fb.module else "", fb.submitted_at.isoformat(),
             fb.redacted_text]
            + [LABEL_SEP.join(annotations[s.name].get(fb.pk, [])) for s in schemas]
        )
        count += 1
    return count
