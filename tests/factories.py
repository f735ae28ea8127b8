"""factory-boy factories for the domain models: courses, and the classifier models that tests build directly."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from classifiers import registry
from classifiers.models import (
    Annotation,
    AnnotationLabel,
    AnnotationSource,
    Label,
    LabelSchema,
    ModelVersion,
    Prediction,
    TrainingRun,
)
from courses.models import (
    Course,
    CourseMembership,
    Feedback,
    FeedbackSource,
    Module,
    Question,
    QuestionKind,
    Role,
    ScreeningStatus,
    Survey,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    password = factory.django.Password("pw-for-tests-only")


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    code = factory.Sequence(lambda n: f"C{n:03d}")
    title = factory.Sequence(lambda n: f"Course {n}")
    term = "Spring 2026"


class ModuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Module

    course = factory.SubFactory(CourseFactory)
    title = factory.Sequence(lambda n: f"Module {n}")
    position = factory.Sequence(lambda n: n)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CourseMembership

    user = factory.SubFactory(UserFactory)
    course = factory.SubFactory(CourseFactory)
    role = Role.INSTRUCTOR


class FeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feedback

    course = factory.SubFactory(CourseFactory)
    source = FeedbackSource.IMPORT
    original_text = factory.Sequence(lambda n: f"Comment number {n} about the lectures")
    redacted_text = factory.LazyAttribute(lambda o: o.original_text)
    # Written past build_feedback, so past the screen: say what it would have said of these comments.
    screening = ScreeningStatus.CLEAR
    submitted_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey

    course = factory.SubFactory(CourseFactory)
    title = factory.Sequence(lambda n: f"Mid-term survey {n}")
    intro = "Tell us how the course is going. It takes about two minutes."
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    is_anonymous = True


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    survey = factory.SubFactory(SurveyFactory)
    position = factory.Sequence(lambda n: n)
    kind = QuestionKind.LIKERT
    prompt = "The lectures help me learn."


class LabelSchemaFactory(factory.django.DjangoModelFactory):
    """Get-or-create by course and name: `LabelSchemaFactory(course=c)` is the `sentiment` schema every course
    gets when it is created; another name makes a new schema (add its labels with LabelFactory)."""

    class Meta:
        model = LabelSchema
        django_get_or_create = ("course", "name")

    course = factory.SubFactory(CourseFactory)
    name = "sentiment"


class LabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Label

    schema = factory.SubFactory(LabelSchemaFactory, name=factory.Sequence(lambda n: f"schema-{n}"))
    name = factory.Sequence(lambda n: f"label-{n}")
    position = factory.Sequence(lambda n: n)


def _label_of(schema: LabelSchema, label: Label | str) -> Label:
    return label if isinstance(label, Label) else schema.labels.get(name=label)


class AnnotationFactory(factory.django.DjangoModelFactory):
    """A current human annotation of the feedback's `sentiment` schema; `labels=["positive"]` (names or Label
    objects) adds its labels. For an import annotation pass `source=AnnotationSource.IMPORT, annotator=None`."""

    class Meta:
        model = Annotation
        skip_postgeneration_save = True

    feedback = factory.SubFactory(FeedbackFactory)
    schema = factory.LazyAttribute(lambda o: LabelSchema.objects.get(course=o.feedback.course, name="sentiment"))
    annotator = factory.SubFactory(UserFactory)
    source = AnnotationSource.HUMAN

    @factory.post_generation
    def labels(self, create: bool, extracted: list | None, **kwargs: object) -> None:
        if create and extracted:
            AnnotationLabel.objects.bulk_create(
                AnnotationLabel(annotation=self, label=_label_of(self.schema, label)) for label in extracted
            )


class TrainingRunFactory(factory.django.DjangoModelFactory):
    """A finished (succeeded) run of the course's `sentiment` schema."""

    class Meta:
        model = TrainingRun

    schema = factory.SubFactory(LabelSchemaFactory)
    course = factory.SelfAttribute("schema.course")
    status = "succeeded"
    finished_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=2))


def _next_number(version: object) -> int:
    return ModelVersion.objects.filter(schema=version.schema, course=version.course).count() + 1


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A registered version of the course's `sentiment` schema, numbered after the scope's last one.

    No files by default; `files=True` publishes a stand-in model file at its path, `files={"name": "text"}`
    writes those (activation and export then reach their real code paths; nothing loads them).
    """

    class Meta:
        model = ModelVersion
        skip_postgeneration_save = True

    schema = factory.SubFactory(LabelSchemaFactory)
    course = factory.SelfAttribute("schema.course")
    number = factory.LazyAttribute(_next_number)
    path = factory.LazyAttribute(
        lambda o: registry.version_relpath(o.schema.pk, o.course.pk if o.course else None, o.number)
    )
    base_model = "tiny"
    label_names = factory.LazyAttribute(lambda o: list(o.schema.labels.values_list("name", flat=True)))

    @factory.post_generation
    def files(self, create: bool, extracted: bool | dict[str, str] | None, **kwargs: object) -> None:
        if not (create and extracted):
            return
        contents = extracted if isinstance(extracted, dict) else {"model.safetensors": "stand-in"}
        build = registry.new_temp_dir()  # published like a trained version: to the local or the object store
        build.mkdir(parents=True, exist_ok=True)
        for name, text in contents.items():
            (build / name).write_text(text)
        registry.publish(build, self.path)


class PredictionFactory(factory.django.DjangoModelFactory):
    """A prediction of `model_version` for feedback of its course; the label is the top of `scores`."""

    class Meta:
        model = Prediction

    model_version = factory.SubFactory(ModelVersionFactory)
    schema = factory.SelfAttribute("model_version.schema")
    feedback = factory.SubFactory(FeedbackFactory, course=factory.SelfAttribute("..model_version.course"))
    scores = factory.LazyFunction(lambda: {"negative": 0.1, "neutral": 0.1, "positive": 0.8})
    label = factory.LazyAttribute(lambda o: o.schema.labels.get(name=max(o.scores, key=o.scores.get)))
    label_names = factory.LazyAttribute(lambda o: [o.label.name])
    confidence = factory.LazyAttribute(lambda o: o.scores.get(o.label.name, max(o.scores.values())))


def annotator_of(course: Course, username: str | None = None):  # noqa: ANN201 - the user model
    """A user holding the annotator role in `course` (record_annotation authorizes its actor)."""
    user = UserFactory(username=username) if username else UserFactory()
    return MembershipFactory(course=course, role=Role.ANNOTATOR, user=user).user
