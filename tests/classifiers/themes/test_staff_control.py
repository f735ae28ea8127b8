"""Staff control of themes: rename, merge, split off, hide; each recorded; all of it survives recomputation
(the real service over stored embeddings); bad input is a clear message; keywords keep negations and come
only from comments staff may read."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.urls import reverse
from django.utils.html import escape
from rest_framework.test import APIClient

from classifiers.ml.embeddings import to_bytes
from classifiers.themes.embeddings import current_spec, text_md5
from classifiers.themes.models import AppendOnly, FeedbackEmbedding, Theme, ThemeEdit, ThemeMember, ThemeRun
from classifiers.themes.staff import merge_themes, rename_theme, set_theme_hidden, split_theme
from courses.models import Feedback
from eduplatform.errors import DomainError
from tests.classifiers.themes.helpers import DIM, add_comments, direction, recompute
from tests.factories import ModuleFactory

pytestmark = pytest.mark.django_db


def theme_of(course, word: str) -> Theme:  # noqa: ANN001
    return next(t for t in Theme.objects.filter(course=course, status="active") if word in t.name)


def members(theme: Theme) -> set[int]:
    return set(ThemeMember.objects.filter(theme=theme).values_list("feedback_id", flat=True))


def comments(course, text: str, n: int, *, topic: str, screening: str = "clear", seed: int = 7) -> list[Feedback]:  # noqa: ANN001
    """`n` comments reading `text` (numbered), embedded near `topic`'s direction."""
    rng = np.random.default_rng(seed)
    items = Feedback.objects.bulk_create(
        Feedback(
            course=course,
            source="import",
            original_text=f"{text} ({i})",
            redacted_text=f"{text} ({i})",
            submitted_at="2026-11-02T10:00:00Z",
            screening=screening,
        )
        for i in range(n)
    )
    vectors = direction(topic) + 0.15 * rng.normal(size=(n, DIM)) / np.sqrt(DIM)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    FeedbackEmbedding.objects.bulk_create(
        FeedbackEmbedding(
            feedback=f, model_key=current_spec().key, text_md5=text_md5(f.redacted_text), vector=to_bytes(v)
        )
        for f, v in zip(items, vectors, strict=True)
    )
    return items


@pytest.fixture
def two_themes(course):
    add_comments(course, "exam", 30)
    add_comments(course, "lab", 30)
    recompute(course)
    return theme_of(course, "exam"), theme_of(course, "lab")


# --- Survive recomputation --------------------------------------------------------------------------------


def test_a_rename_and_a_hide_survive_recomputation_with_new_comments(course, two_themes, instructor):
    exam, lab = two_themes
    rename_theme(exam, name="Exam length", actor=instructor)
    set_theme_hidden(lab, hidden=True, actor=instructor)
    add_comments(course, "exam", 10, seed=5)
    add_comments(course, "lab", 10, seed=5)
    run = recompute(course)
    exam.refresh_from_db()
    lab.refresh_from_db()
    assert (exam.display_name, exam.status, exam.size, exam.hidden) == ("Exam length", "active", 40, False)
    assert (lab.hidden, lab.status, lab.size) == (True, "active", 40)
    assert "exam" in exam.name  # the keyword name is still updated beside the staff name
    assert run.changes["new"] == 0


def test_merged_themes_stay_merged_through_recomputation_and_new_comments_join_the_kept_theme(
    course, two_themes, teaching_assistant
):
    exam, lab = two_themes
    kept = merge_themes([exam, lab], into=exam, actor=teaching_assistant)
    lab.refresh_from_db()
    assert (kept.pk, kept.size, lab.status, lab.merged_into_id) == (exam.pk, 60, "merged", exam.pk)
    new_lab = add_comments(course, "lab", 10, seed=5)
    add_comments(course, "exam", 10, seed=5)
    for _ in range(2):  # the second run starts from the first's state: still one theme
        run = recompute(course)
        assert list(Theme.objects.filter(course=course, status="active").values_list("pk", flat=True)) == [exam.pk]
        assert run.changes["new"] == 0 and run.changes["vanished"] == 0
    lab.refresh_from_db()
    assert (lab.status, lab.merged_into_id) == ("merged", exam.pk)
    assert Theme.objects.get(pk=exam.pk).size == 80
    assert {f.pk for f in new_lab} <= members(exam)


def test_without_the_staff_merge_the_same_data_gives_two_themes(course, two_themes):
    """The control for the test above: recomputation alone would keep exam and lab apart."""
    add_comments(course, "lab", 10, seed=5)
    add_comments(course, "exam", 10, seed=5)
    recompute(course)
    assert Theme.objects.filter(course=course, status="active").count() == 2


def test_a_split_off_theme_keeps_its_id_and_comments_through_recomputation(course, instructor):
    add_comments(course, "exam", 40)
    recompute(course)
    exam = theme_of(course, "exam")
    past = split_theme(exam, name="Past papers", keyword="past exam papers", actor=instructor)
    chosen = members(past)
    assert len(chosen) == 10 and past.split_from_id == exam.pk and members(exam).isdisjoint(chosen)
    add_comments(course, "exam", 12, seed=5)
    run = recompute(course)
    past.refresh_from_db()
    assert (past.status, past.display_name) == ("active", "Past papers")
    assert chosen <= members(past) and theme_of(course, "exam").pk == exam.pk
    assert sorted(Theme.objects.filter(course=course, status="active").values_list("pk", flat=True)) == sorted(
        [exam.pk, past.pk]
    )
    assert run.changes["new"] == 0


def test_a_theme_split_off_by_chosen_comments_can_be_renamed_and_hidden(course, instructor):
    add_comments(course, "exam", 30)
    recompute(course)
    exam = theme_of(course, "exam")
    picked = sorted(members(exam))[:6]
    part = split_theme(exam, name="Some exam comments", feedback_ids=picked, actor=instructor)
    assert members(part) == set(picked) and Theme.objects.get(pk=exam.pk).size == 24
    rename_theme(part, name="Chosen", actor=instructor)
    set_theme_hidden(part, hidden=True, actor=instructor)
    assert list(ThemeEdit.objects.filter(course=course).order_by("pk").values_list("kind", "theme_id")) == [
        ("split", part.pk),
        ("rename", part.pk),
        ("hide", part.pk),
    ]


# --- Audit ------------------------------------------------------------------------------------------------


def test_each_action_records_who_when_and_what(two_themes, instructor):
    exam, lab = two_themes
    rename_theme(exam, name="Exams", actor=instructor)
    merge_themes([lab], into=exam, actor=instructor)
    rename, merge = ThemeEdit.objects.order_by("pk")
    assert (rename.kind, rename.actor, rename.actor_name, rename.detail["after"]) == (
        "rename",
        instructor,
        "ines",
        "Exams",
    )
    assert rename.detail["before"] == exam.name and rename.at is not None
    assert (merge.kind, merge.theme_id, merge.detail["merged"][0]["id"], merge.detail["comments"]) == (
        "merge",
        exam.pk,
        lab.pk,
        60,
    )


def test_the_audit_is_append_only_and_admin_cannot_change_it(two_themes, instructor, superuser, client):
    exam, _ = two_themes
    rename_theme(exam, name="Exams", actor=instructor)
    edit = ThemeEdit.objects.get()
    edit.actor_name = "someone else"
    with pytest.raises(AppendOnly):
        edit.save()
    with pytest.raises(AppendOnly):
        edit.delete()
    client.force_login(superuser)
    page = client.get(reverse("admin:classifiers_themeedit_change", args=[edit.pk]))
    assert page.status_code == 200 and b'name="actor_name"' not in page.content
    assert (
        client.post(reverse("admin:classifiers_themeedit_delete", args=[edit.pk]), {"post": "yes"}).status_code == 403
    )
    assert client.get(reverse("admin:classifiers_themeedit_add")).status_code == 403
    assert ThemeEdit.objects.get().actor_name == "ines"


def test_the_history_says_each_edit_in_a_sentence_with_who_and_when_and_names_escaped(
    two_themes, instructor, teaching_assistant, client
):
    exam, lab = two_themes
    keyword_name, lab_name = exam.display_name, lab.display_name
    rename_theme(exam, name="<b>Exams</b> & co", actor=instructor)
    merge_themes([lab], into=exam, actor=teaching_assistant)
    papers = split_theme(Theme.objects.get(pk=exam.pk), name="Exam <i>papers</i>", keyword="paper", actor=instructor)
    set_theme_hidden(Theme.objects.get(pk=exam.pk), hidden=True, actor=instructor)
    set_theme_hidden(Theme.objects.get(pk=exam.pk), hidden=False, actor=instructor)
    said = [  # newest first, seen from exam's own page
        "shown in reports again",
        "hidden from reports",
        f"split off “Exam <i>papers</i>” (15 comments) by keyword “paper” into theme {papers.pk}",
        f"merged theme {lab.pk} “{lab_name}” into this one (60 comments)",
        f"renamed from “{keyword_name}” to “<b>Exams</b> & co”",
    ]
    who = ["ines", "ines", "ines", "tara", "ines"]

    client.force_login(instructor)
    html = client.get(reverse("admin:classifiers_theme_control", args=[exam.pk])).content.decode()
    rows = html.split('<table id="edits">')[1].split("</table>")[0].split("<tr>")[2:]
    assert len(rows) == 5
    for row, sentence, person in zip(rows, said, who, strict=True):
        assert f"<td>{person}</td><td>{escape(sentence)}</td>" in row, row
        assert '<time datetime="' in row  # when: the date shown, the full time machine-readable
    assert "<b>Exams</b>" not in html and "<i>papers</i>" not in html  # escaped, never markup
    assert "{&#x27;" not in html and "{'" not in html  # no raw dict any more
    # The split-off theme's own page says where it came from.
    page = client.get(reverse("admin:classifiers_theme_control", args=[papers.pk])).content.decode()
    assert escape(
        f"split off from theme {exam.pk} “<b>Exams</b> & co” as “Exam <i>papers</i>” (15 comments) by keyword “paper”"
    ) in page
    # The list of all edits names the themes by id.
    listed = client.get(reverse("admin:classifiers_themeedit_changelist")).content.decode()
    assert escape(f"renamed theme {exam.pk} from “{keyword_name}” to “<b>Exams</b> & co”") in listed
    assert "<b>Exams</b>" not in listed

    api = APIClient()
    api.force_authenticate(instructor)
    history = api.get(f"/api/courses/CS101/themes/{exam.pk}/history/").json()
    assert [(h["summary"], h["actor"]) for h in history] == list(zip(said, who, strict=True))
    assert history[-1]["detail"] == {"before": keyword_name, "after": "<b>Exams</b> & co"}  # the record stays


# --- Bad input: clear messages, nothing changed -----------------------------------------------------------


def test_themes_of_two_courses_cannot_be_merged(two_themes, other_course, superuser):
    exam, _ = two_themes
    add_comments(other_course, "exam", 30)
    recompute(other_course)
    theirs = Theme.objects.get(course=other_course)
    with pytest.raises(DomainError, match=r"themes of different courses cannot be merged \(CS101, HIST200\)"):
        merge_themes([exam, theirs], into=exam, actor=superuser)
    assert Theme.objects.get(pk=theirs.pk).status == "active" and not ThemeEdit.objects.exists()


def test_merging_needs_two_themes_and_active_ones(two_themes, instructor):
    exam, lab = two_themes
    with pytest.raises(DomainError, match="choose at least two themes to merge"):
        merge_themes([exam], into=exam, actor=instructor)
    merge_themes([lab], into=exam, actor=instructor)
    with pytest.raises(DomainError, match=f"was merged into theme {exam.pk}; change that theme instead"):
        rename_theme(Theme.objects.get(pk=lab.pk), name="Labs", actor=instructor)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keyword": "zebra"}, "no comment of theme “.*” contains “zebra”; nothing was split off"),
        ({}, "choose the comments to split off"),
        ({"feedback_ids": [10**9]}, f"comments {10**9} are not comments of theme"),
        ({"keyword": "exam"}, "every comment of theme .* was chosen: rename it instead"),
    ],
)
def test_a_split_without_members_is_refused_with_the_reason(two_themes, instructor, kwargs, message):
    exam, _ = two_themes
    with pytest.raises(DomainError, match=message):
        split_theme(exam, name="Part", actor=instructor, **kwargs)
    assert Theme.objects.count() == 2 and not ThemeEdit.objects.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "a theme's name cannot be empty"),
        ("   ", "a theme's name cannot be empty"),
        ("x" * 121, "a theme's name is at most 120 characters; this one has 121"),
    ],
)
def test_a_bad_name_is_refused_with_the_reason(two_themes, instructor, name, message):
    exam, _ = two_themes
    with pytest.raises(DomainError, match=message):
        rename_theme(exam, name=name, actor=instructor)
    assert Theme.objects.get(pk=exam.pk).name_by_staff == ""


def test_a_name_with_html_is_kept_as_text_and_shown_escaped(course, sentiment, instructor, client):
    lectures = ModuleFactory(course=course, title="Lectures")
    add_comments(course, "exam", 20, module=lectures, label="negative")
    recompute(course)
    exam = theme_of(course, "exam")
    rename_theme(exam, name="<script>alert(1)</script> exams", actor=instructor)
    client.force_login(instructor)
    for url in (
        reverse("reports:course_report", args=["CS101"]),
        reverse("admin:classifiers_theme_changelist"),
        reverse("admin:classifiers_theme_control", args=[exam.pk]),
    ):
        html = client.get(url).content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt; exams" in html and "<script>alert(1)" not in html, url


def test_bad_input_in_the_api_is_a_400_with_the_message(two_themes, instructor):
    exam, lab = two_themes
    api = APIClient()
    api.force_authenticate(instructor)
    empty = api.post(f"/api/courses/CS101/themes/{exam.pk}/rename/", {"name": " "}, format="json")
    assert (empty.status_code, empty.json()) == (400, {"name": ["a theme's name cannot be empty"]})
    nothing = api.post(f"/api/courses/CS101/themes/{exam.pk}/split/", {"name": "P", "keyword": "zebra"}, format="json")
    assert nothing.status_code == 400 and "contains “zebra”" in nothing.json()["keyword"][0]
    unknown = api.post(f"/api/courses/CS101/themes/{exam.pk}/merge/", {"themes": [10**9]}, format="json")
    assert (unknown.status_code, unknown.json()) == (400, {"detail": f"no theme {10**9} in your courses"})
    merged = api.post(f"/api/courses/CS101/themes/{exam.pk}/merge/", {"themes": [lab.pk]}, format="json")
    assert merged.status_code == 200 and merged.json()["id"] == exam.pk
    history = api.get(f"/api/courses/CS101/themes/{exam.pk}/history/").json()
    assert [(h["kind"], h["actor"]) for h in history] == [("merge", "ines")]


def test_admin_refuses_an_edit_during_a_recomputation_with_the_reason(course, two_themes, instructor, client):
    exam, _ = two_themes
    run = ThemeRun.objects.create(course=course, status="running")
    client.force_login(instructor)
    url = reverse("admin:classifiers_theme_control", args=[exam.pk])
    page = client.post(url, {"do": "rename", "name": "Exams"}, follow=True).content.decode()
    assert f"themes of cs101 are being recomputed (run {run.pk})" in page.lower()
    assert Theme.objects.get(pk=exam.pk).name_by_staff == ""


# --- Admin: the doors work for those who may ---------------------------------------------------------------


def test_admin_merges_after_asking_which_theme_to_keep(two_themes, instructor, client):
    exam, lab = two_themes
    client.force_login(instructor)
    url = reverse("admin:classifiers_theme_changelist")
    ask = client.post(url, {"action": "merge_selected_themes", "_selected_action": [exam.pk, lab.pk]})
    assert ask.status_code == 200 and b'name="kept"' in ask.content
    client.post(url, {"action": "merge_selected_themes", "_selected_action": [exam.pk, lab.pk], "kept": lab.pk})
    assert Theme.objects.get(pk=exam.pk).merged_into_id == lab.pk and Theme.objects.get(pk=lab.pk).size == 60


def test_admin_splits_off_ticked_comments_and_renames(two_themes, instructor, client):
    exam, _ = two_themes
    client.force_login(instructor)
    url = reverse("admin:classifiers_theme_control", args=[exam.pk])
    page = client.get(url)
    assert page.status_code == 200 and b'name="comments"' in page.content
    picked = sorted(members(exam))[:5]
    client.post(url, {"do": "split", "name": "Five", "comments": picked})
    assert members(Theme.objects.get(name_by_staff="Five")) == set(picked)
    client.post(url, {"do": "rename", "name": "Exams"})
    client.post(url, {"do": "hide"})
    exam.refresh_from_db()
    assert (exam.name_by_staff, exam.hidden) == ("Exams", True)


# --- Hidden themes in the report: page, CSV, API -----------------------------------------------------------


def test_a_hidden_theme_is_left_out_of_page_csv_and_api_and_its_comments_count_as_other(
    course, sentiment, instructor, client
):
    lectures = ModuleFactory(course=course, title="Lectures")
    add_comments(course, "exam", 20, module=lectures, label="negative")
    add_comments(course, "lab", 12, module=lectures, label="positive")
    recompute(course)
    lab = theme_of(course, "lab")
    rename_theme(lab, name="Hands-on time", actor=instructor)
    client.force_login(instructor)
    api = APIClient()
    api.force_authenticate(instructor)

    def answers() -> tuple[str, list[dict], dict]:
        page = client.get(reverse("reports:course_report", args=["CS101"])).content.decode()
        table = client.get(reverse("reports:course_report_csv", args=["CS101"]) + "?chart=themes").content.decode()
        body = api.get("/api/courses/CS101/reports/modules/").json()
        section = next(s for s in body["themes"] if s["title"] == "Lectures")
        return page, list(csv.DictReader(io.StringIO(table))), section

    page, rows, section = answers()
    assert "Hands-on time" in page and ("Lectures", "Hands-on time", "12") in [
        (r["module"], r["theme"], r["comments"]) for r in rows
    ]
    assert section["other"] == 0
    set_theme_hidden(lab, hidden=True, actor=instructor)
    page, rows, section = answers()
    assert "Hands-on time" not in page
    assert ("Lectures", "other", "12") in [(r["module"], r["theme"], r["comments"]) for r in rows]
    assert all(r["theme"] != "Hands-on time" for r in rows)
    assert [t["name"] for t in section["themes"]] != [] and "Hands-on time" not in str(section["themes"])
    assert section["other"] == 12
    set_theme_hidden(lab, hidden=False, actor=instructor)
    assert "Hands-on time" in answers()[0]


# --- Keywords ---------------------------------------------------------------------------------------------


def test_keywords_keep_negations_so_did_not_match_never_reads_did_match(course):
    comments(course, "The exam questions did not match the lectures", 15, topic="exam")
    comments(course, "Exam questions didn't match the lectures", 15, topic="exam", seed=8)
    comments(course, "Lab tutors were really helpful", 20, topic="lab")
    recompute(course)
    exam = theme_of(course, "exam")
    assert any(w.startswith("not match") or " not match" in w for w in exam.keywords), exam.keywords
    for word in exam.keywords:
        assert "match" not in word or "not match" in word, exam.keywords


def test_keywords_come_only_from_comments_staff_may_read_while_held_ones_still_count(course):
    comments(course, "Exam questions were far too long", 20, topic="exam")
    held = comments(course, "Exam zebra crossing complaint", 12, topic="exam", screening="held", seed=9)
    comments(course, "Lab tutors were really helpful", 20, topic="lab")
    recompute(course)
    exam = theme_of(course, "exam")
    assert exam.size == 32 and {f.pk for f in held} <= members(exam)
    assert not any("zebra" in w or "crossing" in w for w in exam.keywords), exam.keywords
    assert "zebra" not in exam.name


def test_deleting_the_course_takes_its_audit_with_it(course, two_themes, instructor, superuser):
    from courses.services import delete_course

    exam, lab = two_themes
    merge_themes([exam, lab], into=exam, actor=instructor)
    delete_course(course, actor=superuser)
    assert not ThemeEdit.objects.exists() and not Theme.objects.exists()
