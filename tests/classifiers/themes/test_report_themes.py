"""The report's "What students talk about": per module, privacy applied alike on the page, in the CSV and the API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from classifiers.reports.selectors import module_report
from classifiers.reports.weeks import week_of
from classifiers.themes.models import Theme
from classifiers.themes.staff import merge_themes
from courses.models import Feedback
from courses.surveys.anonymity import random_id
from tests.classifiers.themes.helpers import TOPICS, add_comments, recompute
from tests.factories import ModuleFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def modules(course):
    return (ModuleFactory(course=course, title="Lectures", position=1),
            ModuleFactory(course=course, title="Labs", position=2))


@pytest.fixture
def themed(course, modules):
    """Lectures: 20 exam comments and 4 lab ones; Labs: 20 lab comments and a 4-comment parking theme."""
    lectures, labs = modules
    add_comments(course, "exam", 20, module=lectures, label="negative")
    add_comments(course, "lab", 4, module=lectures, label="positive", seed=9)
    add_comments(course, "lab", 20, module=labs, label="positive")
    add_comments(course, "parking", 4, module=labs, label="neutral")
    recompute(course)
    parking = Theme.objects.get(course=course, name__contains="parking")
    assert parking.size == 4  # the small theme exists: the tests below prove it never shows
    return course


def topic(name: str) -> str:
    """Which stand-in topic a keyword name is about ("exam paper, questions" → "exam")."""
    return next(t for t in TOPICS if t in name)


def sections(course) -> dict:  # noqa: ANN001
    report = module_report(course, course.schemas.get(name="sentiment"))
    return {s.title: s for s in report.themes}


def test_each_module_shows_its_themes_with_label_mix_and_the_closest_comments(themed):
    by_title = sections(themed)
    lectures, labs = by_title["Lectures"], by_title["Labs"]
    assert [(topic(t.name), t.count, t.mix) for t in lectures.themes] == [("exam", 20, "mostly negative")]
    exam = lectures.themes[0]
    assert exam.labels == {"negative": 20, "neutral": 0, "positive": 0} and exam.share == pytest.approx(20 / 24)
    assert len(exam.quotes) == 3 and all("exam" in q.lower() for q in exam.quotes)
    assert lectures.other == 4  # the 4 lab comments of Lectures: a small group there, so "other"
    assert [topic(t.name) for t in labs.themes] == ["lab"] and labs.other == 4


def test_a_theme_of_four_never_shows_when_the_minimum_is_five_on_page_csv_and_api(themed, client, instructor):
    client.force_login(instructor)
    page = client.get(reverse("reports:course_report", args=["CS101"])).content.decode()
    assert "What students talk about" in page and "exam" in page
    table = client.get(reverse("reports:course_report_csv", args=["CS101"]) + "?chart=themes").content.decode()
    api = APIClient()
    api.force_authenticate(instructor)
    body = api.get("/api/courses/CS101/reports/modules/").content.decode()
    for answer in (page, table, body):
        assert "parking" not in answer.lower()
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [(r["module"], r["theme"] if r["theme"] == "other" else topic(r["theme"]), r["comments"]) for r in rows] == [
        ("Lectures", "exam", "20"), ("Lectures", "other", "4"), ("Labs", "lab", "20"), ("Labs", "other", "4")]


def test_the_api_gives_the_same_sections_as_the_page(themed, instructor):
    api = APIClient()
    api.force_authenticate(instructor)
    data = api.get("/api/courses/CS101/reports/modules/").json()
    lectures = next(s for s in data["themes"] if s["title"] == "Lectures")
    assert lectures["other"] == 4 and lectures["themes"][0]["count"] == 20
    assert lectures["themes"][0]["mix"] == "mostly negative" and len(lectures["themes"][0]["quotes"]) == 3
    (week,) = lectures["themes"][0]["trend"]  # one week of comments, shown with its count
    assert week["shown"] is True and week["count"] == 20 and week["week"]
    assert data["themes_info"]["new_this_term"] == 0


def test_a_stricter_minimum_hides_a_theme_below_it_and_counts_its_comments_as_other(themed):
    themed.min_group_size = 21
    themed.save()
    lectures = sections(themed)["Lectures"]
    assert lectures.shown and lectures.themes == [] and lectures.other == 24


def test_a_module_the_report_hides_shows_no_themes(course, modules):
    lectures, _ = modules
    add_comments(course, "exam", 20, label="negative")
    add_comments(course, "exam", 4, module=lectures, label="negative", seed=3)
    recompute(course)
    section = sections(course)["Lectures"]
    assert (section.shown, section.themes, section.other, section.note) == (False, [], None, "fewer than 5 responses")


def test_a_theme_staff_hid_counts_under_other(themed):
    Theme.objects.filter(course=themed, name__startswith="exam").update(hidden=True)
    lectures = sections(themed)["Lectures"]
    assert lectures.themes == [] and lectures.other == 24


def test_a_new_theme_is_marked_new_this_term_on_the_page(themed, modules, client, instructor):
    add_comments(themed, "slides", 12, module=modules[0], label="neutral")
    recompute(themed)
    lectures = sections(themed)["Lectures"]
    assert {topic(t.name): t.is_new for t in lectures.themes} == {"exam": False, "slides": True}
    client.force_login(instructor)
    assert "new this term" in client.get(reverse("reports:course_report", args=["CS101"])).content.decode()


def test_a_themes_weekly_trend_shows_only_weeks_the_module_shows_and_hides_no_small_remainder(course, modules):
    lectures, _ = modules
    for weeks_ago, n in ((2, 10), (1, 10), (0, 3)):
        add_comments(course, "exam", n, module=lectures, label="negative", weeks_ago=weeks_ago, seed=weeks_ago)
    recompute(course)
    report = module_report(course, course.schemas.get(name="sentiment"))
    row = next(r for r in report.modules if r.title == "Lectures")
    (theme,) = next(s for s in report.themes if s.title == "Lectures").themes
    module_weeks = {c.week for c in row.trend if c.shown}
    shown = {w.week for w in theme.trend if w.shown}
    assert shown <= module_weeks and len(shown) == 1
    hidden_total = theme.count - sum(w.count for w in theme.trend if w.shown)
    assert hidden_total == 0 or hidden_total >= 5


def test_a_weeks_report_is_that_weeks_column_of_the_themes(course, modules):
    lectures, _ = modules
    add_comments(course, "exam", 12, module=lectures, label="negative", weeks_ago=1)
    add_comments(course, "exam", 8, module=lectures, label="negative", weeks_ago=0, seed=4)
    recompute(course)
    last_week = week_of((timezone.now() - timedelta(weeks=1, hours=1)).date())
    report = module_report(course, course.schemas.get(name="sentiment"), since=last_week,
                           until=last_week + timedelta(days=6))
    (section,) = [s for s in report.themes if s.title == "Lectures"]
    (theme,) = section.themes
    assert (theme.count, section.other, len(theme.quotes)) == (12, 0, 3)


def test_todays_anonymous_answers_are_neither_clustered_nor_quoted(course, modules):
    add_comments(course, "exam", 20, module=modules[0], label="negative")
    secret = "Exam questions did not match the lectures (anonymous today)"
    Feedback.objects.create(id=random_id(), course=course, module=modules[0], source="survey", original_text=secret,
                            redacted_text=secret, submitted_at=timezone.now(), created_at=timezone.now())
    recompute(course)
    (theme,) = sections(course)["Lectures"].themes
    assert theme.count == 20 and secret not in theme.quotes


@pytest.mark.parametrize("who", ["outsider", "student", "anonymous"])
def test_people_without_a_staff_role_in_the_course_get_no_themes_at_any_door(themed, client, who, request):
    user = {"student": lambda: UserFactory(username="stu"), "anonymous": lambda: None}.get(
        who, lambda: request.getfixturevalue(who))()
    if user is not None:
        client.force_login(user)
    page = client.get(reverse("reports:course_report", args=["CS101"]))
    table = client.get(reverse("reports:course_report_csv", args=["CS101"]) + "?chart=themes")
    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    body = api.get("/api/courses/CS101/reports/modules/")
    if who == "anonymous":
        assert page.status_code == 302 and table.status_code == 302 and body.status_code in (401, 403)
    else:
        assert (page.status_code, table.status_code, body.status_code) == (404, 404, 404)
    for answer in (page.content, table.content, body.content):
        assert b"exam" not in answer.lower()


def test_lists_name_only_themes_of_at_least_the_minimum_in_the_api_and_admin(themed, client, instructor):
    api = APIClient()
    api.force_authenticate(instructor)
    listed = api.get("/api/courses/CS101/themes/").json()["results"]
    assert sorted(topic(t["display_name"]) for t in listed) == ["exam", "lab"]
    run = themed.theme_runs.get()
    client.force_login(instructor)
    pages = [client.get(reverse("admin:classifiers_theme_changelist")),
             client.get(reverse("admin:classifiers_themerun_change", args=[run.pk]))]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode().lower()
        assert "exam" in html and "parking" not in html


def test_held_comments_count_in_a_theme_but_are_never_quoted_and_removed_ones_not_at_all(course, modules):
    add_comments(course, "exam", 20, module=modules[0], label="negative")
    exam = Feedback.objects.filter(course=course).order_by("pk")
    held = list(exam.values_list("pk", flat=True)[:17])
    Feedback.objects.filter(pk__in=held).update(screening="held")
    recompute(course)
    (theme,) = sections(course)["Lectures"].themes
    shown = Feedback.objects.filter(course=course).exclude(pk__in=held)
    shown_texts = set(shown.values_list("redacted_text", flat=True))
    assert theme.count == 20 and len(theme.quotes) == 3 and set(theme.quotes) <= shown_texts
    Feedback.objects.filter(pk__in=held[:10]).update(screening="removed")
    recompute(course)
    (theme,) = sections(course)["Lectures"].themes
    assert theme.count == 10 and set(theme.quotes) <= shown_texts


def test_a_report_built_before_a_staff_merge_counts_and_quotes_the_merged_theme(themed, instructor):
    before = sections(themed)["Lectures"]  # the summary and its theme cells are built now
    assert [topic(t.name) for t in before.themes] == ["exam"] and before.other == 4
    exam = Theme.objects.get(course=themed, name__startswith="exam")
    lab = Theme.objects.get(course=themed, name__startswith="lab")
    merge_themes([lab], into=exam, actor=instructor)
    lectures, labs = sections(themed)["Lectures"], sections(themed)["Labs"]
    assert [(t.theme_id, t.count) for t in lectures.themes] == [(exam.pk, 24)] and lectures.other == 0
    assert [(t.theme_id, t.count, t.mix) for t in labs.themes] == [(exam.pk, 20, "mostly positive")]
    assert len(labs.themes[0].quotes) == 3 and all("lab" in q.lower() for q in labs.themes[0].quotes)


def test_a_quote_held_after_the_summary_was_built_is_not_shown(themed):
    (exam,) = sections(themed)["Lectures"].themes
    quoted = Feedback.objects.filter(course=themed, redacted_text=exam.quotes[0])
    quoted.update(screening="held")
    (exam,) = sections(themed)["Lectures"].themes
    assert exam.count == 20 and len(exam.quotes) == 3 and quoted.get().redacted_text not in exam.quotes


def test_quotes_are_the_closest_ones_also_when_the_index_walk_stops_early(themed, monkeypatch):
    closest = sections(themed)["Labs"].themes[0].quotes
    from classifiers.reports import summary

    monkeypatch.setattr(summary, "QUOTE_WALK", 1)  # Labs' lab comments are not the theme's first member
    themed.min_group_size = 6  # any input change rebuilds the summary
    themed.save()
    summary.ReportSnapshot.objects.update(built_at=None)
    (lab,) = sections(themed)["Labs"].themes
    assert len(closest) == 3 and lab.quotes == closest


def test_a_rename_or_hide_shows_at_once_without_rebuilding_the_summary_and_a_merge_rebuilds_it(themed, instructor):
    from classifiers.reports.models import ReportSnapshot
    from classifiers.themes.staff import rename_theme, set_theme_hidden

    sections(themed)  # the summary and its theme cells are built now
    built = ReportSnapshot.objects.get(course=themed).built_at
    exam = Theme.objects.get(course=themed, name__startswith="exam")
    rename_theme(exam, name="Exam length", actor=instructor)
    assert [t.name for t in sections(themed)["Lectures"].themes] == ["Exam length"]
    set_theme_hidden(Theme.objects.get(pk=exam.pk), hidden=True, actor=instructor)
    lectures = sections(themed)["Lectures"]
    assert lectures.themes == [] and lectures.other == 24  # its comments count under "other"
    assert ReportSnapshot.objects.get(course=themed).built_at == built  # no count moved: no rebuild
    set_theme_hidden(Theme.objects.get(pk=exam.pk), hidden=False, actor=instructor)
    merge_themes([Theme.objects.get(course=themed, name__startswith="lab")], into=Theme.objects.get(pk=exam.pk),
                 actor=instructor)
    assert [(t.name, t.count) for t in sections(themed)["Lectures"].themes] == [("Exam length", 24)]
    assert ReportSnapshot.objects.get(course=themed).built_at > built  # comments moved: the cells are recounted
