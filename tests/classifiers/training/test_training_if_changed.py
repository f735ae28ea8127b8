"""`train --if-changed`: an active model trained on exactly the current annotations is not trained again."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from classifiers.models import TrainingRun
from classifiers.training.services import current_version_for_data, run_training, start_training_run
from classifiers.training.versions import activate_model_version
from tests.classifiers.helpers import label_feedback
from tests.classifiers.training.test_training_service import TINY, tiny_model  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_current_version_for_data_follows_the_annotations(course, instructor, tiny_model):  # noqa: F811
    schema = course.schemas.get(name="sentiment")
    label_feedback(course, schema, {"positive": 12, "negative": 12})
    assert current_version_for_data(schema, course=course) is None  # nothing trained yet
    run = start_training_run(schema, course=course, config={**TINY, "base_model": tiny_model}, actor=instructor,
                             dispatch=False)
    run = run_training(run.pk)
    assert [e["epoch"] for e in run.progress["evaluations"]] == [1.0, 2.0]  # validation figures per epoch
    version = run.model_version
    activate_model_version(version, actor=instructor, override=True, classify=False)
    assert current_version_for_data(schema, course=course) == version

    out = io.StringIO()
    call_command("train", course.code, "--if-changed", "--inline", stdout=out, stderr=io.StringIO())
    assert json.loads(out.getvalue()) == {"run": run.pk, "status": "unchanged", "version": 1,
                                          "version_id": version.pk}
    assert TrainingRun.objects.count() == 1

    label_feedback(course, schema, {"neutral": 8})  # new labels: the version no longer matches
    assert current_version_for_data(schema, course=course) is None
