"""The annotate view, items list, bulk actions, schema page and adjudication through the test client,
always with a second course whose rows must stay invisible."""

import json

import pytest
from django.urls import reverse

from classifiers.labelling.services import record_annotation
from classifiers.models import Annotation, LabelSchema
from courses.models import Role
from tests.factories import (
    FeedbackFactory,
    MembershipFactory,
    ModelVersionFactory,
    ModuleFactory,
    PredictionFactory,
    UserFactory,
    annotator_of,
)

pytestmark = pytest.mark.django_db


def _url(name, schema, course):
    return reverse(f"admin:classifiers_{name}", args=[schema.pk, course.pk])


def _post_json(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def test_annotate_page_shows_redacted_text_module_suggestion_and_guidelines(client, course, sentiment, annotator):
    fb = FeedbackFactory(course=course, module=ModuleFactory(course=course, title="Week 3"),
                         original_text="mail jo@uni.edu please", redacted_text="mail [EMAIL] please")
    PredictionFactory(model_version=ModelVersionFactory(schema=sentiment, is_active=True), feedback=fb,
                      scores={"negative": 0.1, "neutral": 0.2, "positive": 0.7})
    client.force_login(annotator)
    response = client.get(_url("annotate", sentiment, course))
    assert response.status_code == 200
    config = response.context["config"]
    assert config["items"][0]["text"] == "mail [EMAIL] please" and config["items"][0]["module"] == "Week 3"
    assert config["items"][0]["suggestion"]["confidence"] == pytest.approx(0.7)
    body = response.content.decode()
    assert "jo@uni.edu" not in body and "Praise, satisfaction" in body  # label guideline shown


def test_save_is_one_request_that_returns_the_next_items_and_records_confirmed_suggestions(
        client, course, sentiment, annotator):
    items = [FeedbackFactory(course=course) for _ in range(4)]
    version = ModelVersionFactory(schema=sentiment, is_active=True)
    PredictionFactory(model_version=version, feedback=items[0],
                      scores={"negative": 0.1, "neutral": 0.2, "positive": 0.7})
    client.force_login(annotator)
    positive = sentiment.labels.get(name="positive")
    response = _post_json(client, _url("annotate_save", sentiment, course),
                          {"feedback": items[0].pk, "labels": [positive.pk], "need": 2, "exclude": [items[1].pk]})
    assert response.status_code == 200
    data = response.json()
    assert len(data["next"]) == 2 and {i["id"] for i in data["next"]}.isdisjoint({items[0].pk, items[1].pk})
    annotation = Annotation.objects.get(pk=data["annotation"])
    assert annotation.suggested_by == version and annotation.source == "human"
    negative = sentiment.labels.get(name="negative")  # a different label is not a confirmed suggestion
    data = _post_json(client, _url("annotate_save", sentiment, course),
                      {"feedback": items[0].pk, "labels": [negative.pk]}).json()
    assert Annotation.objects.get(pk=data["annotation"]).suggested_by is None


def test_undo_deletes_the_annotation_and_restores_the_previous_one(client, course, sentiment, annotator):
    fb = FeedbackFactory(course=course)
    client.force_login(annotator)
    save = _url("annotate_save", sentiment, course)
    first = _post_json(client, save, {"feedback": fb.pk, "labels": [sentiment.labels.get(name="neutral").pk]}).json()
    second = _post_json(client, save, {"feedback": fb.pk, "labels": [sentiment.labels.get(name="negative").pk]}).json()
    response = _post_json(client, _url("annotate_undo", sentiment, course), {"annotation": second["annotation"]})
    assert response.status_code == 200 and response.json()["item"]["id"] == fb.pk
    assert list(Annotation.objects.values_list("pk", "is_current")) == [(first["annotation"], True)]


def test_bad_label_gets_a_clear_error_and_writes_nothing(client, course, sentiment, other_sentiment, annotator):
    fb = FeedbackFactory(course=course)
    client.force_login(annotator)
    foreign = other_sentiment.labels.first()
    response = _post_json(client, _url("annotate_save", sentiment, course), {"feedback": fb.pk, "labels": [foreign.pk]})
    assert response.status_code == 400 and "not part of schema" in response.json()["error"]
    response = _post_json(client, _url("annotate_save", sentiment, course), {"feedback": fb.pk, "labels": []})
    assert response.status_code == 400 and "choose at least one label" in response.json()["error"]
    assert not Annotation.objects.exists()


def test_annotator_of_course_a_gets_404_or_403_for_every_course_b_url(
        client, course, other_course, sentiment, other_sentiment, annotator):
    theirs = FeedbackFactory(course=other_course, redacted_text="history secret comment")
    mine = FeedbackFactory(course=course)
    annotation = record_annotation(theirs, other_sentiment, [other_sentiment.labels.first()],
                                   actor=annotator_of(other_course))
    client.force_login(annotator)
    forbidden = [
        _url("annotate", other_sentiment, other_course), _url("annotate_items", other_sentiment, other_course),
        _url("adjudicate", other_sentiment, other_course),
        _url("annotate", sentiment, other_course),           # own schema, other course
        _url("annotate", other_sentiment, course),           # other schema through own course
        reverse("admin:classifiers_labelschema_change", args=[other_sentiment.pk]),
        reverse("admin:classifiers_annotation_change", args=[annotation.pk]),
        reverse("admin:classifiers_labelitem_change", args=[theirs.pk]),
        reverse("admin:courses_feedback_change", args=[theirs.pk]),
        reverse("admin:courses_course_change", args=[other_course.pk]),
    ]
    for url in forbidden:
        assert client.get(url).status_code in (403, 404), url
        assert b"history secret" not in client.get(url).content
    for name in ("annotate_save", "annotate_undo"):
        response = _post_json(client, _url(name, other_sentiment, other_course), {"feedback": theirs.pk, "labels": [1]})
        assert response.status_code == 404, name
    # Own course's URLs with the other course's feedback or annotation are 404 too (lookups are scoped).
    response = _post_json(client, _url("annotate_save", sentiment, course),
                          {"feedback": theirs.pk, "labels": [sentiment.labels.first().pk]})
    assert response.status_code == 404
    undo = _post_json(client, _url("annotate_undo", sentiment, course), {"annotation": annotation.pk})
    assert undo.status_code == 404
    lists = [reverse("admin:classifiers_labelitem_changelist") + f"?schema={sentiment.pk}",
             reverse("admin:classifiers_labelschema_changelist"), reverse("admin:classifiers_annotation_changelist"),
             reverse("admin:courses_feedback_changelist"), reverse("admin:courses_course_changelist")]
    for url in lists:
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"HIST200" not in response.content and b"history secret" not in response.content, url
    listed = client.get(lists[0]).context["cl"].result_list
    assert [fb.pk for fb in listed] == [mine.pk]
    assert Annotation.objects.count() == 1


def test_querysets_and_object_permissions_are_scoped_not_only_links(rf, course, other_course, sentiment,
                                                                    other_sentiment,
                                                                    annotator):
    from django.contrib import admin as django_admin

    from classifiers.models import LabelItem
    from courses.models import Feedback

    request = rf.get("/")
    request.user = annotator
    theirs = FeedbackFactory(course=other_course)
    item = LabelItem.objects.get(pk=theirs.pk)
    for model, obj in ((LabelSchema, other_sentiment), (Feedback, theirs), (LabelItem, item)):
        model_admin = django_admin.site._registry[model]
        assert not model_admin.get_queryset(request).filter(pk=obj.pk).exists(), model
        assert not model_admin.has_view_permission(request, obj), model
        assert not model_admin.has_change_permission(request, obj), model
        assert not model_admin.has_delete_permission(request, obj), model


def test_staff_without_a_role_sees_nothing_and_superuser_sees_all(client, course, other_course, sentiment):
    FeedbackFactory(course=course)
    FeedbackFactory(course=other_course)
    client.force_login(UserFactory(username="nobody"))
    assert client.get(_url("annotate", sentiment, course)).status_code in (403, 404)
    admin = UserFactory(username="root", is_superuser=True)
    client.force_login(admin)
    assert client.get(_url("annotate", sentiment, course)).status_code == 200
    response = client.get(reverse("admin:courses_feedback_changelist"))
    assert response.context["cl"].result_count == 2


def test_viewer_role_cannot_annotate(client, course, sentiment):
    viewer = MembershipFactory(course=course, role=Role.VIEWER).user
    client.force_login(viewer)
    assert client.get(_url("annotate", sentiment, course)).status_code == 404


def test_multi_label_saves_several_labels_and_ordinal_shows_the_scale(client, course, annotator):
    from classifiers.labelling.schemas import create_schema

    topics = create_schema("topics", kind="multi", course=course, labels=["labs", "exams", "pace"], actor=None)
    stars = create_schema("stars", kind="ordinal", course=course, labels=["poor", "fair", "good", "great"], actor=None)
    fb = FeedbackFactory(course=course)
    client.force_login(annotator)
    page = client.get(_url("annotate", topics, course)).content.decode()
    assert "toggle labels" in page and "ordinal scale" not in page
    assert "ordinal scale" in client.get(_url("annotate", stars, course)).content.decode()
    chosen = [lb.pk for lb in topics.labels.filter(name__in=["labs", "pace"])]
    data = _post_json(client, _url("annotate_save", topics, course), {"feedback": fb.pk, "labels": chosen}).json()
    assert sorted(Annotation.objects.get(pk=data["annotation"]).labels.values_list("name", flat=True)) == [
        "labs", "pace"]
    two = [lb.pk for lb in stars.labels.all()[:2]]
    response = _post_json(client, _url("annotate_save", stars, course), {"feedback": fb.pk, "labels": two})
    assert response.status_code == 400 and "choose exactly one label" in response.json()["error"]


@pytest.mark.parametrize("body", [
    {"feedback": "abc", "labels": []}, {"labels": "x"}, {"labels": [], "need": "many"},
])
def test_malformed_save_requests_get_a_400_with_a_reason(client, course, sentiment, annotator, body):
    body = {"feedback": FeedbackFactory(course=course).pk, **body}
    client.force_login(annotator)
    response = _post_json(client, _url("annotate_save", sentiment, course), body)
    assert response.status_code == 400 and response.json()["error"]
    assert client.post(_url("annotate_save", sentiment, course), "not json", content_type="application/json"
                       ).status_code == 400


def test_course_admin_pages_and_filter_choices_never_show_another_course(client, course, other_course, annotator):
    ModuleFactory(course=course, title="Intro week")
    secret = ModuleFactory(course=other_course, title="Secret seminar")
    FeedbackFactory(course=other_course, module=secret)
    other_member = MembershipFactory(course=other_course)
    client.force_login(annotator)
    for name in ("courses_feedback", "courses_module", "courses_coursemembership", "courses_survey",
                 "classifiers_labelschema", "classifiers_annotation"):
        body = client.get(reverse(f"admin:{name}_changelist")).content.decode()
        assert "Secret seminar" not in body and "HIST200" not in body, name
    assert client.get(reverse("admin:courses_module_change", args=[secret.pk])).status_code == 404
    assert client.get(reverse("admin:courses_coursemembership_change", args=[other_member.pk])).status_code == 404


def test_institution_wide_schema_is_annotated_per_course_with_the_course_model_first(
        client, course, other_course, annotator):
    from classifiers.labelling.schemas import create_schema

    shared = create_schema("workload", kind="ordinal", labels=["light", "fair", "heavy"], actor=None)
    mine, theirs = FeedbackFactory(course=course), FeedbackFactory(course=other_course)
    institution = ModelVersionFactory(schema=shared, course=None, is_active=True)
    own = ModelVersionFactory(schema=shared, course=course, number=2, is_active=True)
    PredictionFactory(model_version=institution, feedback=mine, scores={"light": 0.6, "fair": 0.3, "heavy": 0.1})
    PredictionFactory(model_version=own, feedback=mine, scores={"light": 0.1, "fair": 0.2, "heavy": 0.7})
    client.force_login(annotator)
    items = client.get(_url("annotate", shared, course)).context["config"]["items"]
    assert [i["id"] for i in items] == [mine.pk]
    assert items[0]["suggestion"]["version"] == str(own)  # the course's own model wins over the institution's
    assert client.get(_url("annotate", shared, other_course)).status_code == 404
    heavy = shared.labels.get(name="heavy")
    data = _post_json(client, _url("annotate_save", shared, course), {"feedback": mine.pk, "labels": [heavy.pk]})
    assert Annotation.objects.get(pk=data.json()["annotation"]).suggested_by == own
    assert theirs.annotations.count() == 0
