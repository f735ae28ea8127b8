"""API fixtures: token clients for the personas, and one object of every resource in each course."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from classifiers import registry
from classifiers.models import Annotation, AnnotationLabel, LabelSchema, ModelVersion, Prediction, TrainingRun
from courses.models import Course, Question, Survey
from tests.factories import FeedbackFactory, ModuleFactory


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # Throttle counters live in the shared cache (this checkout's own Redis DB); start each test at zero.
    cache.clear()
    yield


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def api_as():
    return token_client


@dataclass
class CourseObjects:
    """One row of every resource in a course, for isolation tests."""

    course: Course
    module: object
    survey: Survey
    feedback: object
    schema: LabelSchema
    label: object
    annotation: Annotation
    training_run: TrainingRun
    model_version: ModelVersion
    prediction: Prediction


def make_course_objects(course: Course, annotator, tag: str) -> CourseObjects:
    module = ModuleFactory(course=course, title=f"Week 1 {tag}")
    now = timezone.now()
    survey = Survey.objects.create(
        course=course, module=module, title=f"Mid-term survey {tag}", opens_at=now, closes_at=now + timedelta(days=7)
    )
    Question.objects.create(survey=survey, position=1, kind="text", prompt="What helps you learn?")
    feedback = FeedbackFactory(course=course, module=module, original_text=f"secret-{tag} lectures are great",
                               redacted_text=f"secret-{tag} lectures are great", external_id=f"ext-{tag}")
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    label = schema.labels.get(name="positive")
    annotation = Annotation.objects.create(feedback=feedback, schema=schema, annotator=annotator)
    AnnotationLabel.objects.create(annotation=annotation, label=label)
    run = TrainingRun.objects.create(schema=schema, course=course, status="succeeded", actor=annotator)
    version = ModelVersion.objects.create(
        schema=schema, course=course, training_run=run, number=1, path=f"{tag}/v1", base_model="tiny",
        label_names=["negative", "neutral", "positive"], is_active=True,
    )
    # Stand-in files, so that activation and export reach their real code paths (nothing loads them).
    registry.absolute(version.path).mkdir(parents=True)
    (registry.absolute(version.path) / "config.json").write_text(f'{{"secret": "secret-{tag}"}}')
    prediction = Prediction.objects.create(
        feedback=feedback, schema=schema, model_version=version, label=label, label_names=["positive"],
        scores={"negative": 0.1, "neutral": 0.1, "positive": 0.8}, confidence=0.8,
    )
    return CourseObjects(course, module, survey, feedback, schema, label, annotation, run, version, prediction)


@pytest.fixture
def mine(course, instructor):
    return make_course_objects(course, instructor, "mine")


@pytest.fixture
def theirs(other_course, outsider):
    return make_course_objects(other_course, outsider, "theirs")
