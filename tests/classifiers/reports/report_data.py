"""Builders for report tests: feedback with predictions and annotations in given modules and weeks."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from classifiers.models import Annotation, Label, ModelVersion, Prediction
from courses.models import Course, Feedback, FeedbackSource, Module, ScreeningStatus
from tests.factories import AnnotationFactory, ModelVersionFactory, PredictionFactory, TrainingRunFactory

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.get_fixed_timezone(0))  # a Monday


def version(course: Course, *, beats: bool = True, f1: float = 0.81, baseline: float = 0.33,
            number: int = 1) -> ModelVersion:
    """The active version of the course's `sentiment` schema, trained two days ago, with these metrics."""
    schema = course.schemas.get(name="sentiment")
    return ModelVersionFactory(
        schema=schema, number=number, path=f"v{number}", training_run=TrainingRunFactory(schema=schema),
        beats_baseline=beats, is_active=True, metrics={"f1_macro": f1, "baseline": {"f1_macro": baseline},
                                                       "accuracy": 0.8},
    )


def add_feedback(course: Course, module: Module | None, labels: list[str], *, week: int = 0,
                 model: ModelVersion | None = None, confidence: float = 0.9, text: str = "comment",
                 source: str = FeedbackSource.IMPORT, screening: str = ScreeningStatus.CLEAR) -> list[Feedback]:
    """One feedback item per label name, submitted in week `week` after MONDAY, predicted by `model`.

    Written with bulk_create (a report test makes hundreds of items), predictions built by their factory."""
    items = Feedback.objects.bulk_create(
        Feedback(course=course, module=module, source=source, original_text=f"{text} {i}",
                 redacted_text=f"{text} {i}", submitted_at=MONDAY + timedelta(weeks=week, hours=i % 48),
                 screening=screening)
        for i, _ in enumerate(labels)
    )
    if model is not None:
        by_name = {label.name: label for label in Label.objects.filter(schema=model.schema)}
        Prediction.objects.bulk_create(
            PredictionFactory.build(feedback=f, model_version=model, label=by_name[name], scores={name: confidence})
            for f, name in zip(items, labels, strict=True)
        )
    return items


def annotate(feedback: Feedback, label: str, user) -> Annotation:  # noqa: ANN001 - a user
    """A human annotation of the feedback's `sentiment` schema."""
    return AnnotationFactory(feedback=feedback, annotator=user, labels=[label])
