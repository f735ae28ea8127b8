"""CSV export of a course's feedback with its labels per schema (redacted text only)."""

from __future__ import annotations

from typing import TextIO

from classifiers.models import LabelSchema, Prediction
from classifiers.selectors import active_version_for, latest_labels, schemas_for_course
from courses.csv_safety import safe_writer
from courses.models import Course
from courses.selectors import feedback_for_course

LABEL_SEP = "|"


def _active_predictions(schema: LabelSchema, course: Course) -> dict[int, tuple[list[str], float]]:
    """feedback id → (labels, confidence) from the version whose predictions count for the course."""
    version = active_version_for(schema, course)
    if version is None:
        return {}
    rows = Prediction.objects.filter(model_version=version, feedback__course=course).values_list(
        "feedback_id", "label_names", "confidence"
    )
    return {fid: (names, conf) for fid, names, conf in rows.iterator(chunk_size=5000)}


def write_feedback_csv(course: Course, out: TextIO) -> int:
    """Write one row per feedback item; returns the number of rows written."""
    schemas = list(schemas_for_course(course))
    annotations = {s.name: latest_labels(s, course=course) for s in schemas}
    predictions = {s.name: _active_predictions(s, course) for s in schemas}
    with_predictions = [s for s in schemas if predictions[s.name]]
    writer = safe_writer(out)  # comments and module titles are text a spreadsheet must not run
    writer.writerow(
        ["id", "external_id", "module", "submitted_at", "redacted_text"]
        + [f"annotation:{s.name}" for s in schemas]
        + [col for s in with_predictions for col in (f"prediction:{s.name}", f"confidence:{s.name}")]
    )
    count = 0
    for fb in feedback_for_course(course).order_by("submitted_at", "id").iterator(chunk_size=5000):
        predicted = []
        for s in with_predictions:
            names, conf = predictions[s.name].get(fb.pk, ([], None))
            predicted += [LABEL_SEP.join(names), "" if conf is None else f"{conf:.4f}"]
        writer.writerow(
            [fb.pk, fb.external_id or "", fb.module.title if fb.module else "", fb.submitted_at.isoformat(),
             fb.redacted_text]
            + [LABEL_SEP.join(annotations[s.name].get(fb.pk, [])) for s in schemas]
            + predicted
        )
        count += 1
    return count
