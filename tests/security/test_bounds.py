"""Issue 18 item 7, unbounded work: each test is one attack that used to succeed and now must not."""

from __future__ import annotations

import pytest

from classifiers.ml import training
from classifiers.models import TrainingRun
from tests.classifiers.helpers import label_feedback
from tests.factories import LabelFactory, LabelSchemaFactory
from tests.support import token_client

TRAIN_URL = "/api/courses/CS101/training-runs/"


@pytest.fixture
def trainable(course, sentiment):
    """CS101's `sentiment` schema with enough labelled feedback to queue a run."""
    label_feedback(course, sentiment, {"positive": 8, "negative": 8})
    return sentiment


# --- Training options have upper bounds: one run cannot hold the shared queue for the task's 6 hours ---

@pytest.mark.parametrize(("option", "value", "limit"), [
    ("epochs", 10_000, training.MAX_EPOCHS),
    ("patience", 1_000, training.MAX_PATIENCE),
    ("max_steps", 10_000_000, training.MAX_STEPS),
    ("batch_size", 100_000, training.MAX_BATCH_SIZE),
    ("max_length", 100_000, training.MAX_LENGTH),
    ("min_per_label", 10**9, training.MAX_MIN_PER_LABEL),
])
def test_an_oversized_training_option_is_refused_naming_the_option_and_its_limit(
        instructor, trainable, option, value, limit):
    response = token_client(instructor).post(TRAIN_URL, {"schema": trainable.pk, "config": {option: value}},
                                             format="json")
    assert response.status_code == 400, response.content
    message = response.json()["config"][0]
    assert option in message and str(limit) in message
    assert not TrainingRun.objects.exists()


def test_training_options_at_their_limits_are_accepted(instructor, trainable):
    limits = {"epochs": training.MAX_EPOCHS, "patience": training.MAX_PATIENCE, "max_steps": training.MAX_STEPS,
              "batch_size": training.MAX_BATCH_SIZE, "max_length": training.MAX_LENGTH}
    response = token_client(instructor).post(TRAIN_URL, {"schema": trainable.pk, "config": limits}, format="json")
    assert response.status_code == 201, response.content
    assert {k: TrainingRun.objects.get().config[k] for k in limits} == limits


# --- A course cannot fill the training queue with runs of many schemas ---

def test_a_course_may_not_queue_more_runs_than_the_limit(instructor, course, trainable, settings):
    settings.TRAINING_MAX_QUEUED_PER_COURSE = 2
    for name in ("topic", "tone"):
        other = LabelSchemaFactory(course=course, name=name)
        LabelFactory(schema=other)
        TrainingRun.objects.create(schema=other, course=course)
    response = token_client(instructor).post(TRAIN_URL, {"schema": trainable.pk}, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": "course CS101 already has 2 training run(s) queued (the limit is 2); "
                                         "wait for one to start or cancel one"}
    assert not TrainingRun.objects.filter(schema=trainable).exists()


def test_queued_runs_of_another_course_do_not_count(instructor, course, other_course, trainable, settings):
    settings.TRAINING_MAX_QUEUED_PER_COURSE = 1
    TrainingRun.objects.create(schema=other_course.schemas.get(name="sentiment"), course=other_course)
    response = token_client(instructor).post(TRAIN_URL, {"schema": trainable.pk}, format="json")
    assert response.status_code == 201, response.content
