"""One row of every resource in a course, for the API isolation tests (a plain module; fixtures in conftest)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from classifiers.models import Annotation, LabelSchema, ModelVersion, Prediction, Theme, ThemeRun, TrainingRun
from courses.models import Course, Question, Survey
from tests.factories import (
    AnnotationFactory,
    FeedbackFactory,
    ModelVersionFactory,
    ModuleFactory,
    PredictionFactory,
    TrainingRunFactory,
)


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
    theme_run: ThemeRun
    theme: Theme


def make_course_objects(course: Course, annotator, tag: str) -> CourseObjects:  # noqa: ANN001 - a user
    module = ModuleFactory(course=course, title=f"Week 1 {tag}")
    now = timezone.now()
    survey = Survey.objects.create(
        course=course, module=module, title=f"Mid-term survey {tag}", opens_at=now, closes_at=now + timedelta(days=7)
    )
    Question.objects.create(survey=survey, position=1, kind="text", prompt="What helps you learn?")
    feedback = FeedbackFactory(course=course, module=module, original_text=f"secret-{tag} lectures are great",
                               redacted_text=f"secret-{tag} lectures are great", external_id=f"ext-{tag}")
    schema = course.schemas.get(name="sentiment")
    label = schema.labels.get(name="positive")
    annotation = AnnotationFactory(feedback=feedback, schema=schema, annotator=annotator, labels=[label])
    run = TrainingRunFactory(schema=schema, course=course, actor=annotator, finished_at=None)
    # Stand-in files, so that activation and export reach their real code paths (nothing loads them).
    version = ModelVersionFactory(schema=schema, course=course, training_run=run, number=1, path=f"{tag}/v1",
                                  is_active=True, files={"config.json": f'{{"secret": "secret-{tag}"}}'})
    prediction = PredictionFactory(feedback=feedback, model_version=version, label=label, label_names=["positive"])
    theme_run = ThemeRun.objects.create(course=course, status="succeeded", stats={"secret": f"secret-{tag}"})
    theme = Theme.objects.create(course=course, name=f"secret-{tag} theme", keywords=[f"secret-{tag}"], size=10,
                                 centroid=b"\0" * 16, first_seen_run=theme_run, last_seen_run=theme_run)
    return CourseObjects(course, module, survey, feedback, schema, label, annotation, run, version, prediction,
                         theme_run, theme)
