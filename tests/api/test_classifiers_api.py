"""Label schemas, labels, annotations and model read endpoints through the API."""

from __future__ import annotations

import pytest

from classifiers.labelling.schemas import create_schema
from classifiers.models import Annotation, Label, LabelSchema
from tests.factories import FeedbackFactory
from tests.support import token_client

BASE = "/api/courses/CS101"


@pytest.fixture
def client(instructor):
    return token_client(instructor)


def test_create_schema_with_labels_and_refuse_a_second_of_the_same_name(client, course):
    response = client.post(f"{BASE}/schemas/", {"name": "topic", "kind": "multi", "labels": ["pace", "slides"]})
    assert response.status_code == 201, response.content
    assert [lb["name"] for lb in response.json()["labels"]] == ["pace", "slides"]
    again = client.post(f"{BASE}/schemas/", {"name": "topic", "labels": ["a", "a"]})
    assert again.status_code == 400
    assert again.json() == {"name": ['the course already has a schema "topic"'], "labels": ["label names repeat: a"]}
    assert LabelSchema.objects.filter(course=course, name="topic").count() == 1


def test_schema_list_includes_institution_wide_schemas_but_a_course_role_cannot_change_them(client, course):
    shared = create_schema("workload", kind="ordinal", labels=["low", "high"], actor=None)
    names = {s["name"]: s["institution_wide"] for s in client.get(f"{BASE}/schemas/").json()["results"]}
    assert names == {"sentiment": False, "workload": True}
    response = client.post(f"{BASE}/labels/", {"schema": shared.pk, "name": "extreme"})
    assert response.status_code == 403
    assert "institution-wide" in response.json()["detail"]
    assert not Label.objects.filter(name="extreme").exists()


def test_annotation_goes_through_record_annotation_and_keeps_history(client, course, instructor):
    feedback = FeedbackFactory(course=course)
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    positive, negative = schema.labels.get(name="positive"), schema.labels.get(name="negative")
    url = f"{BASE}/annotations/"
    first = client.post(url, {"feedback": feedback.pk, "schema": schema.pk, "labels": [positive.pk]})
    second = client.post(url, {"feedback": feedback.pk, "schema": schema.pk, "labels": [negative.pk]})
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["labels"] == ["negative"]
    assert second.json()["annotator"] == instructor.username
    current = client.get(url, {"feedback": feedback.pk, "is_current": True}).json()["results"]
    assert [a["id"] for a in current] == [second.json()["id"]]
    assert Annotation.objects.filter(feedback=feedback).count() == 2


def test_annotation_errors_name_the_field(client, course, other_course):
    feedback = FeedbackFactory(course=course)
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    foreign_label = LabelSchema.objects.get(course=other_course, name="sentiment").labels.first()
    url = f"{BASE}/annotations/"
    response = client.post(url, {"feedback": feedback.pk, "schema": schema.pk, "labels": [foreign_label.pk]})
    assert response.status_code == 400
    assert "labels" in response.json()
    two = list(schema.labels.values_list("pk", flat=True)[:2])
    response = client.post(url, {"feedback": feedback.pk, "schema": schema.pk, "labels": two})
    assert response.status_code == 400
    assert "choose exactly one label" in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_deleting_a_label_in_use_is_refused_with_the_count(client, mine):
    response = client.delete(f"{BASE}/labels/{mine.label.pk}/")
    assert response.status_code == 400
    assert response.json() == {
        "detail": 'label "positive" is used by 1 annotation(s); relabel them or rename the label instead'
    }
    unused = mine.schema.labels.get(name="neutral")
    assert client.delete(f"{BASE}/labels/{unused.pk}/").status_code == 204
    assert not Label.objects.filter(pk=unused.pk).exists()


@pytest.mark.parametrize("resource", ["annotations", "predictions", "training-runs", "model-versions", "schemas"])
def test_lists_run_a_fixed_number_of_queries(client, mine, resource, django_assert_max_num_queries):
    with django_assert_max_num_queries(9):
        response = client.get(f"{BASE}/{resource}/")
    assert response.status_code == 200
    assert response.json()["count"] >= 1


def test_prediction_filters(client, mine):
    url = f"{BASE}/predictions/"
    assert client.get(url, {"min_confidence": 0.5}).json()["count"] == 1
    assert client.get(url, {"min_confidence": 0.9}).json()["count"] == 0
    assert client.get(url, {"label": mine.label.pk, "model_version": mine.model_version.pk}).json()["count"] == 1
    run = client.get(f"{BASE}/training-runs/{mine.training_run.pk}/").json()
    assert run["model_version"] == mine.model_version.pk
