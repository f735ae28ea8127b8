"""The classifier factories build what the tests rely on: the course's schema, numbered versions, files, labels."""

from __future__ import annotations

import pytest

from classifiers import registry
from classifiers.models import AnnotationSource
from tests.factories import (
    AnnotationFactory,
    FeedbackFactory,
    LabelSchemaFactory,
    ModelVersionFactory,
    PredictionFactory,
    TrainingRunFactory,
)

pytestmark = pytest.mark.django_db


def test_schema_factory_returns_the_courses_own_sentiment_schema(course, sentiment):
    assert LabelSchemaFactory(course=course) == sentiment
    assert list(sentiment.labels.values_list("name", flat=True)) == ["negative", "neutral", "positive"]


def test_versions_are_numbered_per_scope_and_write_files_only_when_asked(course, other_course, sentiment):
    first, second = ModelVersionFactory(schema=sentiment), ModelVersionFactory(schema=sentiment, files=True)
    elsewhere = ModelVersionFactory(schema=other_course.schemas.get(name="sentiment"))
    assert (first.number, second.number, elsewhere.number) == (1, 2, 1)
    assert second.label_names == ["negative", "neutral", "positive"] and second.course == course
    assert not registry.absolute(first.path).exists()
    assert (registry.absolute(second.path) / "model.safetensors").read_text() == "stand-in"


def test_prediction_takes_the_top_score_and_annotation_its_labels(course, sentiment):
    version = ModelVersionFactory(schema=sentiment, training_run=TrainingRunFactory(schema=sentiment))
    prediction = PredictionFactory(model_version=version, scores={"negative": 0.7, "neutral": 0.2, "positive": 0.1})
    assert (prediction.label.name, prediction.label_names, prediction.confidence) == ("negative", ["negative"], 0.7)
    assert prediction.feedback.course == course and version.training_run.status == "succeeded"
    imported = AnnotationFactory(feedback=FeedbackFactory(course=course), source=AnnotationSource.IMPORT,
                                 annotator=None, labels=["neutral"])
    human = AnnotationFactory(feedback=imported.feedback, labels=[sentiment.labels.get(name="positive")])
    assert imported.schema == human.schema == sentiment and human.annotator is not None
    assert [list(a.labels.values_list("name", flat=True)) for a in (imported, human)] == [["neutral"], ["positive"]]
