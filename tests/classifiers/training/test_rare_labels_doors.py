"""Where people learn which labels a version never predicts (report page and API, annotate view, version and
run APIs), and where the schema's `rare_labels` setting is read and written (admin, API)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from classifiers.models import LabelSchema, RareLabels, TrainingRun
from tests.classifiers.helpers import label_feedback
from tests.classifiers.reports.report_data import version
from tests.factories import TrainingRunFactory
from tests.support import token_client

pytestmark = pytest.mark.django_db

BASE = "/api/courses/CS101"
NEVER = "never predicts:</strong> neutral (3 examples when trained)"


def _text(response) -> str:
    return " ".join(response.content.decode().split())


@pytest.fixture
def rare_version(course):
    """The active sentiment version, trained while "neutral" had 3 examples (left out)."""
    model = version(course)
    model.metrics = {**model.metrics, "not_learned": {"neutral": 3},
                     "warnings": ["label neutral: 3 examples, not learned; this version never predicts it"]}
    model.label_names = ["negative", "positive"]
    model.save()
    return model


def test_the_report_page_and_its_api_say_which_label_the_model_never_predicts(client, course, instructor,
                                                                               rare_version):
    client.force_login(instructor)
    page = client.get(reverse("reports:course_report", kwargs={"course_code": course.code}))
    assert page.status_code == 200
    assert f"The active model (v{rare_version.number}) {NEVER}" in _text(page)
    data = token_client(instructor).get(f"{BASE}/reports/modules/", {"schema": "sentiment"}).json()
    assert data["version"]["not_learned"] == {"neutral": 3}


def test_a_version_that_learned_every_label_says_nothing_of_the_kind(client, course, instructor):
    version(course)
    client.force_login(instructor)
    page = client.get(reverse("reports:course_report", kwargs={"course_code": course.code}))
    assert page.status_code == 200 and "never predicts" not in _text(page)
    assert token_client(instructor).get(f"{BASE}/reports/modules/").json()["version"]["not_learned"] == {}


def test_the_annotate_view_says_which_label_the_active_model_never_predicts(client, course, sentiment, annotator,
                                                                             rare_version):
    client.force_login(annotator)
    page = client.get(reverse("admin:classifiers_annotate", args=[sentiment.pk, course.pk]))
    assert page.status_code == 200
    assert f"The active model (v{rare_version.number}) never predicts: neutral (3 examples when trained)" in (
        _text(page))


def test_version_and_run_apis_carry_what_was_not_learned(course, instructor, rare_version):
    client = token_client(instructor)
    got = client.get(f"{BASE}/model-versions/{rare_version.pk}/").json()
    assert (got["label_names"], got["not_learned"]) == (["negative", "positive"], {"neutral": 3})
    run = TrainingRunFactory(schema=rare_version.schema, data_summary={
        "not_learned": {"neutral": 3}, "warnings": ["label neutral: 3 examples, not learned; this version never "
                                                     "predicts it"]})
    assert client.get(f"{BASE}/training-runs/{run.pk}/").json()["warnings"] == [
        "label neutral: 3 examples, not learned; this version never predicts it"]


def test_the_schema_api_creates_with_a_rare_labels_setting_and_shows_it(course, instructor):
    client = token_client(instructor)
    made = client.post(f"{BASE}/schemas/", {"name": "stars", "kind": "ordinal", "labels": ["1", "2"],
                                            "rare_labels": "refuse"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["rare_labels"] == "refuse"
    assert LabelSchema.objects.get(course=course, name="stars").rare_labels == RareLabels.REFUSE
    listed = {s["name"]: s["rare_labels"] for s in client.get(f"{BASE}/schemas/").json()["results"]}
    assert listed == {"sentiment": "leave_out", "stars": "refuse"}


def test_the_schema_api_refuses_an_unknown_setting_on_its_field(course, instructor):
    bad = token_client(instructor).post(f"{BASE}/schemas/", {"name": "stars", "rare_labels": "ignore"}, format="json")
    assert bad.status_code == 400
    assert bad.json() == {"rare_labels": ['"ignore" is not a valid choice.']}
    assert not LabelSchema.objects.filter(name="stars").exists()


def _schema_form(schema: LabelSchema, **changes: object) -> dict:
    labels = list(schema.labels.all())
    data = {"course": schema.course_id, "name": schema.name, "kind": schema.kind, "description": "",
            "training_policy": schema.training_policy, "rare_labels": schema.rare_labels, "reviewer": "",
            "labels-TOTAL_FORMS": len(labels), "labels-INITIAL_FORMS": len(labels),
            "labels-MIN_NUM_FORMS": 0, "labels-MAX_NUM_FORMS": 1000, **changes}
    for i, lb in enumerate(labels):
        data.update({f"labels-{i}-id": lb.pk, f"labels-{i}-schema": schema.pk, f"labels-{i}-position": lb.position,
                     f"labels-{i}-name": lb.name, f"labels-{i}-color": lb.color, f"labels-{i}-description": ""})
    return data


@pytest.mark.parametrize(("role", "changes"), [("instructor", True), ("teaching_assistant", True),
                                               ("annotator", False), ("viewer", False), ("outsider", False)])
def test_only_those_who_may_edit_the_schema_change_the_setting_in_admin(client, sentiment, role, changes, request):
    client.force_login(request.getfixturevalue(role))
    url = reverse("admin:classifiers_labelschema_change", args=[sentiment.pk])
    client.post(url, _schema_form(sentiment, rare_labels="refuse"))
    sentiment.refresh_from_db()
    assert (sentiment.rare_labels == RareLabels.REFUSE) is changes
    if changes:
        assert 'name="rare_labels"' in client.get(url).content.decode()


def test_the_admin_train_action_warns_which_label_the_run_leaves_out(client, course, sentiment, instructor):
    label_feedback(course, sentiment, {"positive": 8, "negative": 8, "neutral": 2})
    client.force_login(instructor)
    response = client.post(reverse("admin:classifiers_labelschema_changelist"),
                           {"action": "train_schemas", "_selected_action": [sentiment.pk]}, follow=True)
    shown = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert ("warning", f"{sentiment}: label neutral: 2 examples, not learned; this version never predicts it") in shown
    assert TrainingRun.objects.get().status == "queued"  # queued on commit, which this test never reaches
