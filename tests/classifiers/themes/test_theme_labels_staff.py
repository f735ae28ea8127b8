"""Suggestions of a schema made from themes follow staff edits at once (hide, show, split off, merge; admin and
API doors), a label whose theme was merged away follows the theme it went into (by staff or by a
recomputation), and annotations, and suggestions of items already annotated, are never touched."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from classifiers.labelling.services import record_annotation
from classifiers.ml.embeddings import to_bytes
from classifiers.models import Annotation, AnnotationLabel, Label, LabelSchema
from classifiers.themes.labels import refresh_suggestions, schema_from_themes
from classifiers.themes.models import FeedbackEmbedding, Theme, ThemeLabel, ThemeSuggestion
from classifiers.themes.staff import merge_themes
from courses.models import Feedback
from tests.classifiers.themes.helpers import direction, members, recompute, suggested, themes_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def themes(course) -> dict[str, Theme]:
    """Three themes of 30 comments each in `course`: "exam …", "lab …" and "slides …" (keyword names)."""
    return themes_of(course, ("exam", "lab", "slides"))


def label(schema: LabelSchema, theme: Theme) -> Label:
    return schema.labels.get(name=theme.display_name)


def annotate(pk: int, schema: LabelSchema, chosen: Label, annotator) -> None:  # noqa: ANN001
    record_annotation(Feedback.objects.get(pk=pk), schema, [chosen], actor=annotator)


def annotations() -> list[tuple]:
    return [
        *Annotation.objects.order_by("pk").values_list("pk", "feedback_id", "is_current", "suggested_by_theme_id"),
        *AnnotationLabel.objects.order_by("pk").values_list("annotation_id", "label_id"),
    ]


def in_line(course) -> bool:  # noqa: ANN001
    """What the edit left is what a recomputation's full refresh would make: it changes nothing."""
    return refresh_suggestions(course) == {"added": 0, "changed": 0, "removed": 0}


def _api(user) -> APIClient:  # noqa: ANN001
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- Hide and show -----------------------------------------------------------------------------------------


def test_hiding_a_theme_in_admin_takes_its_suggestions_at_once_and_showing_it_gives_them_back(
    client, course, themes, instructor, annotator
):
    exam, lab = themes["exam"], themes["lab"]
    schema = schema_from_themes([exam, lab], actor=instructor, name="topics")
    answered = members(lab)[0]
    annotate(answered, schema, label(schema, lab), annotator)
    before = annotations()
    client.force_login(instructor)
    client.post(reverse("admin:classifiers_theme_changelist"), {"action": "hide_themes", "_selected_action": [lab.pk]})
    assert Theme.objects.get(pk=lab.pk).hidden
    now = suggested(schema)
    assert [pk for pk, name in now.items() if name == lab.display_name] == [answered]  # annotated: kept
    assert sorted(pk for pk, name in now.items() if name == exam.display_name) == members(exam)
    assert in_line(course)

    client.post(reverse("admin:classifiers_theme_control", args=[lab.pk]), {"do": "show"})
    assert not Theme.objects.get(pk=lab.pk).hidden
    assert sorted(pk for pk, name in suggested(schema).items() if name == lab.display_name) == members(lab)
    assert annotations() == before


def test_hiding_a_theme_through_the_api_takes_its_suggestions_at_once(course, themes, instructor):
    lab = themes["lab"]
    schema = schema_from_themes([themes["exam"], lab], actor=instructor, name="topics")
    hidden = _api(instructor).post(f"/api/courses/CS101/themes/{lab.pk}/hide/")
    assert hidden.status_code == 200, hidden.content
    assert lab.display_name not in suggested(schema).values() and len(suggested(schema)) == 30
    shown = _api(instructor).post(f"/api/courses/CS101/themes/{lab.pk}/show/")
    assert shown.status_code == 200 and len(suggested(schema)) == 60 and in_line(course)


# --- Split off ---------------------------------------------------------------------------------------------


def test_comments_split_off_in_admin_lose_the_old_themes_suggestion_at_once(
    client, course, themes, instructor, annotator
):
    exam = themes["exam"]
    schema = schema_from_themes([exam], actor=instructor, name="topics")
    picked = members(exam)[:6]
    annotate(picked[0], schema, label(schema, exam), annotator)
    before = annotations()
    client.force_login(instructor)
    url = reverse("admin:classifiers_theme_control", args=[exam.pk])
    client.post(url, {"do": "split", "name": "Six", "comments": picked})
    part = Theme.objects.get(name_by_staff="Six")
    assert members(part) == picked
    # The new theme has no label in the schema: its comments are suggested nothing, but the annotated one.
    assert sorted(suggested(schema)) == sorted([*members(exam), picked[0]])
    assert ThemeSuggestion.objects.get(schema=schema, feedback_id=picked[0]).theme_id == exam.pk
    assert annotations() == before and in_line(course)


def test_comments_split_off_through_the_api_lose_the_old_themes_suggestion_at_once(course, themes, instructor):
    exam = themes["exam"]
    schema = schema_from_themes([exam, themes["lab"]], actor=instructor, name="topics")
    split = _api(instructor).post(
        f"/api/courses/CS101/themes/{exam.pk}/split/", {"name": "Past papers", "keyword": "past"}, format="json"
    )
    assert split.status_code == 201, split.content
    gone = members(Theme.objects.get(pk=split.json()["id"]))
    assert gone and not set(gone) & set(suggested(schema))
    assert sorted(pk for pk, name in suggested(schema).items() if name == exam.display_name) == members(exam)
    assert len(members(exam)) == 30 - len(gone) and in_line(course)


# --- Merge: the merged-away label follows ------------------------------------------------------------------


def test_after_an_admin_merge_the_merged_away_label_follows_the_kept_theme_at_once(
    client, course, themes, instructor, annotator
):
    exam, lab = themes["exam"], themes["lab"]
    schema = schema_from_themes([lab], actor=instructor, name="topics")  # exam, the kept one, has no label
    lab_label = label(schema, lab)
    answered = members(lab)[0]
    annotate(answered, schema, lab_label, annotator)
    before = annotations()
    client.force_login(instructor)
    url = reverse("admin:classifiers_theme_changelist")
    client.post(url, {"action": "merge_selected_themes", "_selected_action": [exam.pk, lab.pk], "kept": exam.pk})
    assert Theme.objects.get(pk=lab.pk).merged_into_id == exam.pk
    assert ThemeLabel.objects.get(label=lab_label).theme_id == exam.pk  # the link follows the kept theme
    now = suggested(schema)
    assert sorted(now) == members(exam) and len(now) == 60 and set(now.values()) == {lab_label.name}
    assert ThemeSuggestion.objects.get(schema=schema, feedback_id=answered).theme_id == lab.pk  # as saved
    assert annotations() == before and in_line(course)


def test_after_an_api_merge_into_a_theme_with_its_own_label_that_label_takes_every_comment(
    course, themes, instructor, annotator
):
    exam, lab = themes["exam"], themes["lab"]
    schema = schema_from_themes([exam, lab], actor=instructor, name="topics")
    exam_label, lab_label = label(schema, exam), label(schema, lab)
    answered = members(lab)[0]
    annotate(answered, schema, lab_label, annotator)
    before = annotations()
    merged = _api(instructor).post(f"/api/courses/CS101/themes/{exam.pk}/merge/", {"themes": [lab.pk]}, format="json")
    assert merged.status_code == 200, merged.content
    # The kept theme's own label suggests all 60; the merged-away label is no theme's label any more, still a
    # label of the schema people may choose, and the annotated item keeps what it was shown.
    assert suggested(schema) == {pk: exam_label.name for pk in members(exam) if pk != answered} | {
        answered: lab_label.name
    }
    assert not ThemeLabel.objects.filter(label=lab_label).exists() and Label.objects.filter(pk=lab_label.pk).exists()
    assert annotations() == before and in_line(course)


def test_a_label_that_lost_its_theme_in_a_merge_is_not_woken_by_a_later_merge(course, themes, instructor):
    exam, lab, slides = themes["exam"], themes["lab"], themes["slides"]
    schema = schema_from_themes([lab, exam], actor=instructor, name="topics")  # lab's label comes first
    exam_label = label(schema, exam)
    merge_themes([lab], into=exam, actor=instructor)
    merge_themes([Theme.objects.get(pk=exam.pk)], into=slides, actor=instructor)
    # exam's label, which has been suggesting the merged comments, follows them into slides.
    assert list(ThemeLabel.objects.filter(label__schema=schema).values_list("label_id", "theme_id")) == [
        (exam_label.pk, slides.pk)
    ]
    assert suggested(schema) == {pk: exam_label.name for pk in members(slides)} and len(members(slides)) == 90
    assert in_line(course)


# --- Merges found at recomputation -------------------------------------------------------------------------


def _lab_reads_like_exam(theme: Theme) -> None:
    """The lab theme's comments now read like exam comments (as a new embedding model might see them)."""
    FeedbackEmbedding.objects.filter(pk__in=members(theme)).update(vector=to_bytes(direction("exam")))


def test_a_label_whose_theme_a_recomputation_merged_follows_the_theme_it_went_into(course, themes, instructor):
    exam, lab = themes["exam"], themes["lab"]
    schema = schema_from_themes([lab], actor=instructor, name="topics")
    lab_label = label(schema, lab)
    _lab_reads_like_exam(lab)
    recompute(course)
    assert (Theme.objects.get(pk=lab.pk).status, Theme.objects.get(pk=lab.pk).merged_into_id) == ("merged", exam.pk)
    assert ThemeLabel.objects.get(label=lab_label).theme_id == exam.pk
    assert suggested(schema) == {pk: lab_label.name for pk in members(exam)} and len(members(exam)) == 60


def test_a_recomputation_merge_into_a_labelled_theme_gives_its_comments_that_label(
    course, themes, instructor, annotator
):
    exam, lab = themes["exam"], themes["lab"]
    schema = schema_from_themes([exam, lab], actor=instructor, name="topics")
    exam_label, lab_label = label(schema, exam), label(schema, lab)
    answered = members(lab)[0]
    annotate(answered, schema, lab_label, annotator)
    before = annotations()
    _lab_reads_like_exam(lab)
    recompute(course)
    assert Theme.objects.get(pk=lab.pk).merged_into_id == exam.pk
    assert suggested(schema) == {pk: exam_label.name for pk in members(exam) if pk != answered} | {
        answered: lab_label.name
    }
    assert not ThemeLabel.objects.filter(label=lab_label).exists()
    assert annotations() == before
