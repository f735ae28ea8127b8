"""Builders for report tests: feedback with predictions and annotations in given modules and weeks."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from classifiers.models import Annotation, AnnotationLabel, Label, LabelSchema, ModelVersion, Prediction, TrainingRun
from courses.models import Course, Feedback, FeedbackSource, Module

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.get_fixed_timezone(0))  # a Monday


def sentiment(course: Course) -> LabelSchema:
    return LabelSchema.objects.get(course=course, name="sentiment")


def version(course: Course, *, beats: bool = True, f1: float = 0.81, baseline: float = 0.33,
            number: int = 1) -> ModelVersion:
    schema = sentiment(course)
    run = TrainingRun.objects.create(schema=schema, course=course, status="succeeded",
                                     finished_at=timezone.now() - timedelta(days=2))
    return ModelVersion.objects.create(
        schema=schema, course=course, training_run=run, number=number, path=f"v{number}", base_model="tiny",
        label_names=["negative", "neutral", "positive"], beats_baseline=beats, is_active=True,
        metrics={"f1_macro": f1, "baseline": {"f1_macro": baseline}, "accuracy": 0.8},
    )


def add_feedback(course: Course, module: Module | None, labels: list[str], *, week: int = 0,
                 model: ModelVersion | None = None, confidence: float = 0.9, text: str = "comment",
                 source: str = FeedbackSource.IMPORT) -> list[Feedback]:
    """One feedback item per label name, submitted in week `week` after MONDAY, predicted by `model`."""
    schema = sentiment(course)
    by_name = {label.name: label for label in Label.objects.filter(schema=schema)}
    items = Feedback.objects.bulk_create(
        Feedback(course=course, module=module, source=source, original_text=f"{text} {i}",
                 redacted_text=f"{text} {i}", submitted_at=MONDAY + timedelta(weeks=week, hours=i % 48))
        for i, _ in enumerate(labels)
    )
    if model is not None:
        Prediction.objects.bulk_create(
            Prediction(feedback=f, schema=schema, model_version=model, label=by_name[name], label_names=[name],
                       scores={name: confidence}, confidence=confidence)
            for f, name in zip(items, labels, strict=True)
        )
    return items


def annotate(feedback: Feedback, label: str, user) -> Annotation:  # noqa: ANN001 - a user
    schema = sentiment(feedback.course)
    annotation = Annotation.objects.create(feedback=feedback, schema=schema, annotator=user, source="human")
    AnnotationLabel.objects.create(annotation=annotation, label=Label.objects.get(schema=schema, name=label))
    return annotation
