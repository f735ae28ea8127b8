"""Helpers for annotation tests: model versions and predictions written directly (no training)."""

from __future__ import annotations

from classifiers.models import LabelSchema, ModelVersion, Prediction


def active_version(schema: LabelSchema, course=None, number: int = 1) -> ModelVersion:  # noqa: ANN001
    return ModelVersion.objects.create(
        schema=schema, course=course if course is not None else schema.course, number=number,
        path=f"v{number}", base_model="tiny", label_names=list(schema.labels.values_list("name", flat=True)),
        is_active=True,
    )


def predict(version: ModelVersion, feedback, scores: dict[str, float]) -> Prediction:  # noqa: ANN001
    top = max(scores, key=scores.get)
    return Prediction.objects.create(
        feedback=feedback, schema=version.schema, model_version=version,
        label=version.schema.labels.get(name=top), label_names=[top], scores=scores, confidence=scores[top],
    )
