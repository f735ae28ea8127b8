import csv
import io

import pytest
from django.core.management import call_command

from classifiers.labelling.schemas import SchemaError, create_schema, delete_label
from classifiers.labelling.services import AnnotationRejected, record_annotation
from classifiers.models import Annotation, LabelSchema, SchemaKind
from tests.factories import FeedbackFactory, ModuleFactory

pytestmark = pytest.mark.django_db


def test_recording_again_keeps_history_and_one_current(course, annotator):
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    fb = FeedbackFactory(course=course)
    pos, neg = schema.labels.get(name="positive"), schema.labels.get(name="negative")
    record_annotation(fb, schema, [pos], actor=annotator)
    record_annotation(fb, schema, [neg], actor=annotator)
    rows = Annotation.objects.filter(feedback=fb, annotator=annotator).order_by("created_at")
    assert [(a.is_current, [lb.name for lb in a.labels.all()]) for a in rows] == [
        (False, ["positive"]), (True, ["negative"])]


def test_single_label_schema_refuses_two_labels_and_foreign_labels(course, other_course, annotator):
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    foreign = LabelSchema.objects.get(course=other_course, name="sentiment").labels.first()
    fb = FeedbackFactory(course=course)
    with pytest.raises(AnnotationRejected, match="exactly one"):
        record_annotation(fb, schema, list(schema.labels.all()[:2]), actor=annotator)
    with pytest.raises(AnnotationRejected, match="not part of schema"):
        record_annotation(fb, schema, [foreign], actor=annotator)
    assert not Annotation.objects.exists()


def test_deleting_a_used_label_is_refused_with_the_count(course, annotator):
    schema = create_schema("topics", kind=SchemaKind.MULTI, course=course, labels=["labs", "exams"], actor=None)
    labs = schema.labels.get(name="labs")
    for _ in range(2):
        record_annotation(FeedbackFactory(course=course), schema, [labs], actor=annotator)
    with pytest.raises(SchemaError, match="used by 2 annotation"):
        delete_label(labs, actor=None)
    labs.name = "practicals"  # rename keeps the annotations: they point at the same row
    labs.save()
    assert Annotation.objects.filter(labels__name="practicals").count() == 2


def test_export_feedback_writes_redacted_text_and_labels_per_schema(course, annotator, tmp_path):
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    topics = create_schema("topics", kind=SchemaKind.MULTI, course=course, labels=["labs", "exams"], actor=None)
    module = ModuleFactory(course=course, title="Week 1")
    fb = FeedbackFactory(course=course, module=module, external_id="e1",
                         original_text="mail a@b.org", redacted_text="mail [EMAIL]")
    FeedbackFactory(course=course)
    record_annotation(fb, schema, [schema.labels.get(name="neutral")], actor=annotator)
    record_annotation(fb, topics, list(topics.labels.all()), actor=annotator)
    path = tmp_path / "out.csv"
    call_command("export_feedback", course.code, str(path), stdout=io.StringIO())
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0].keys()) == ["id", "external_id", "module", "submitted_at", "redacted_text",
                                    "annotation:sentiment", "annotation:topics"]
    first = next(r for r in rows if r["external_id"] == "e1")
    assert (first["module"], first["redacted_text"], first["annotation:sentiment"], first["annotation:topics"]) == (
        "Week 1", "mail [EMAIL]", "neutral", "labs|exams")
    assert "a@b.org" not in path.read_text()
    assert len(rows) == 2


def test_export_adds_prediction_and_confidence_of_the_active_version(course, tmp_path):
    from tests.classifiers.reports.report_data import add_feedback, version

    model = version(course)
    add_feedback(course, None, ["positive", "negative"], model=model, confidence=0.87)
    path = tmp_path / "out.csv"
    call_command("export_feedback", course.code, str(path), stdout=io.StringIO())
    rows = list(csv.DictReader(path.open()))
    assert sorted(r["prediction:sentiment"] for r in rows) == ["negative", "positive"]
    assert {r["confidence:sentiment"] for r in rows} == {"0.8700"}
