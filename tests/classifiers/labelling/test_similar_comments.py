"""Find similar comments in the annotate view: nearest first, same course only, never a comment course staff
may not read, only what is left in the annotator's queue; the endpoints' refusals; labelling the ticked ones."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.urls import reverse

from classifiers.ml.embeddings import to_bytes
from classifiers.models import Annotation
from classifiers.themes.embeddings import current_spec, text_md5
from classifiers.themes.models import FeedbackEmbedding
from classifiers.themes.similar import similar_comments
from courses.models import Feedback
from eduplatform.errors import PermissionRefused
from tests.classifiers.themes.helpers import DIM, direction
from tests.factories import FeedbackFactory

pytestmark = pytest.mark.django_db


def comment(course, text: str, vector: np.ndarray, **fields) -> Feedback:  # noqa: ANN001
    item = FeedbackFactory(course=course, original_text=text, screening=fields.pop("screening", "clear"), **fields)
    item.refresh_from_db()
    unit = vector / np.linalg.norm(vector)
    FeedbackEmbedding.objects.create(
        feedback=item, model_key=current_spec().key, text_md5=text_md5(item.redacted_text), vector=to_bytes(unit)
    )
    return item


def near(topic: str, noise: float, seed: int) -> np.ndarray:
    return direction(topic) + noise * np.random.default_rng(seed).normal(size=DIM) / np.sqrt(DIM)


@pytest.fixture
def group(course) -> dict[str, Feedback]:
    """An exam comment on screen, three near-duplicates, one looser exam comment and an unrelated one."""
    return {
        "shown": comment(course, "The exam was far too long", near("exam", 0.05, 1)),
        **{f"dup{i}": comment(course, f"The exam was much too long {i}", near("exam", 0.1, 10 + i)) for i in range(3)},
        "loose": comment(course, "Exams could be spread out", near("exam", 0.9, 20)),
        "lab": comment(course, "Lab machines crash", near("lab", 0.05, 30)),
    }


def ids(found) -> list[int]:  # noqa: ANN001
    return [s.feedback.pk for s in found]


def test_similar_comments_are_the_nearest_of_the_queue_nearest_first(course, sentiment, annotator, group):
    found = similar_comments(group["shown"].pk, sentiment, course=course, user=annotator)
    dups = {group[f"dup{i}"].pk for i in range(3)}
    assert set(ids(found)[:3]) == dups and group["shown"].pk not in ids(found)
    assert group["lab"].pk not in ids(found)  # below the minimum similarity
    assert [s.similarity for s in found] == sorted((s.similarity for s in found), reverse=True)
    assert found[0].similarity > 0.9


def test_a_near_identical_comment_of_another_course_is_never_returned(
    course, other_course, sentiment, annotator, group
):
    twin = comment(other_course, "The exam was far too long", near("exam", 0.05, 1))  # the very same vector
    found = similar_comments(group["shown"].pk, sentiment, course=course, user=annotator)
    assert twin.pk not in ids(found) and len(found) == 4
    # Nor does the other course's item id find anything through this course.
    assert similar_comments(twin.pk, sentiment, course=course, user=annotator) == []


@pytest.mark.parametrize("status", ["held", "pending", "urgent", "removed"])
def test_comments_course_staff_may_not_read_are_never_returned(status, course, sentiment, annotator, group):
    hidden = comment(course, "The exam was far too long!", near("exam", 0.05, 1), screening=status)
    found = similar_comments(group["shown"].pk, sentiment, course=course, user=annotator)
    assert hidden.pk not in ids(found) and len(found) == 4
    assert similar_comments(hidden.pk, sentiment, course=course, user=annotator) == []  # nor asked about


def test_comments_the_annotator_labelled_already_are_not_in_their_queue(
    course, sentiment, annotator, instructor, group, client
):
    negative = sentiment.labels.get(name="negative")
    client.force_login(annotator)
    url = reverse("admin:classifiers_annotate_save_group", args=[sentiment.pk, course.pk])
    body = {"feedback": [group["dup0"].pk], "labels": [negative.pk]}
    assert client.post(url, json.dumps(body), content_type="application/json").status_code == 200
    assert group["dup0"].pk not in ids(similar_comments(group["shown"].pk, sentiment, course=course, user=annotator))
    assert group["dup0"].pk in ids(similar_comments(group["shown"].pk, sentiment, course=course, user=instructor))


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_the_selector_refuses_people_who_may_not_annotate_the_course(who, request, course, sentiment, group):
    with pytest.raises(PermissionRefused, match="may not annotate feedback in CS101"):
        similar_comments(group["shown"].pk, sentiment, course=course, user=request.getfixturevalue(who))


# --- The endpoints -----------------------------------------------------------------------------------------


def similar_url(schema, course) -> str:  # noqa: ANN001
    return reverse("admin:classifiers_annotate_similar", args=[schema.pk, course.pk])


def test_the_endpoint_shows_each_similar_comment_with_its_similarity(client, course, sentiment, annotator, group):
    client.force_login(annotator)
    response = client.get(similar_url(sentiment, course), {"feedback": group["shown"].pk})
    assert response.status_code == 200
    items = response.json()["items"]
    assert {i["id"] for i in items[:3]} == {group[f"dup{i}"].pk for i in range(3)}
    assert items[0]["text"].startswith("The exam was much too long") and 0.9 < items[0]["similarity"] <= 1


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_the_endpoints_are_not_found_for_people_who_may_not_annotate_the_course(
    who, request, client, course, sentiment, group
):
    client.force_login(request.getfixturevalue(who))
    assert client.get(similar_url(sentiment, course), {"feedback": group["shown"].pk}).status_code == 404
    save = reverse("admin:classifiers_annotate_save_group", args=[sentiment.pk, course.pk])
    body = {"feedback": [group["dup0"].pk], "labels": [sentiment.labels.first().pk]}
    assert client.post(save, json.dumps(body), content_type="application/json").status_code == 404
    assert not Annotation.objects.exists()


def test_the_other_courses_schema_or_a_bad_id_is_refused(
    client, course, other_course, sentiment, other_sentiment, annotator, group
):
    client.force_login(annotator)
    assert client.get(similar_url(other_sentiment, course), {"feedback": group["shown"].pk}).status_code == 404
    bad = client.get(similar_url(sentiment, course), {"feedback": "<script>"})
    assert bad.status_code == 400 and "is not an item id" in bad.json()["error"]
    assert bad["Content-Type"] == "application/json"  # never HTML: the echoed value is not markup


def test_saving_the_ticked_ones_labels_each_through_record_annotation(
    client, course, other_course, sentiment, annotator, group
):
    client.force_login(annotator)
    save = reverse("admin:classifiers_annotate_save_group", args=[sentiment.pk, course.pk])
    negative = sentiment.labels.get(name="negative")
    theirs = FeedbackFactory(course=other_course, screening="clear")
    held = FeedbackFactory(course=course, screening="held")
    for intruder in (theirs, held):
        body = {"feedback": [group["dup0"].pk, intruder.pk], "labels": [negative.pk]}
        response = client.post(save, json.dumps(body), content_type="application/json")
        assert response.status_code == 400 and f"item {intruder.pk} is not in your queue" in response.json()["error"]
    assert not Annotation.objects.exists()  # all or nothing
    body = {"feedback": [group[f"dup{i}"].pk for i in range(3)], "labels": [negative.pk]}
    response = client.post(save, json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    rows = Annotation.objects.filter(annotator=annotator, schema=sentiment, is_current=True, source="human")
    assert sorted(rows.values_list("feedback_id", flat=True)) == sorted(body["feedback"])
    assert set(rows.values_list("labels__name", flat=True)) == {"negative"}
