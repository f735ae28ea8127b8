"""Labelled feedback and registered versions for classifier tests."""

from __future__ import annotations

from classifiers.models import AnnotationSource, LabelSchema, ModelVersion
from courses.models import Course
from tests.factories import AnnotationFactory, FeedbackFactory, ModelVersionFactory

WORDS = {
    "positive": ["great", "loved", "excellent", "clear", "helpful"],
    "negative": ["awful", "boring", "confusing", "rushed", "useless"],
    "neutral": ["okay", "average", "fine", "normal", "standard"],
}


def label_feedback(course: Course, schema: LabelSchema, counts: dict[str, int]) -> list[int]:
    """Create `counts[label]` import-annotated feedback items per label; returns the feedback ids."""
    labels = {label.name: label for label in schema.labels.all()}
    ids = []
    for name, n in counts.items():
        words = WORDS.get(name, [name])
        for i in range(n):
            fb = FeedbackFactory(course=course, original_text=f"the lecture was {words[i % len(words)]} {name} {i}")
            AnnotationFactory(feedback=fb, schema=schema, source=AnnotationSource.IMPORT, annotator=None,
                              labels=[labels[name]])
            ids.append(fb.pk)
    return ids


def make_version(schema: LabelSchema, *, course: Course | None, number: int, beats: bool = True) -> ModelVersion:
    """A registered version with a stand-in model file on disk (activation does not load it), beating its
    baseline (macro-F1 0.8 vs 0.2) or not (0.1 vs 0.2)."""
    return ModelVersionFactory(
        schema=schema, course=course, number=number, files=True, beats_baseline=beats,
        label_names=["negative", "neutral", "positive"],
        metrics={"f1_macro": 0.8 if beats else 0.1, "baseline": {"f1_macro": 0.2}},
    )
