"""From themes to labels: a multi-label topic schema made from chosen themes, its members suggested in the
annotate queue and training data only once a person saves them; who may, and which themes may not."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from classifiers.labelling.ordering import annotation_queue, item_payloads
from classifiers.labelling.schemas import SchemaError
from classifiers.labelling.services import record_annotation
from classifiers.ml.embeddings import to_bytes
from classifiers.models import Annotation, LabelSchema, SchemaKind
from classifiers.selectors import training_labels
from classifiers.themes.labels import refresh_suggestions, schema_from_themes
from classifiers.themes.models import FeedbackEmbedding, Theme, ThemeRun, ThemeSuggestion
from classifiers.themes.staff import merge_themes, set_theme_hidden
from classifiers.training.services import TrainingRefused, default_config, gather_data, start_training_run
from courses.models import Feedback
from eduplatform.errors import PermissionRefused
from tests.classifiers.themes.helpers import add_comments, direction, members, recompute, suggested, themes_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def themes(course) -> dict[str, Theme]:
    """Two themes of 30 comments each in `course`: "exam …" and "lab …" (keyword names)."""
    return themes_of(course, ("exam", "lab"))


def test_the_schema_is_multi_label_its_labels_are_the_themes_and_every_member_is_a_suggestion(
    course, themes, instructor
):
    themes["exam"].name_by_staff = "Exam length"
    themes["exam"].save()
    schema = schema_from_themes([themes["exam"], themes["lab"]], actor=instructor, name="topics")
    assert (schema.course, schema.kind) == (course, SchemaKind.MULTI)
    assert list(schema.labels.values_list("name", flat=True)) == ["Exam length", themes["lab"].name]
    assert schema.labels.get(name="Exam length").description.startswith(
        f"Theme {themes['exam'].pk}; its keywords: exam"
    )
    suggested = ThemeSuggestion.objects.filter(schema=schema)
    assert sorted(suggested.values_list("feedback_id", flat=True)) == sorted(
        members(themes["exam"]) + members(themes["lab"])
    )
    assert set(suggested.filter(theme=themes["exam"]).values_list("label__name", flat=True)) == {"Exam length"}
    assert not Annotation.objects.filter(schema=schema).exists()  # suggestions are not annotations


def test_suggestions_from_themes_are_not_training_data_until_a_person_confirms_them(
    course, themes, instructor, annotator
):
    schema = schema_from_themes([themes["exam"], themes["lab"]], actor=instructor, name="topics")
    assert training_labels(schema, course=course) == {}
    with pytest.raises(TrainingRefused, match="found 0"):
        start_training_run(schema, course=course, actor=instructor, dispatch=False)

    labels = {lb.name: lb for lb in schema.labels.all()}
    confirmed: dict[int, list[str]] = {}
    for theme in themes.values():
        label = labels[theme.display_name]
        for fid in members(theme)[:8]:  # the recipe's min_per_label
            annotation = record_annotation(Feedback.objects.get(pk=fid), schema, [label], actor=annotator)
            assert annotation.suggested_by_theme_id == theme.pk and annotation.suggested_by_id is None
            confirmed[fid] = [label.name]
    other = Feedback.objects.get(pk=members(themes["lab"])[9])  # a person chose both topics: not the suggestion
    both = record_annotation(other, schema, list(labels.values()), actor=annotator)
    assert both.suggested_by_theme_id is None
    confirmed[other.pk] = sorted(labels, key=lambda n: labels[n].position)

    assert training_labels(schema, course=course) == confirmed
    run = start_training_run(schema, course=course, actor=instructor, dispatch=False)
    _, summary = gather_data(run, default_config())  # what the worker would train on
    # 8 + 8 confirmed suggestions and the row with both topics: nothing only suggested is trained on.
    assert summary["annotations"] == 17
    assert summary["class_balance"] == {themes["exam"].display_name: 9, themes["lab"].display_name: 9}


def test_the_annotate_queue_shows_the_theme_suggestion_and_never_a_held_member(course, themes, instructor, annotator):
    held = Feedback.objects.get(pk=members(themes["exam"])[0])
    held.screening = "held"
    held.save(update_fields=["screening"])
    schema = schema_from_themes([themes["exam"]], actor=instructor, name="topics")
    queue = annotation_queue(schema, course=course, user=annotator, limit=100)
    assert held.pk not in {fb.pk for fb in queue}
    payloads = {p["id"]: p for p in item_payloads(schema, queue + [held], user=annotator, version=None)}
    (label,) = schema.labels.all()
    assert payloads[members(themes["exam"])[1]]["suggestion"]["label_ids"] == [label.pk]
    assert payloads[members(themes["exam"])[1]]["suggestion"]["source"] == "theme"
    assert payloads[members(themes["lab"])[0]]["suggestion"] is None  # lab was not chosen
    assert payloads[held.pk]["suggestion"] is None  # even handed a held item, the selector suggests nothing


# --- A recomputation refreshes the suggestions -------------------------------------------------------------


def move(items: list[int], topic: str) -> None:
    """Give these comments a vector of `topic` (what an edited text re-embedded would do)."""
    FeedbackEmbedding.objects.filter(pk__in=items).update(vector=to_bytes(direction(topic)))


def test_a_recomputation_suggests_new_members_drops_those_that_left_and_never_touches_an_annotation(
    course, themes, instructor, annotator
):
    exam, lab = themes["exam"], themes["lab"]
    schema = schema_from_themes([exam, lab], actor=instructor, name="topics")
    labels = {theme.pk: schema.labels.get(name=theme.display_name) for theme in (exam, lab)}
    exam_members = members(exam)
    confirmed, answered_then_left = exam_members[:2]
    record_annotation(Feedback.objects.get(pk=confirmed), schema, [labels[exam.pk]], actor=annotator)
    record_annotation(Feedback.objects.get(pk=answered_then_left), schema, [labels[exam.pk]], actor=annotator)
    to_lab, to_other = exam_members[2:5], [answered_then_left, exam_members[5]]
    move(to_lab, "lab")
    move(to_other, "parking")  # two comments of their own: fewer than a theme needs (3 here), so "other"
    new = [f.pk for f in add_comments(course, "exam", 10, seed=5)]
    annotations_before = list(Annotation.objects.order_by("pk").values_list("pk", "feedback_id", "is_current"))

    recompute(course)
    assert set(Theme.objects.filter(course=course, status="active").values_list("pk", flat=True)) == {exam.pk, lab.pk}
    assert set(members(exam)) == set(exam_members) - set(to_lab) - set(to_other) | set(new)
    now = suggested(schema)
    assert all(now[pk] == labels[exam.pk].name for pk in new)  # new members of a theme: its label
    assert all(now[pk] == labels[lab.pk].name for pk in to_lab)  # moved to another labelled theme: its label
    assert exam_members[5] not in now  # left every theme: the unconfirmed suggestion is gone
    assert now[answered_then_left] == labels[exam.pk].name  # annotated: kept as the person saw it
    expected = {pk: labels[exam.pk].name for pk in members(exam)} | {pk: labels[lab.pk].name for pk in members(lab)}
    assert now == expected | {answered_then_left: labels[exam.pk].name}
    # Annotations untouched, and still the only training data.
    assert list(Annotation.objects.order_by("pk").values_list("pk", "feedback_id", "is_current")) == annotations_before
    assert training_labels(schema, course=course) == {
        confirmed: [labels[exam.pk].name], answered_then_left: [labels[exam.pk].name]}
    run = ThemeRun.objects.filter(course=course).order_by("-pk").first()
    assert run.stats["suggestions"] == {"added": 10, "changed": 3, "removed": 1}


def test_a_hidden_theme_still_suggests_nothing_after_a_recomputation_until_it_is_shown_again(
    course, themes, instructor, annotator
):
    exam, lab = themes["exam"], themes["lab"]
    schema = schema_from_themes([exam, lab], actor=instructor, name="topics")
    label = schema.labels.get(name=lab.display_name)
    answered = members(lab)[0]
    record_annotation(Feedback.objects.get(pk=answered), schema, [label], actor=annotator)
    set_theme_hidden(lab, hidden=True, actor=instructor)
    recompute(course)  # the very same comments: the hidden flag alone changes the suggestions
    assert set(suggested(schema).values()) == {exam.display_name, label.name}
    assert [pk for pk, name in suggested(schema).items() if name == label.name] == [answered]
    set_theme_hidden(Theme.objects.get(pk=lab.pk), hidden=False, actor=instructor)
    recompute(course)
    assert sorted(pk for pk, name in suggested(schema).items() if name == label.name) == members(lab)


def test_after_a_staff_merge_a_recomputation_still_suggests_the_kept_themes_label_to_all_its_comments(
    course, themes, instructor
):
    exam, lab = themes["exam"], themes["lab"]
    schema = schema_from_themes([exam], actor=instructor, name="topics")  # lab has no label here
    merge_themes([lab], into=exam, actor=instructor)
    recompute(course)
    assert Theme.objects.get(pk=lab.pk).status == "merged"
    assert sorted(suggested(schema)) == members(Theme.objects.get(pk=exam.pk)) and len(suggested(schema)) == 60


def test_a_recomputation_of_a_course_without_schemas_from_themes_asks_nothing_of_suggestions(
    course, themes, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert refresh_suggestions(course) == {"added": 0, "changed": 0, "removed": 0}


@pytest.mark.parametrize("who", ["annotator", "viewer", "outsider"])
def test_only_the_courses_instructors_and_tas_may_make_a_schema_from_themes(who, request, course, themes):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionRefused, match="may not change a label schema in CS101"):
        schema_from_themes([themes["exam"]], actor=user, name="topics")
    assert not LabelSchema.objects.filter(name="topics").exists() and not ThemeSuggestion.objects.exists()


def test_themes_of_two_courses_are_refused(course, other_course, themes, instructor):
    add_comments(other_course, "slides", 30)
    recompute(other_course)
    theirs = Theme.objects.get(course=other_course)
    with pytest.raises(SchemaError, match="more than one course"):
        schema_from_themes([themes["exam"], theirs], actor=instructor, name="topics")
    assert not ThemeSuggestion.objects.exists()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"hidden": True}, "is hidden"),
        ({"size": 4}, "fewer comments than CS101's minimum group size"),
        ({"status": "merged"}, "is merged into another theme"),
    ],
)
def test_a_hidden_small_or_merged_theme_cannot_become_a_label(change, reason, course, themes, instructor):
    Theme.objects.filter(pk=themes["lab"].pk).update(**change)
    with pytest.raises(SchemaError, match=reason):
        schema_from_themes([themes["exam"], Theme.objects.get(pk=themes["lab"].pk)], actor=instructor, name="t")
    # Nothing half made: no schema, and none of the small or hidden theme's members marked anywhere.
    assert not LabelSchema.objects.filter(name="t").exists() and not ThemeSuggestion.objects.exists()


def test_a_taken_or_malformed_schema_name_is_refused_with_the_reason(course, themes, instructor):
    with pytest.raises(SchemaError, match='already has a schema called "sentiment"'):
        schema_from_themes([themes["exam"]], actor=instructor, name="sentiment")
    with pytest.raises(SchemaError, match="is not a schema name"):
        schema_from_themes([themes["exam"]], actor=instructor, name="my topics!")
    assert not ThemeSuggestion.objects.exists()


# --- Doors: API and admin action ---------------------------------------------------------------------------


def _api(user) -> APIClient:  # noqa: ANN001
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_makes_the_schema_and_answers_refusals_in_its_own_form(
    course, other_course, themes, instructor, annotator, outsider
):
    url = "/api/courses/CS101/themes/label-schema/"
    body = {"themes": [themes["lab"].pk, themes["exam"].pk]}
    refused = _api(annotator).post(url, body, format="json")
    assert refused.status_code == 403 and "may not change a label schema" in refused.json()["detail"]
    assert _api(outsider).post(url, body, format="json").status_code == 404
    made = _api(instructor).post(url, body, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["name"] == "topics" and made.json()["kind"] == "multi"
    assert [lb["name"] for lb in made.json()["labels"]] == [themes["lab"].name, themes["exam"].name]
    again = _api(instructor).post(url, {"themes": [themes["exam"].pk]}, format="json")
    assert again.status_code == 201 and again.json()["name"] == "topics-2"
    add_comments(other_course, "slides", 30)
    recompute(other_course)
    theirs = Theme.objects.get(course=other_course)
    cross = _api(instructor).post(url, {"themes": [theirs.pk]}, format="json")
    assert cross.status_code == 400 and f"theme {theirs.pk} is not a theme of CS101" in cross.content.decode()
    assert _api(instructor).post(url, {"themes": []}, format="json").status_code == 400


def test_the_admin_action_makes_the_schema_or_says_why_not(client, course, themes, instructor, annotator):
    url = reverse("admin:classifiers_theme_changelist")
    client.force_login(annotator)
    client.post(url, {"action": "make_label_schema", "_selected_action": [themes["exam"].pk]})
    assert not LabelSchema.objects.filter(name="topics").exists()
    client.force_login(instructor)
    Theme.objects.filter(pk=themes["lab"].pk).update(hidden=True)
    response = client.post(
        url, {"action": "make_label_schema", "_selected_action": [themes["exam"].pk, themes["lab"].pk]}, follow=True
    )
    assert "No schema made" in response.content.decode() and "is hidden" in response.content.decode()
    response = client.post(url, {"action": "make_label_schema", "_selected_action": [themes["exam"].pk]}, follow=True)
    schema = LabelSchema.objects.get(course=course, name="topics")
    assert 'Schema "topics" made with 1 labels' in response.content.decode()
    assert ThemeSuggestion.objects.filter(schema=schema).count() == 30


def test_the_items_list_counts_a_confirmed_theme_suggestion_as_a_confirmed_suggestion(
    client, course, themes, instructor, annotator
):
    schema = schema_from_themes([themes["exam"]], actor=instructor, name="topics")
    (label,) = schema.labels.all()
    confirmed, other = (Feedback.objects.get(pk=pk) for pk in members(themes["exam"])[:2])
    record_annotation(confirmed, schema, [label], actor=annotator)
    client.force_login(instructor)
    page = client.get(
        reverse("admin:classifiers_labelitem_changelist"), {"schema": schema.pk, "labelled": "suggestion"}
    )
    assert page.status_code == 200
    assert confirmed.redacted_text in page.content.decode() and other.redacted_text not in page.content.decode()
