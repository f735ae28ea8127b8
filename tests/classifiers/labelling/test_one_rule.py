"""One rule, whatever the door: suggestion acceptance, the version that serves a course, visible schemas."""

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from classifiers.labelling.bulk import label_items
from classifiers.labelling.schemas import create_schema
from classifiers.models import Annotation
from classifiers.selectors import active_version_for, schema_named, schemas_for_course
from courses.models import Feedback
from tests.factories import FeedbackFactory, ModelVersionFactory, PredictionFactory
from tests.support import token_client

pytestmark = pytest.mark.django_db
LIST = reverse("admin:classifiers_labelitem_changelist")


def _version(schema, course=None, number=None):  # noqa: ANN001, ANN202
    extra = {"number": number} if number is not None else {}
    return ModelVersionFactory(schema=schema, course=course if course is not None else schema.course,
                               is_active=True, **extra)


def _predict(version, feedback, scores):  # noqa: ANN001, ANN202
    return PredictionFactory(model_version=version, feedback=feedback, scores=scores)


@pytest.fixture
def shared(db):
    return create_schema("mood", kind="single", labels=["negative", "positive"], actor=None)


def test_api_annotation_that_agrees_with_the_serving_prediction_records_suggested_by(course, sentiment, instructor):
    agreed, disagreed = FeedbackFactory(course=course), FeedbackFactory(course=course)
    version = _version(sentiment)
    for fb in (agreed, disagreed):
        _predict(version, fb, {"negative": 0.1, "neutral": 0.1, "positive": 0.8})
    client = token_client(instructor)
    for fb, name in ((agreed, "positive"), (disagreed, "negative")):
        response = client.post(f"/api/courses/{course.code}/annotations/",
                               {"feedback": fb.pk, "schema": sentiment.pk,
                                "labels": [sentiment.labels.get(name=name).pk]})
        assert response.status_code == 201
    assert Annotation.objects.get(feedback=agreed).suggested_by == version
    assert Annotation.objects.get(feedback=disagreed).suggested_by is None


def test_bulk_label_records_suggested_by_by_the_same_rule(course, sentiment, annotator):
    agreed, other = FeedbackFactory(course=course), FeedbackFactory(course=course)
    version = _version(sentiment)
    _predict(version, agreed, {"negative": 0.1, "neutral": 0.1, "positive": 0.8})
    _predict(version, other, {"negative": 0.8, "neutral": 0.1, "positive": 0.1})
    positive = sentiment.labels.get(name="positive")
    label_items(Feedback.objects.filter(course=course), sentiment, [positive], actor=annotator)
    assert dict(Annotation.objects.values_list("feedback_id", "suggested_by_id")) == {
        agreed.pk: version.pk, other.pk: None}


def test_a_course_is_served_by_its_own_version_else_the_institution_wide_one(course, other_course, shared):
    institution = _version(shared, number=1)
    assert active_version_for(shared, course) == institution
    own = _version(shared, course=course, number=2)
    assert active_version_for(shared, course) == own
    assert active_version_for(shared, other_course) == institution
    assert active_version_for(shared, None) == institution


def test_items_list_counts_only_the_version_serving_each_course(client, course, other_course, shared, instructor):
    institution = _version(shared, number=1)
    own = _version(shared, course=course, number=2)
    fb = FeedbackFactory(course=course, redacted_text="the pace was fine")
    _predict(institution, fb, {"negative": 0.7, "positive": 0.3})
    _predict(own, fb, {"negative": 0.05, "positive": 0.95})
    client.force_login(instructor)
    page = client.get(f"{LIST}?schema={shared.pk}").content.decode()
    assert "positive 95%" in page and "negative 70%" not in page
    # The institution version's 70 % "negative" is not this course's suggestion: filters ignore it.
    low = client.get(f"{LIST}?schema={shared.pk}&confidence=50-70").context["cl"].result_list
    high = client.get(f"{LIST}?schema={shared.pk}&confidence=90-100").context["cl"].result_list
    assert [i.pk for i in low] == [] and [i.pk for i in high] == [fb.pk]
    client.post(f"{LIST}?schema={shared.pk}", {"action": "accept_model_suggestion", "index": 0, "confirm": "yes",
                                               helpers.ACTION_CHECKBOX_NAME: [fb.pk]})
    accepted = Annotation.objects.get(feedback=fb, annotator=instructor)
    assert accepted.suggested_by == own and [lb.name for lb in accepted.labels.all()] == ["positive"]


def test_schemas_visible_in_a_course_are_its_own_and_the_institution_wide_ones(course, other_course, shared):
    assert set(schemas_for_course(course).values_list("name", "course")) == {("sentiment", course.pk),
                                                                              ("mood", None)}
    own = create_schema("mood", kind="single", course=course, actor=None)
    assert schema_named(course, "mood") == own and schema_named(other_course, "mood") == shared
