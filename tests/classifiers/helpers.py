"""Labelled feedback and registered versions for classifier tests."""

from __future__ import annotations

from classifiers import registry
from classifiers.models import Annotation, AnnotationLabel, AnnotationSource, LabelSchema, ModelVersion
from courses.models import Course
from tests.factories import FeedbackFactory

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
            ann = Annotation.objects.create(feedback=fb, schema=schema, source=AnnotationSource.IMPORT)
            AnnotationLabel.objects.create(annotation=ann, label=labels[name])
            ids.append(fb.pk)
    return ids


def make_version(schema: LabelSchema, *, course: Course | None, number: int, beats: bool = True) -> ModelVersion:
    """A registered version with files on disk (a stand-in directory; activation does not load it)."""
    relpath = registry.version_relpath(schema.pk, course.pk if course else None, number)
    path = registry.absolute(relpath)
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"stand-in")
    return ModelVersion.objects.create(
        schema=schema, course=course, number=number, path=relpath, base_model="tiny",
        label_names=["negative", "neutral", "positive"], beats_baseline=beats,
        metrics={"f1_macro": 0.8 if beats else 0.1, "baseline": {"f1_macro": 0.2}},
    )
