"""Constraints live in the database: they hold even when code bypasses forms and services."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from classifiers.models import Annotation, AnnotationLabel, AnnotationSource, Label, LabelSchema
from courses.models import Answer, CourseMembership, Feedback, Module, Question, Survey, SurveyResponse
from tests.factories import CourseFactory, FeedbackFactory, UserFactory

pytestmark = pytest.mark.django_db


def violates(fn) -> bool:
    try:
        with transaction.atomic():
            fn()
    except IntegrityError:
        return True
    return False


def test_new_course_gets_default_sentiment_schema():
    course = CourseFactory()
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    assert list(schema.labels.values_list("name", flat=True)) == ["negative", "neutral", "positive"]


def test_feedback_external_id_unique_per_course_only(course, other_course):
    FeedbackFactory(course=course, external_id="x1")
    FeedbackFactory(course=other_course, external_id="x1")
    FeedbackFactory(course=course, external_id=None)
    FeedbackFactory(course=course, external_id=None)
    assert violates(lambda: FeedbackFactory(course=course, external_id="x1"))


@pytest.mark.parametrize(
    "fields",
    [{"source": "email"}, {"original_text": "   "}, {"original_text": "x" * (settings.FEEDBACK_MAX_CHARS_CEILING + 1)},
     {"split": "holdout"}],
)
def test_feedback_check_constraints(course, fields):
    assert violates(lambda: FeedbackFactory(course=course, **fields))


def test_the_length_constraint_is_the_fixed_ceiling_not_the_setting(course):
    # FEEDBACK_MAX_CHARS may be raised (up to the ceiling) without a migration: the database holds the ceiling.
    assert settings.FEEDBACK_MAX_CHARS < settings.FEEDBACK_MAX_CHARS_CEILING
    stored = FeedbackFactory(course=course, original_text="x" * settings.FEEDBACK_MAX_CHARS_CEILING)
    assert len(Feedback.objects.get(pk=stored.pk).original_text) == settings.FEEDBACK_MAX_CHARS_CEILING


def test_module_titles_unique_per_course(course, other_course):
    Module.objects.create(course=course, title="Week 1")
    Module.objects.create(course=other_course, title="Week 1")
    assert violates(lambda: Module.objects.create(course=course, title="Week 1"))


def test_one_membership_per_user_and_course_and_role_must_be_valid(course):
    user = UserFactory()
    CourseMembership.objects.create(user=user, course=course, role="viewer")
    assert violates(lambda: CourseMembership.objects.create(user=user, course=course, role="annotator"))
    assert violates(lambda: CourseMembership.objects.create(user=UserFactory(), course=course, role="dean"))


def test_survey_must_close_after_it_opens_and_likert_is_1_to_5(course):
    now = timezone.now()
    assert violates(lambda: Survey.objects.create(course=course, title="s", opens_at=now, closes_at=now))
    survey = Survey.objects.create(course=course, title="s", opens_at=now, closes_at=now + timedelta(days=7))
    question = Question.objects.create(survey=survey, position=1, kind="likert", prompt="Pace?")
    response = SurveyResponse.objects.create(survey=survey, respondent_key="k1")
    assert violates(lambda: SurveyResponse.objects.create(survey=survey, respondent_key="k1"))
    assert violates(lambda: Answer.objects.create(response=response, question=question, likert_value=6))
    Answer.objects.create(response=response, question=question, likert_value=5)
    assert violates(lambda: Answer.objects.create(response=response, question=question, likert_value=4))


def test_one_current_annotation_per_annotator_and_item(course):
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    fb = FeedbackFactory(course=course)
    user = UserFactory()
    Annotation.objects.create(feedback=fb, schema=schema, annotator=user)
    assert violates(lambda: Annotation.objects.create(feedback=fb, schema=schema, annotator=user))
    Annotation.objects.create(feedback=fb, schema=schema, annotator=user, is_current=False)  # history is fine
    Annotation.objects.create(feedback=fb, schema=schema, source=AnnotationSource.IMPORT)
    assert violates(lambda: Annotation.objects.create(feedback=fb, schema=schema, source=AnnotationSource.IMPORT))


def test_human_annotation_requires_an_annotator(course):
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    fb = FeedbackFactory(course=course)
    assert violates(lambda: Annotation.objects.create(feedback=fb, schema=schema, source=AnnotationSource.HUMAN))


def test_label_names_unique_per_schema_and_used_label_cannot_be_deleted(course):
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    assert violates(lambda: Label.objects.create(schema=schema, name="positive", position=9))
    assert violates(lambda: Label.objects.create(schema=schema, name="bad colour", position=9, color="red"))
    label = schema.labels.get(name="positive")
    ann = Annotation.objects.create(feedback=FeedbackFactory(course=course), schema=schema,
                                    source=AnnotationSource.IMPORT)
    AnnotationLabel.objects.create(annotation=ann, label=label)
    from django.db.models import RestrictedError

    with pytest.raises(RestrictedError):
        label.delete()
    course.delete()  # the whole course still cascades
    assert not Annotation.objects.filter(pk=ann.pk).exists()


def test_schema_names_unique_per_course_and_institution(course):
    assert violates(lambda: LabelSchema.objects.create(course=course, name="sentiment"))
    LabelSchema.objects.create(course=None, name="sentiment")
    assert violates(lambda: LabelSchema.objects.create(course=None, name="sentiment"))


def test_feedback_is_kept_when_its_module_is_deleted(course):
    module = Module.objects.create(course=course, title="Gone")
    fb = FeedbackFactory(course=course, module=module)
    module.delete()
    fb.refresh_from_db()
    assert fb.module is None and Feedback.objects.filter(pk=fb.pk).exists()


def test_a_question_answer_limit_is_held_to_the_setting_when_validated(course, settings):
    from django.core.exceptions import ValidationError

    survey = Survey.objects.create(course=course, title="S", opens_at=timezone.now(),
                                   closes_at=timezone.now() + timedelta(days=1))
    question = Question(survey=survey, kind="text", prompt="Why?", max_length=20_000)
    with pytest.raises(ValidationError) as refused:
        question.full_clean()
    assert "at most 10,000 characters" in str(refused.value) and "FEEDBACK_MAX_CHARS" in str(refused.value)
    settings.FEEDBACK_MAX_CHARS = 20_000
    question.full_clean()
