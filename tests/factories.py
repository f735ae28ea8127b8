"""factory-boy factories for the domain models."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from courses.models import (
    Course,
    CourseMembership,
    Feedback,
    FeedbackSource,
    Module,
    Question,
    QuestionKind,
    Role,
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
