"""Imports through the service and the management command: all-or-nothing, labels, idempotence."""

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from classifiers.imports.services import import_feedback_file
from classifiers.models import Annotation, AnnotationSource, Label, LabelSchema, SchemaKind
from courses.importers import ImportOptions, ImportRejected
from courses.models import Course, Feedback, Module

NILANGA = Path(__file__).resolve().parents[3] / "shared" / "data" / "student-feedback-nilanga2022" / (
    "student_feedback_doc_level.csv"
)
LABELLED = ImportOptions(text_col="text", module_col="module", id_col="id", label_col="label")

pytestmark = pytest.mark.django_db


def _import(data: str, options=LABELLED, **kwargs):
    return import_feedback_file("NEW1", data.encode(), filename="f.csv", options=options, **kwargs)


def test_import_creates_course_modules_feedback_and_import_annotations():
    result = _import("text,module,id,label\nGreat labs,Week 1,1,positive\nToo fast,Week 2,2,negative\nHm,,3,\n")
    course = Course.objects.get(code="NEW1")
    assert (result.created, result.annotations) == (3, 2)
    assert list(Module.objects.filter(course=course).values_list("title", "position")) == [
        ("Week 1", 1), ("Week 2", 2)]
    ann = Annotation.objects.get(feedback__external_id="1")
    assert ann.source == AnnotationSource.IMPORT and ann.annotator is None
    assert [lb.name for lb in ann.labels.all()] == ["positive"]


def test_import_redacts_pii_into_redacted_text_and_keeps_the_original():
    _import("text,module,id,label\nmail me: a.b@uni.edu,,1,\n")
    fb = Feedback.objects.get()
    assert fb.redacted_text == "mail me: [EMAIL]" and fb.original_text == "mail me: a.b@uni.edu"


def test_unknown_label_aborts_and_writes_nothing():
    with pytest.raises(ImportRejected) as info:
        _import("text,module,id,label\nGood,W1,1,positive\nBad,W2,2,postive\n")
    assert (info.value.line, info.value.column) == (3, "label")
    assert '"postive" is not a label of schema "sentiment" (negative, neutral, positive)' in str(info.value)
    assert not Course.objects.filter(code="NEW1").exists()
    assert Feedback.objects.count() == 0 and Module.objects.count() == 0


def test_bad_row_in_existing_course_leaves_it_untouched(course):
    before = (Feedback.objects.count(), Module.objects.count(), Label.objects.count())
    with pytest.raises(ImportRejected):
        import_feedback_file(course.code, b"text,module,when\nok,New module,2026-01-01\nbad,W,yesterday\n",
                             filename="x.csv", options=ImportOptions(module_col="module", submitted_col="when"))
    assert (Feedback.objects.count(), Module.objects.count(), Label.objects.count()) == before


def test_create_labels_creates_missing_schema_of_the_given_kind():
    result = _import("text,module,id,label\na,,1,x|y\nb,,2,z\n",
                     options=ImportOptions(label_col="label", label_sep="|", id_col="id"),
                     schema_name="topics", create_labels=True, schema_kind=SchemaKind.MULTI)
    schema = LabelSchema.objects.get(name="topics", course__code="NEW1")
    assert schema.kind == SchemaKind.MULTI and result.annotations == 2
    assert list(schema.labels.values_list("name", "position")) == [("x", 0), ("y", 1), ("z", 2)]


def test_missing_schema_without_create_labels_is_refused():
    with pytest.raises(ImportRejected, match="no label schema \"topics\""):
        _import("text,module,id,label\na,,1,x\n", schema_name="topics")


def test_several_labels_for_a_single_label_schema_are_refused():
    with pytest.raises(ImportRejected) as info:
        _import("text,module,id,label\na,,1,positive|negative\n",
                options=ImportOptions(label_col="label", label_sep="|", id_col="id"))
    assert info.value.line == 2


def test_reimporting_the_same_file_skips_existing_ids():
    data = "text,module,id,label\na,,1,positive\nb,,2,\n"
    _import(data)
    second = _import(data)
    assert (second.created, second.skipped_existing) == (0, 2)
    assert Feedback.objects.count() == 2 and Annotation.objects.count() == 1


def test_command_reports_line_and_exits_2_on_bad_input(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nfine,positive\nbad,great\n")
    with pytest.raises(CommandError) as info:
        call_command("import_feedback", "CMD1", str(path), "--label-col", "label")
    assert info.value.returncode == 2 and "line 3" in str(info.value) and "Nothing was imported" in str(info.value)
    assert not Course.objects.filter(code="CMD1").exists()


@pytest.mark.skipif(not NILANGA.exists(), reason=f"shared data not present: {NILANGA}")
def test_nilanga_student_feedback_imports_2889_items_and_a_bad_label_on_line_1500_writes_nothing(tmp_path):
    out = io.StringIO()
    call_command("import_feedback", "NIL", str(NILANGA), "--label-col", "sentiment", "--id-col",
                 "--split-col", "split_suggested", stdout=out)
    assert Feedback.objects.filter(course__code="NIL").count() == 2889
    assert Annotation.objects.filter(feedback__course__code="NIL").count() == 2889
    assert Feedback.objects.filter(course__code="NIL", split="test").count() == 287

    lines = NILANGA.read_text(encoding="utf-8").splitlines(keepends=True)
    rows = list(csv.reader(io.StringIO("".join(lines[:1500]))))
    assert len(rows) == 1500, "the file has no multi-line records before line 1500"
    row = next(csv.reader([lines[1499]]))
    row[1] = "delighted"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row)
    lines[1499] = buf.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("import_feedback", "NIL2", str(bad), "--label-col", "sentiment", "--id-col")
    assert "line 1500" in str(info.value) and 'column "sentiment"' in str(info.value)
    assert not Feedback.objects.filter(course__code="NIL2").exists()


def test_a_course_an_import_creates_starts_at_the_institution_floor(db, settings):
    from courses.services import get_or_create_course

    settings.MIN_GROUP_SIZE_FLOOR = 8  # stricter than the model's default of 5
    course, created = get_or_create_course("NEW101", actor=None, title="New")
    assert created and course.min_group_size == 8
    assert get_or_create_course("NEW101", actor=None) == (course, False)
