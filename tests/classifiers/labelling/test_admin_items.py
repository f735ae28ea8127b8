"""The items-to-label list: filters, bulk actions over the whole filtered result, query counts; the
schema page (agreement, progress) and the adjudication queue."""

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from classifiers.labelling.services import record_annotation
from classifiers.models import Annotation, TrainingPolicy
from classifiers.selectors import training_labels
from tests.factories import (
    FeedbackFactory,
    ModelVersionFactory,
    ModuleFactory,
    PredictionFactory,
    annotator_of,
)

pytestmark = pytest.mark.django_db
LIST = reverse("admin:classifiers_labelitem_changelist")


def _bulk(client, schema, action, query="", **extra):
    url = f"{LIST}?schema={schema.pk}{query}"
    data = {"action": action, "index": 0, "select_across": "1", helpers.ACTION_CHECKBOX_NAME: ["0"], **extra}
    return client.post(url, data)


def test_label_selected_as_covers_the_whole_filtered_result_after_confirmation(
        client, course, other_course, sentiment, annotator):
    week1, week2 = ModuleFactory(course=course, title="Week 1"), ModuleFactory(course=course, title="Week 2")
    in_filter = [FeedbackFactory(course=course, module=week1) for _ in range(60)]  # more than one page (50)
    FeedbackFactory(course=course, module=week2)
    FeedbackFactory(course=other_course)
    client.force_login(annotator)
    query = f"&module__id__exact={week1.pk}"
    confirm = _bulk(client, sentiment, "label_selected_as", query)
    assert confirm.status_code == 200 and confirm.context["count"] == 60
    assert b"every item of the filtered result" in confirm.content and not Annotation.objects.exists()
    negative = sentiment.labels.get(name="negative")
    done = _bulk(client, sentiment, "label_selected_as", query, confirm="yes", labels=[negative.pk])
    assert done.status_code == 302
    current = Annotation.objects.filter(annotator=annotator, is_current=True)
    labelled = set(current.values_list("feedback_id", flat=True))
    assert labelled == {fb.pk for fb in in_filter}


def test_accept_suggestion_and_clear_my_labels_in_bulk(client, course, sentiment, annotator):
    version = ModelVersionFactory(schema=sentiment, is_active=True)
    predicted = [FeedbackFactory(course=course) for _ in range(3)]
    for fb in predicted:
        PredictionFactory(model_version=version, feedback=fb, scores={"negative": 0.1, "neutral": 0.1, "positive": 0.8})
    FeedbackFactory(course=course)
    client.force_login(annotator)
    assert _bulk(client, sentiment, "accept_model_suggestion").context["count"] == 4
    _bulk(client, sentiment, "accept_model_suggestion", confirm="yes")
    accepted = Annotation.objects.filter(annotator=annotator, is_current=True)
    assert accepted.count() == 3 and set(accepted.values_list("suggested_by", flat=True)) == {version.pk}
    other = annotator_of(course, "bob")
    record_annotation(predicted[0], sentiment, [sentiment.labels.get(name="neutral")], actor=other)
    _bulk(client, sentiment, "clear_my_labels", confirm="yes")
    assert not Annotation.objects.filter(annotator=annotator, is_current=True).exists()
    assert Annotation.objects.filter(annotator=annotator).count() == 3  # history kept
    assert Annotation.objects.filter(annotator=other, is_current=True).count() == 1


def test_filters_label_annotator_prediction_confidence_and_disagreement(client, course, sentiment, annotator):
    version = ModelVersionFactory(schema=sentiment, is_active=True)
    pos, neg = sentiment.labels.get(name="positive"), sentiment.labels.get(name="negative")
    agreed, disputed, unsure, plain = (FeedbackFactory(course=course) for _ in range(4))
    bob = annotator_of(course, "bob")
    for fb, mine, theirs in ((agreed, pos, pos), (disputed, pos, neg)):
        record_annotation(fb, sentiment, [mine], actor=annotator)
        record_annotation(fb, sentiment, [theirs], actor=bob)
    PredictionFactory(model_version=version, feedback=unsure,
                      scores={"negative": 0.45, "neutral": 0.1, "positive": 0.45})
    PredictionFactory(model_version=version, feedback=plain,
                      scores={"negative": 0.95, "neutral": 0.03, "positive": 0.02})
    client.force_login(annotator)

    def ids(query):
        response = client.get(f"{LIST}?schema={sentiment.pk}&{query}")
        assert response.status_code == 200, query
        return {fb.pk for fb in response.context["cl"].queryset}

    assert ids(f"label={neg.pk}") == {disputed.pk}
    assert ids("annotator=me") == {agreed.pk, disputed.pk}
    assert ids("disagreement=yes") == {disputed.pk}
    assert ids("predicted=yes") == {unsure.pk, plain.pk}
    assert ids("confidence=0-50") == {unsure.pk}
    assert ids("labelled=no") == {unsure.pk, plain.pk}
    assert ids("q=nothing-like-this") == set()


def test_items_list_query_count_does_not_grow_with_rows(client, course, sentiment, annotator,
                                                        django_assert_max_num_queries):
    version = ModelVersionFactory(schema=sentiment, is_active=True)
    module = ModuleFactory(course=course)
    for i in range(40):
        fb = FeedbackFactory(course=course, module=module)
        PredictionFactory(model_version=version, feedback=fb, scores={"negative": 0.2, "neutral": 0.3, "positive": 0.5})
        record_annotation(fb, sentiment, [sentiment.labels.get(name="positive")], actor=annotator if i % 2 else
                          annotator_of(course, f"x{i}"))
    client.force_login(annotator)
    # 31: fixed per request (the policy's administrator check, the screening and rare-label notes), not per row:
    # the same 31 with 10 rows as with 40.
    with django_assert_max_num_queries(31):
        response = client.get(f"{LIST}?schema={sentiment.pk}")
    assert response.status_code == 200 and response.context["cl"].result_count == 40
    with django_assert_max_num_queries(37):  # form, label inline, progress and agreement: fixed, not per row
        assert client.get(reverse("admin:classifiers_labelschema_change", args=[sentiment.pk])).status_code == 200
    with django_assert_max_num_queries(25):
        assert client.get(reverse("admin:classifiers_annotate", args=[sentiment.pk, course.pk])).status_code == 200


def test_schema_page_shows_agreement_progress_and_links_to_adjudication(client, course, sentiment, instructor,
                                                                        annotator):
    for mine, theirs in (("positive", "positive"), ("negative", "positive"), ("neutral", "neutral")):
        fb = FeedbackFactory(course=course)
        record_annotation(fb, sentiment, [sentiment.labels.get(name=mine)], actor=annotator)
        record_annotation(fb, sentiment, [sentiment.labels.get(name=theirs)], actor=instructor)
    client.force_login(instructor)
    body = client.get(reverse("admin:classifiers_labelschema_change", args=[sentiment.pk])).content.decode()
    assert "Cohen&#x27;s κ" in body or "Cohen's κ" in body
    assert "1 disagreement" in body and "3 / 3" in body
    assert reverse("admin:classifiers_adjudicate", args=[sentiment.pk, course.pk]) in body


def test_reviewer_settles_in_the_adjudication_queue_and_wins_training(client, course, sentiment, instructor, annotator):
    fb = FeedbackFactory(course=course, redacted_text="labs were chaotic but fun")
    record_annotation(fb, sentiment, [sentiment.labels.get(name="positive")], actor=annotator)
    record_annotation(fb, sentiment, [sentiment.labels.get(name="negative")], actor=annotator_of(course, "bob"))
    sentiment.training_policy, sentiment.reviewer = TrainingPolicy.REVIEWER, instructor
    sentiment.save()
    url = reverse("admin:classifiers_adjudicate", args=[sentiment.pk, course.pk])
    client.force_login(annotator)  # not the reviewer: sees the queue, cannot settle
    assert b"labs were chaotic" in client.get(url).content
    client.post(url, {"feedback": fb.pk, "labels": [sentiment.labels.get(name="neutral").pk]})
    assert training_labels(sentiment, course=course) == {}  # tie, unsettled
    client.force_login(instructor)
    client.post(url, {"feedback": fb.pk, "labels": [sentiment.labels.get(name="neutral").pk]})
    assert training_labels(sentiment, course=course) == {fb.pk: ["neutral"]}
    assert b"No open disagreements" in client.get(url).content


def test_deleting_a_used_label_in_the_schema_form_is_refused_with_the_count(client, course, sentiment, instructor):
    positive = sentiment.labels.get(name="positive")
    record_annotation(FeedbackFactory(course=course), sentiment, [positive], actor=instructor)
    client.force_login(instructor)
    url = reverse("admin:classifiers_labelschema_change", args=[sentiment.pk])
    labels = list(sentiment.labels.all())
    data = {"course": course.pk, "name": "mood", "kind": "single", "description": "How it felt.",
            "training_policy": "latest", "rare_labels": "leave_out", "reviewer": "",
            "labels-TOTAL_FORMS": len(labels), "labels-INITIAL_FORMS": len(labels),
            "labels-MIN_NUM_FORMS": 0, "labels-MAX_NUM_FORMS": 1000}
    for i, lb in enumerate(labels):
        data.update({f"labels-{i}-id": lb.pk, f"labels-{i}-schema": sentiment.pk, f"labels-{i}-position": lb.position,
                     f"labels-{i}-name": lb.name, f"labels-{i}-color": lb.color, f"labels-{i}-description": ""})
        if lb == positive:
            data[f"labels-{i}-DELETE"] = "on"
    response = client.post(url, data, follow=True)
    assert "used by 1 annotation(s)" in response.content.decode()
    assert sentiment.labels.filter(pk=positive.pk).exists()
    data = {k: v for k, v in data.items() if not k.endswith("-DELETE")}
    data.update({f"labels-{i}-name": "glad" for i, lb in enumerate(labels) if lb == positive})
    assert client.post(url, data).status_code == 302
    sentiment.refresh_from_db()
    assert sentiment.name == "mood"  # schema and label renamed, the annotation follows them
    assert list(Annotation.objects.filter(schema=sentiment).values_list("labels__name", flat=True)) == ["glad"]


def test_item_page_shows_the_label_history_and_never_the_original_text(client, course, sentiment, annotator,
                                                                       instructor):
    fb = FeedbackFactory(course=course, original_text="call 0612345678 now", redacted_text="call [PHONE] now")
    record_annotation(fb, sentiment, [sentiment.labels.get(name="positive")], actor=annotator)
    record_annotation(fb, sentiment, [sentiment.labels.get(name="negative")], actor=annotator)
    record_annotation(fb, sentiment, [sentiment.labels.get(name="neutral")], actor=instructor)
    client.force_login(instructor)
    response = client.get(reverse("admin:classifiers_labelitem_change", args=[fb.pk]))
    body = response.content.decode()
    assert response.status_code == 200 and "[PHONE]" in body and "0612345678" not in body
    history = response.context["inline_admin_formsets"][0].formset.queryset
    assert [(a.annotator.username, [lb.name for lb in a.labels.all()], a.is_current) for a in history] == [
        ("ines", ["neutral"], True), ("anna", ["negative"], True), ("anna", ["positive"], False)]
