"""manage.py classify: classifies the backlog, reports coverage, and is script-friendly without a model."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from classifiers.models import Prediction
from tests.classifiers.classification.serving_helpers import serving_version
from tests.factories import FeedbackFactory

pytestmark = pytest.mark.django_db


def test_inline_classifies_the_backlog_and_prints_the_coverage(tiny_serving_dir, course, other_course):
    version = serving_version(course, tiny_serving_dir)
    FeedbackFactory.create_batch(5, course=course)
    FeedbackFactory(course=course, original_text="x", redacted_text=" ")
    FeedbackFactory.create_batch(2, course=other_course)
    out, err = StringIO(), StringIO()
    call_command("classify", course.code, "--inline", stdout=out, stderr=err)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["coverage"] == {"comments": 6, "classified": 5, "skipped": 1, "pending": 0}
    assert f"{course.code}: 5 of 6 comments classified by {version}" in err.getvalue()
    assert Prediction.objects.filter(feedback__course=other_course).count() == 0


def test_without_an_active_model_it_fails_unless_asked_to_tolerate_it(course):
    FeedbackFactory(course=course)
    with pytest.raises(CommandError, match="no active model") as exc:
        call_command("classify", course.code, "--inline")
    assert exc.value.returncode == 2
    err = StringIO()
    call_command("classify", course.code, "--wait", "--if-model", stderr=err)
    assert "nothing classified" in err.getvalue()


def test_wait_with_nothing_to_do_needs_no_worker(tiny_serving_dir, course):
    serving_version(course, tiny_serving_dir)
    out = StringIO()
    call_command("classify", course.code, "--wait", stdout=out, stderr=StringIO())
    assert json.loads(out.getvalue().strip().splitlines()[-1])["coverage"]["pending"] == 0


def test_admin_action_queues_the_backlog_of_an_active_version_and_refuses_an_inactive_one(
    client, tiny_serving_dir, course, instructor
):
    from django.urls import reverse

    from classifiers.models import ClassificationRun

    active = serving_version(course, tiny_serving_dir)
    inactive = serving_version(course, tiny_serving_dir, number=2, activate=False)
    FeedbackFactory.create_batch(4, course=course)
    client.force_login(instructor)
    url = reverse("admin:classifiers_modelversion_changelist")
    html = client.post(url, {"action": "classify_backlog", "_selected_action": [active.pk, inactive.pk]},
                       follow=True).content.decode()
    assert "4 comments queued for classification" in html and "is not active" in html
    run = ClassificationRun.objects.get()
    assert (run.model_version, run.status, run.progress["pending"], run.actor) == (active, "queued", 4, instructor)
