"""The on-arrival path's one query (`serving_version_ids`) picks exactly what the serving rule picks."""

from __future__ import annotations

import pytest

from classifiers.selectors import active_version_for, schemas_for_course, serving_version_ids
from tests.factories import CourseFactory, LabelSchemaFactory, ModelVersionFactory

pytestmark = pytest.mark.django_db


def _by_rule(course) -> list[int]:  # noqa: ANN001
    return sorted(v.pk for v in (active_version_for(s, course) for s in schemas_for_course(course)) if v)


def test_the_lean_query_agrees_with_the_serving_rule(django_assert_num_queries):
    course, other = CourseFactory(), CourseFactory()
    # The course's own sentiment version, and an older inactive one: the active one serves.
    ModelVersionFactory(schema=LabelSchemaFactory(course=course), is_active=False)
    own = ModelVersionFactory(schema=LabelSchemaFactory(course=course), is_active=True)
    # An institution-wide schema with an institution-wide version and a course-specific one: the course's wins;
    # the other course gets the institution-wide one.
    topics = LabelSchemaFactory(course=None, name="topics")
    institution = ModelVersionFactory(schema=topics, course=None, is_active=True)
    course_topics = ModelVersionFactory(schema=topics, course=course, is_active=True)
    # Another course's own version never serves this course.
    other_own = ModelVersionFactory(schema=LabelSchemaFactory(course=other), is_active=True)

    with django_assert_num_queries(1):
        ids = serving_version_ids(course.pk)
    assert ids == sorted([own.pk, course_topics.pk]) == _by_rule(course)
    assert serving_version_ids(other.pk) == sorted([other_own.pk, institution.pk]) == _by_rule(other)
    assert serving_version_ids(10**9) == []  # a course that does not exist (deleted meanwhile): nothing
