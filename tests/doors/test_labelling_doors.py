"""Labelling and imports door matrix: each persona gets the same allow/refuse from every door that offers
an action (admin view or action, API, `import_feedback --as`, the service itself), and a refused call
writes nothing."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.admin import helpers
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from classifiers.labelling.bulk import label_items
from classifiers.labelling.schemas import add_labels, create_schema
from classifiers.labelling.services import record_annotation, settle_disagreement, undo_annotation
from classifiers.models import Annotation, AnnotationLabel, AnnotationSource, Label, LabelSchema, TrainingPolicy
from courses.models import Feedback
from eduplatform.errors import DomainError
from tests.api.conftest import token_client
from tests.factories import FeedbackFactory, UserFactory
from tests.support import ROLES

pytestmark = pytest.mark.django_db

ANNOTATORS = {"annotator", "teaching_assistant", "instructor", "superuser"}
MANAGERS = {"teaching_assistant", "instructor", "superuser"}
ADMINISTRATORS = {"administrator", "superuser"}


@pytest.fixture
def schema(course):
    return LabelSchema.objects.get(course=course, name="sentiment")


@pytest.fixture
def shared(db):
    """An institution-wide schema; the course has no schema of that name."""
    return create_schema("workload", kind="single", labels=["light", "heavy"], actor=None)


def _service(work) -> bool:  # noqa: ANN001
    try:
        work()
    except DomainError:
        return False
    return True


def _admin(user):  # noqa: ANN001, ANN202
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _human(feedback, schema, label, user) -> Annotation:  # noqa: ANN001
    """An annotation written directly (not through a door), as setup."""
    annotation = Annotation.objects.create(feedback=feedback, schema=schema, annotator=user,
                                           source=AnnotationSource.HUMAN)
    AnnotationLabel.objects.create(annotation=annotation, label=label)
    return annotation


# --- record an annotation ----------------------------------------------------------------------------


def _record_admin(user, feedback, schema, label) -> bool:  # noqa: ANN001
    url = reverse("admin:classifiers_annotate_save", args=[schema.pk, feedback.course_id])
    response = _admin(user).post(url, json.dumps({"feedback": feedback.pk, "labels": [label.pk], "need": 0}),
                                 content_type="application/json")
    return response.status_code == 200


def _record_api(user, feedback, schema, label) -> bool:  # noqa: ANN001
    response = token_client(user).post(f"/api/courses/{feedback.course.code}/annotations/",
                                       {"feedback": feedback.pk, "schema": schema.pk, "labels": [label.pk]})
    return response.status_code == 201


def _record_service(user, feedback, schema, label) -> bool:  # noqa: ANN001
    return _service(lambda: record_annotation(feedback, schema, [label], actor=user))


@pytest.mark.parametrize("door", [_record_admin, _record_api, _record_service], ids=["admin", "api", "service"])
@pytest.mark.parametrize("role", ROLES)
def test_record_annotation(personas, course, schema, role, door):
    user, feedback = personas[role], FeedbackFactory(course=course)
    allowed = door(user, feedback, schema, schema.labels.get(name="positive"))
    assert allowed == (role in ANNOTATORS)
    assert Annotation.objects.filter(feedback=feedback).exists() == allowed


# --- undo --------------------------------------------------------------------------------------------


def _undo_admin(user, annotation) -> None:  # noqa: ANN001
    url = reverse("admin:classifiers_annotate_undo", args=[annotation.schema_id, annotation.feedback.course_id])
    _admin(user).post(url, json.dumps({"annotation": annotation.pk}), content_type="application/json")


def _undo_service(user, annotation) -> None:  # noqa: ANN001
    _service(lambda: undo_annotation(annotation, actor=user))


@pytest.mark.parametrize("door", [_undo_admin, _undo_service], ids=["admin", "service"])
@pytest.mark.parametrize("role", ROLES)
def test_undo_annotation(personas, course, schema, role, door):
    user = personas[role]
    annotation = _human(FeedbackFactory(course=course), schema, schema.labels.get(name="positive"), user)
    door(user, annotation)
    assert Annotation.objects.filter(pk=annotation.pk).exists() == (role not in ANNOTATORS)


# --- settle a disagreement ---------------------------------------------------------------------------


def _settle_admin(user, feedback, schema, label) -> None:  # noqa: ANN001
    url = reverse("admin:classifiers_adjudicate", args=[schema.pk, feedback.course_id])
    _admin(user).post(url, {"feedback": feedback.pk, "labels": [label.pk]})


def _settle_service(user, feedback, schema, label) -> None:  # noqa: ANN001
    _service(lambda: settle_disagreement(feedback, schema, [label], actor=user))


@pytest.mark.parametrize("door", [_settle_admin, _settle_service], ids=["admin", "service"])
@pytest.mark.parametrize("role", ROLES)
def test_settle_disagreement(personas, course, schema, role, door):
    user = personas[role]
    schema.training_policy, schema.reviewer = TrainingPolicy.REVIEWER, user  # the reviewer rule holds for all
    schema.save()
    feedback = FeedbackFactory(course=course)
    _human(feedback, schema, schema.labels.get(name="positive"), UserFactory(username="a1"))
    _human(feedback, schema, schema.labels.get(name="negative"), UserFactory(username="a2"))
    door(user, feedback, schema, schema.labels.get(name="neutral"))
    assert Annotation.objects.filter(feedback=feedback, annotator=user).exists() == (role in MANAGERS)


# --- bulk label --------------------------------------------------------------------------------------


def _bulk_admin(user, course, schema, label) -> None:  # noqa: ANN001
    url = f"{reverse('admin:classifiers_labelitem_changelist')}?schema={schema.pk}"
    _admin(user).post(url, {"action": "label_selected_as", "index": 0, "select_across": "1",
                            helpers.ACTION_CHECKBOX_NAME: ["0"], "confirm": "yes", "labels": [label.pk]})


def _bulk_service(user, course, schema, label) -> None:  # noqa: ANN001
    _service(lambda: label_items(Feedback.objects.filter(course=course), schema, [label], actor=user))


@pytest.mark.parametrize("door", [_bulk_admin, _bulk_service], ids=["admin", "service"])
@pytest.mark.parametrize("role", ROLES)
def test_bulk_label(personas, course, schema, role, door):
    items = [FeedbackFactory(course=course) for _ in range(3)]
    door(personas[role], course, schema, schema.labels.get(name="negative"))
    labelled = Annotation.objects.filter(feedback__in=items, is_current=True).count()
    assert labelled == (3 if role in ANNOTATORS else 0)


# --- add labels to a schema (course or institution-wide) ------------------------------------------------


def _labels_api(user, course, schema) -> None:  # noqa: ANN001
    token_client(user).post(f"/api/courses/{course.code}/labels/", {"schema": schema.pk, "name": "extra"})


def _labels_admin(user, course, schema) -> None:  # noqa: ANN001
    labels = list(schema.labels.all())
    data = {"course": schema.course_id or "", "name": schema.name, "kind": schema.kind, "description": "",
            "training_policy": "latest", "rare_labels": "leave_out", "reviewer": "",
            "labels-TOTAL_FORMS": len(labels) + 1,
            "labels-INITIAL_FORMS": len(labels), "labels-MIN_NUM_FORMS": 0, "labels-MAX_NUM_FORMS": 1000}
    for i, lb in enumerate([*labels, None]):
        data.update({f"labels-{i}-id": lb.pk if lb else "", f"labels-{i}-schema": schema.pk,
                     f"labels-{i}-position": lb.position if lb else 9, f"labels-{i}-name": lb.name if lb else "extra",
                     f"labels-{i}-color": lb.color if lb else "#000000", f"labels-{i}-description": ""})
    _admin(user).post(reverse("admin:classifiers_labelschema_change", args=[schema.pk]), data)


def _labels_service(user, course, schema) -> None:  # noqa: ANN001
    _service(lambda: add_labels(schema, ["extra"], actor=user))


LABEL_DOORS = [_labels_admin, _labels_api, _labels_service]


@pytest.mark.parametrize("door", LABEL_DOORS, ids=["admin", "api", "service"])
@pytest.mark.parametrize("role", ROLES)
def test_add_labels_to_a_course_schema(personas, course, schema, role, door):
    door(personas[role], course, schema)
    assert schema.labels.filter(name="extra").exists() == (role in MANAGERS)


@pytest.mark.parametrize("door", LABEL_DOORS, ids=["admin", "api", "service"])
@pytest.mark.parametrize("role", ROLES)
def test_add_labels_to_an_institution_wide_schema(personas, course, shared, role, door):
    door(personas[role], course, shared)
    assert shared.labels.filter(name="extra").exists() == (role in ADMINISTRATORS)


# --- import with new labels ----------------------------------------------------------------------------

CSV = b"text,label\nThe labs were great,mixed\nToo fast,heavy\n"


def _import_admin(user, course, schema_name, tmp_path) -> None:  # noqa: ANN001
    form = {"course_code": course.code, "file": SimpleUploadedFile("f.csv", CSV), "text_col": "text",
            "label_col": "label", "schema": schema_name, "schema_kind": "single", "create_labels": "on"}
    _admin(user).post(reverse("admin:classifiers_import_upload"), form)


def _import_command(user, course, schema_name, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "f.csv"
    path.write_bytes(CSV)
    try:
        call_command("import_feedback", course.code, str(path), "--label-col", "label", "--schema", schema_name,
                     "--create-labels", "--as", user.username, stdout=io.StringIO(), stderr=io.StringIO())
    except CommandError as exc:
        assert exc.returncode == 2 and "may not" in str(exc)


@pytest.mark.parametrize("door", [_import_admin, _import_command], ids=["admin", "command"])
@pytest.mark.parametrize("role", ROLES)
def test_import_with_new_labels_into_a_course_schema(personas, course, schema, role, door, tmp_path):
    door(personas[role], course, "sentiment", tmp_path)
    allowed = role in MANAGERS
    assert Feedback.objects.filter(course=course).count() == (2 if allowed else 0)
    assert schema.labels.filter(name__in=["mixed", "heavy"]).count() == (2 if allowed else 0)


@pytest.mark.parametrize("door", [_import_admin, _import_command], ids=["admin", "command"])
@pytest.mark.parametrize("role", ROLES)
def test_import_with_new_labels_into_an_institution_wide_schema(personas, course, shared, role, door, tmp_path):
    door(personas[role], course, "workload", tmp_path)
    allowed = role == "superuser"  # manages the course's imports *and* administers the shared schema
    assert Feedback.objects.filter(course=course).count() == (2 if allowed else 0)
    assert Label.objects.filter(name="mixed").exists() == allowed
