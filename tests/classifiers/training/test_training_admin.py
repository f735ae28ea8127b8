"""Admin: train action, run progress endpoint (scoped), version report with the confusion matrix."""

from __future__ import annotations

import pytest
from django.urls import reverse

from classifiers.models import TrainingRun
from tests.classifiers.helpers import label_feedback, make_version

pytestmark = pytest.mark.django_db


def test_train_action_queues_a_run_and_reports_refusals(client, course, instructor):
    schema = course.schemas.get(name="sentiment")
    client.force_login(instructor)
    url = reverse("admin:classifiers_labelschema_changelist")
    response = client.post(url, {"action": "train_schemas", "_selected_action": [schema.pk]}, follow=True)
    assert "need examples of at least 2 labels" in response.content.decode()
    label_feedback(course, schema, {"positive": 8, "negative": 8})
    response = client.post(url, {"action": "train_schemas", "_selected_action": [schema.pk]}, follow=True)
    assert TrainingRun.objects.filter(schema=schema, status="queued").count() == 1
    assert "queued for" in response.content.decode()


def test_progress_endpoint_is_scoped_to_the_users_courses(client, course, other_course, instructor, outsider):
    schema = course.schemas.get(name="sentiment")
    run = TrainingRun.objects.create(schema=schema, course=course, progress={"step": 5, "total_steps": 20})
    url = reverse("admin:classifiers_trainingrun_progress", args=[run.pk])
    client.force_login(instructor)
    data = client.get(url).json()
    assert data["status"] == "queued" and data["percent"] == "25%"
    detail = client.get(reverse("admin:classifiers_trainingrun_change", args=[run.pk])).content.decode()
    assert 'id="run-bar"' in detail
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_version_page_shows_report_baseline_flag_and_confusion_matrix(client, course, instructor):
    version = make_version(course.schemas.get(name="sentiment"), course=course, number=1, beats=False)
    version.metrics.update({"accuracy": 0.5, "confusion_matrix": [[3, 1, 0], [0, 2, 2], [1, 0, 4]],
                            "label_names": version.label_names, "per_class": {"negative": {"precision": 0.75,
                            "recall": 0.75, "f1": 0.75, "support": 4}}})
    version.save()
    client.force_login(instructor)
    html = client.get(reverse("admin:classifiers_modelversion_change", args=[version.pk])).content.decode()
    assert "does not beat the majority-class baseline" in html
    assert "<svg" in html and "true negative, predicted neutral: 1" in html
    response = client.post(reverse("admin:classifiers_modelversion_changelist"),
                           {"action": "activate", "_selected_action": [version.pk]}, follow=True)
    assert "does not beat" in response.content.decode()
    version.refresh_from_db()
    assert not version.is_active
