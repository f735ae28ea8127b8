"""Recomputing themes: stable ids and staff names, new/merged/vanished recorded, who may, and the command."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from classifiers.ml.embeddings import to_bytes
from classifiers.themes.models import ChangeKind, FeedbackEmbedding, Theme, ThemeChange, ThemeMember, ThemeRun
from classifiers.themes.services import start_theme_run
from eduplatform.errors import DomainError, PermissionRefused
from tests.classifiers.themes.helpers import add_comments, direction, recompute
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def themes_of(course) -> dict[int, str]:  # noqa: ANN001
    return dict(Theme.objects.filter(course=course, status="active").values_list("pk", "name"))


def test_the_same_data_twice_gives_the_same_ids_and_names(course):
    for topic in ("exam", "lab", "slides"):
        add_comments(course, topic, 30)
    first = recompute(course)
    before = themes_of(course)
    second = recompute(course)
    assert themes_of(course) == before and len(before) == 3
    assert second.changes == {"new": 0, "kept": 3, "merged": 0, "vanished": 0}
    assert second.stats["unchanged_input"] is True  # the very same input changes nothing
    assert first.changes["new"] == 3 and first.micro_centroids is not None and len(first.micro_themes) >= 3
    assert any(name.startswith("exam") for name in before.values())
    assert ThemeMember.objects.filter(theme__course=course).count() == 90


def test_a_new_topic_becomes_one_new_theme_and_the_others_keep_their_ids(course):
    for topic in ("exam", "lab", "slides"):
        add_comments(course, topic, 30)
    recompute(course)
    before = themes_of(course)
    add_comments(course, "parking", 30)
    run = recompute(course)
    after = themes_of(course)
    assert set(before) < set(after) and len(after) == 4
    (new_id,) = set(after) - set(before)
    assert "parking" in after[new_id]
    assert Theme.objects.get(pk=new_id).first_seen_run_id == run.pk
    assert run.changes == {"new": 1, "kept": 3, "merged": 0, "vanished": 0}
    assert {after[pk] for pk in before} == set(before.values())


def test_a_name_given_by_staff_and_the_hidden_flag_survive_recomputation(course):
    for topic in ("exam", "lab"):
        add_comments(course, topic, 30)
    recompute(course)
    exam = Theme.objects.get(course=course, name__startswith="exam")
    Theme.objects.filter(pk=exam.pk).update(name_by_staff="Exam length", hidden=True)
    add_comments(course, "exam", 10, seed=5)
    recompute(course)
    exam.refresh_from_db()
    assert (exam.display_name, exam.hidden, exam.status, exam.size) == ("Exam length", True, "active", 40)


def test_a_topic_nobody_mentions_any_more_vanishes_and_the_history_says_so(course):
    add_comments(course, "exam", 30)
    lab = add_comments(course, "lab", 30)
    recompute(course)
    lab_theme = Theme.objects.get(course=course, name__startswith="lab")
    course.feedback.filter(pk__in=[f.pk for f in lab]).delete()
    run = recompute(course)
    lab_theme.refresh_from_db()
    assert lab_theme.status == "vanished"
    assert ThemeChange.objects.get(run=run, theme=lab_theme).kind == ChangeKind.VANISHED
    assert run.changes["vanished"] == 1


def test_a_theme_whose_comments_joined_another_is_recorded_as_merged_into_it(course):
    add_comments(course, "exam", 60)
    lab = add_comments(course, "lab", 20)
    recompute(course)
    exam_theme = Theme.objects.get(course=course, name__startswith="exam")
    lab_theme = Theme.objects.get(course=course, name__startswith="lab")
    # The lab comments now read like exam comments (as if a new embedding model saw them so).
    rng = np.random.default_rng(3)
    for f in lab:
        v = direction("exam") + 0.1 * rng.normal(size=384) / np.sqrt(384)
        FeedbackEmbedding.objects.filter(pk=f.pk).update(vector=to_bytes(v / np.linalg.norm(v)))
    run = recompute(course)
    lab_theme.refresh_from_db()
    assert (lab_theme.status, lab_theme.merged_into_id) == ("merged", exam_theme.pk)
    change = ThemeChange.objects.get(run=run, theme=lab_theme)
    assert (change.kind, change.into_id) == (ChangeKind.MERGED, exam_theme.pk)
    assert Theme.objects.get(pk=exam_theme.pk).size == 80


def test_comments_that_fit_no_theme_are_members_of_none(course):
    add_comments(course, "exam", 30)
    strays = add_comments(course, "parking", 2)  # two comments are no theme
    recompute(course)
    assert not ThemeMember.objects.filter(feedback__in=strays).exists()
    assert list(themes_of(course).values()) == [Theme.objects.get(course=course).name]


@pytest.mark.parametrize("role", ["outsider", "student", "annotator", "viewer"])
def test_only_the_courses_instructors_and_tas_may_recompute(course, role, request):
    user = UserFactory(username="stu") if role == "student" else request.getfixturevalue(role)
    with pytest.raises(PermissionRefused, match="may not recompute the course's themes in CS101"):
        start_theme_run(course, actor=user, dispatch=False)
    assert not ThemeRun.objects.exists()


@pytest.mark.parametrize("role", ["instructor", "teaching_assistant"])
def test_instructors_and_tas_may_recompute(course, role, request):
    run = start_theme_run(course, actor=request.getfixturevalue(role), dispatch=False)
    assert run.status == "queued" and run.actor.username in ("ines", "tara")


def test_a_second_recomputation_waits_for_the_first(course):
    first = start_theme_run(course, actor=None, dispatch=False)
    with pytest.raises(DomainError, match=f"being recomputed already \\(run {first.pk}, queued\\)"):
        start_theme_run(course, actor=None, dispatch=False)


def test_the_command_recomputes_as_the_named_user_and_prints_the_result(course, instructor):
    add_comments(course, "exam", 30)
    out, err = StringIO(), StringIO()
    call_command("themes", "--course", "CS101", "--inline", "--as", "ines", stdout=out, stderr=err)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (result["status"], result["themes"], result["comments"]) == ("succeeded", 1, 30)
    assert ThemeRun.objects.get().actor == instructor


def test_the_command_refuses_a_user_who_may_not_with_exit_2(course, annotator):
    with pytest.raises(CommandError, match="anna may not recompute the course's themes") as refused:
        call_command("themes", "--course", "CS101", "--inline", "--as", "anna", stdout=StringIO(), stderr=StringIO())
    assert refused.value.returncode == 2 and not ThemeRun.objects.exists()


def test_the_command_names_an_unknown_course(db):
    with pytest.raises(CommandError, match="no course with code 'NOPE'"):
        call_command("themes", "--course", "NOPE", stdout=StringIO(), stderr=StringIO())


def test_deleting_a_course_takes_its_runs_themes_members_and_embeddings_with_it(course, superuser):
    from courses.services import delete_course

    add_comments(course, "exam", 30)
    recompute(course)
    delete_course(course, actor=superuser)
    assert not (ThemeRun.objects.exists() or Theme.objects.exists() or ThemeMember.objects.exists()
                or FeedbackEmbedding.objects.exists())
