"""Feedback with stand-in embeddings: themes tests control the vectors (and so the themes) exactly."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils import timezone

from classifiers.ml.embeddings import to_bytes
from classifiers.models import Annotation, AnnotationLabel, AnnotationSource, Label, LabelSchema
from classifiers.themes.embeddings import current_spec, text_md5
from classifiers.themes.models import FeedbackEmbedding, Theme, ThemeRun, ThemeSuggestion
from classifiers.themes.services import run_theme_run, start_theme_run
from courses.models import Course, Feedback, Module

DIM = 384
TOPICS = {
    "exam": ["The exam paper was far too long", "Exam questions did not match the lectures",
             "Past exam papers would help revision", "The final exam timing was unfair"],
    "lab": ["Lab sessions need more tutors", "The lab machines crash during practicals",
            "More lab time for the assignments please", "Lab tutors were really helpful"],
    "slides": ["Lecture slides are uploaded too late", "The slides have many typos",
               "Please share the slides before class", "Slides are clear and well organised"],
    "parking": ["Parking near the building is impossible", "Car parking costs too much",
                "No parking spaces left after nine", "Bike parking is always full"],
}


def direction(topic: str) -> np.ndarray:
    """A fixed unit direction per topic (orthogonal: one axis block each)."""
    index = list(TOPICS).index(topic)
    v = np.zeros(DIM, dtype=np.float32)
    v[index * 8:(index + 1) * 8] = 1
    return v / np.linalg.norm(v)


def add_comments(course: Course, topic: str, n: int, *, module: Module | None = None, seed: int = 0,
                 weeks_ago: int = 0, embed: bool = True, label: str | None = None) -> list[Feedback]:
    """`n` comments on `topic` (with current stand-in embeddings unless embed=False; with an import
    annotation of the course's `sentiment` schema when `label` is given)."""
    rng = np.random.default_rng(seed + 1000 * list(TOPICS).index(topic))
    texts = [f"{TOPICS[topic][i % 4]} ({i})" for i in range(n)]
    when = timezone.now() - timedelta(weeks=weeks_ago, hours=1)
    items = Feedback.objects.bulk_create([
        Feedback(course=course, module=module, source="import", original_text=t, redacted_text=t, submitted_at=when,
                 screening="clear")  # as ingest screens them (pending ones are never quoted)
        for t in texts])
    if embed:
        key = current_spec().key
        vectors = direction(topic) + 0.15 * rng.normal(size=(n, DIM)) / np.sqrt(DIM)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        FeedbackEmbedding.objects.bulk_create([
            FeedbackEmbedding(feedback=f, model_key=key, text_md5=text_md5(f.redacted_text), vector=to_bytes(v))
            for f, v in zip(items, vectors, strict=True)])
    if label is not None:
        schema = course.schemas.get(name="sentiment")
        annotations = Annotation.objects.bulk_create(
            Annotation(feedback=f, schema=schema, source=AnnotationSource.IMPORT) for f in items)
        chosen = Label.objects.get(schema=schema, name=label)
        AnnotationLabel.objects.bulk_create(AnnotationLabel(annotation=a, label=chosen) for a in annotations)
    return items


def recompute(course: Course) -> ThemeRun:
    """A recomputation of `course`'s themes run in the test process; it must succeed."""
    run = run_theme_run(start_theme_run(course, actor=None, dispatch=False).pk)
    assert run.status == "succeeded", run.error
    return run


def themes_of(course: Course, topics: tuple[str, ...]) -> dict[str, Theme]:
    """30 comments on each of `topics` in `course`, recomputed: topic → its theme (named by keywords)."""
    for topic in topics:
        add_comments(course, topic, 30)
    recompute(course)
    found = {t.name.split()[0].rstrip(","): t for t in Theme.objects.filter(course=course, status="active")}
    assert set(found) == set(topics), found
    return found


def members(theme: Theme) -> list[int]:
    """Ids of `theme`'s comments now (read from the database), sorted."""
    return sorted(theme.members.values_list("feedback_id", flat=True))


def suggested(schema: LabelSchema) -> dict[int, str]:
    """Item id → label name of every suggestion of `schema`."""
    return dict(ThemeSuggestion.objects.filter(schema=schema).values_list("feedback_id", "label__name"))
