"""Screeners' decisions train the screening schema through the product's own training path, and its active
version then screens new comments through the classification path (issue 19, item 1 and 3)."""

from __future__ import annotations

import pytest

from classifiers.models import Prediction
from classifiers.screening.screens import forget_policy
from classifiers.screening.services import decide, screen_pending, screening_policy, train_screening_model
from classifiers.training.services import run_training
from classifiers.training.versions import activate_model_version
from courses.models import Feedback, ScreeningStatus
from tests.classifiers.tiny import tiny_bert
from tests.factories import FeedbackFactory
from tests.support import token_client

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

TINY = {"epochs": 2, "learning_rate": 5e-3, "batch_size": 16, "freeze_embeddings": False, "max_length": 32,
        "min_per_label": 4}


@pytest.fixture
def tiny_model(tmp_path_factory):
    return tiny_bert(tmp_path_factory.getbasetemp() / "tiny-bert")


def test_decisions_train_the_screen_that_then_screens_new_comments(
    course, instructor, screener, administrator, tiny_model
):
    for i in range(16):
        rude = FeedbackFactory(course=course, original_text=f"the lecturer is a complete idiot {i}",
                               screening=ScreeningStatus.HELD, screening_reasons=["offensive"])
        fine = FeedbackFactory(course=course, original_text=f"the lecturer was a bit slow {i}",
                               screening=ScreeningStatus.HELD, screening_reasons=["offensive"])
        decide(rude, action="remove", actor=screener, reasons=["offensive"])
        decide(fine, action="release", actor=screener)
    run = run_training(train_screening_model(actor=administrator, config={**TINY, "base_model": tiny_model}).pk)
    assert run.status == "succeeded", run.error
    assert run.data_summary["annotations"] == 32 and run.schema == screening_policy().schema
    version = run.model_version
    if not version.is_active:  # a 2-layer toy may not beat its baseline; the gate is the admin's to override
        activate_model_version(version, actor=administrator, override=True, classify=False)
    forget_policy()

    api = token_client(instructor)
    for text in ("The problem sheets were useful", "I want to die, I cannot cope with anything any more"):
        assert api.post(f"/api/courses/{course.code}/feedback/", {"text": text}, format="json").status_code == 201
    waiting = Feedback.objects.get(original_text="The problem sheets were useful")
    urgent = Feedback.objects.get(original_text__startswith="I want to die")
    assert waiting.screening == ScreeningStatus.PENDING  # hidden until the trained screen has read it
    assert urgent.screening == ScreeningStatus.URGENT  # the patterns still decide at once
    assert api.get(f"/api/courses/{course.code}/feedback/?search=problem").json()["count"] == 0

    done = screen_pending(limit=50)
    waiting.refresh_from_db()
    assert done.screened == 1 and waiting.screening in (ScreeningStatus.CLEAR, ScreeningStatus.HELD)
    assert waiting.screened_with == f"screening v{version.number} (rules 1)"
    assert Prediction.objects.filter(feedback=waiting, model_version=version).exists()
