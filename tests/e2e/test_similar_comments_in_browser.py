"""An annotator labels a comment and three near-duplicates of it in one step, keyboard only, in headless
Chromium: f shows the similar comments (each in full), x ticks, j moves, Enter saves all four. A near-identical
comment of another course and a held one never show. Screenshots go to artifacts/similar/ (look at them)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from classifiers.models import Annotation, LabelSchema
from courses.models import Role
from tests.classifiers.labelling.test_similar_comments import comment, near
from tests.factories import MembershipFactory, ModuleFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "similar"


def _state(page) -> dict:  # noqa: ANN001
    return page.evaluate("() => window.annotateState()")


def test_annotator_labels_three_near_duplicates_in_one_step_with_the_keyboard(
    live_server, browser, course, other_course
):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    annotator = MembershipFactory(course=course, role=Role.ANNOTATOR, user=UserFactory(username="anna")).user
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    module = ModuleFactory(course=course, title="Week 4: exams")
    now = timezone.now()

    def at(minutes: int) -> dict:
        return {"module": module, "submitted_at": now - timedelta(minutes=minutes)}

    shown = comment(course, "The exam was far too long for two hours", near("exam", 0.05, 1), **at(1))
    dups = [
        comment(course, text, near("exam", 0.1, 10 + i), **at(10 + i))
        for i, text in enumerate(
            [
                "The exam was way too long for the time we had",
                "Far too long an exam for two hours",
                "Exam far too long, could not finish in two hours",
            ]
        )
    ]
    loose = comment(course, "Exams could be spread over the term", near("exam", 0.9, 20), **at(20))
    lab = comment(course, "Lab machines crash during practicals", near("lab", 0.05, 30), **at(30))
    held = comment(
        course, "The exam was far too long for two hours!!", near("exam", 0.05, 1), screening="held", **at(2)
    )
    twin = comment(other_course, "The exam was far too long for two hours", near("exam", 0.05, 1))

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "anna")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/classifiers/labelschema/{schema.pk}/course/{course.pk}/annotate/")
    page.wait_for_function("() => window.annotateState().current !== null")
    assert _state(page)["current"] == shown.pk

    page.keyboard.press("1")  # negative
    page.keyboard.press("f")
    page.wait_for_function("() => window.annotateState().similar.length > 0", timeout=10000)
    similar = _state(page)["similar"]
    assert similar[:3] and set(similar[:3]) == {d.pk for d in dups} and loose.pk in similar
    assert not {held.pk, twin.pk, lab.pk} & set(similar)
    for dup in dups:  # every one is shown in full before it is ticked
        assert dup.redacted_text in page.inner_text("#similar-list")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("x")
    assert sorted(_state(page)["ticked"]) == sorted(d.pk for d in dups)
    assert "3 of 4 ticked" in page.inner_text("#similar-count")
    page.screenshot(path=str(ARTIFACTS / "similar-ticked.png"), full_page=True)

    page.keyboard.press("Enter")
    page.wait_for_function("() => window.annotateState().saved === 4", timeout=15000)
    assert "and 3 similar comments" in page.inner_text("#status")
    assert page.is_hidden("#similar")  # the next item starts without the list
    assert _state(page)["current"] not in {d.pk for d in dups}  # labelled ones never come round again
    page.screenshot(path=str(ARTIFACTS / "similar-saved.png"), full_page=True)

    rows = Annotation.objects.filter(annotator=annotator, schema=schema, is_current=True)
    assert sorted(rows.values_list("feedback_id", flat=True)) == sorted([shown.pk] + [d.pk for d in dups])
    assert set(rows.values_list("labels__name", flat=True)) == {"negative"}
    assert not Annotation.objects.filter(feedback__in=[loose, held, twin]).exists()

    page.keyboard.press("u")  # undo takes back the item and the three saved with it
    page.wait_for_function("() => window.annotateState().saved === 0", timeout=15000)
    assert not Annotation.objects.filter(annotator=annotator).exists()
    page.close()


def test_a_schema_made_from_themes_shows_each_members_theme_as_a_suggestion(live_server, browser, course):
    from classifiers.themes.labels import schema_from_themes
    from classifiers.themes.models import Theme
    from classifiers.themes.services import run_theme_run, start_theme_run
    from tests.classifiers.themes.helpers import add_comments

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    annotator = MembershipFactory(course=course, role=Role.ANNOTATOR, user=UserFactory(username="anna")).user
    instructor = MembershipFactory(course=course, role=Role.INSTRUCTOR).user
    add_comments(course, "exam", 20)
    add_comments(course, "lab", 20)
    assert run_theme_run(start_theme_run(course, actor=None, dispatch=False).pk).status == "succeeded"
    themes = list(Theme.objects.filter(course=course, status="active").order_by("name"))
    schema = schema_from_themes(themes, actor=instructor, name="topics")

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "anna")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/classifiers/labelschema/{schema.pk}/course/{course.pk}/annotate/")
    page.wait_for_function("() => window.annotateState().current !== null")
    first = _state(page)["current"]
    theme = Theme.objects.get(members__feedback_id=first)
    assert "theme suggestion" in page.inner_text("#suggestion").lower()
    assert theme.display_name in page.inner_text("#suggestion")
    assert "made from themes" in page.inner_text("#theme-help")
    page.screenshot(path=str(ARTIFACTS / "theme-suggestion.png"), full_page=True)
    page.keyboard.press("Enter")  # the suggestion is preselected: Enter confirms it
    page.wait_for_function("() => window.annotateState().saved === 1", timeout=15000)
    assert "suggestion confirmed" not in page.inner_text("#status")  # that note is the model's
    saved = Annotation.objects.get(annotator=annotator, schema=schema)
    assert (saved.feedback_id, saved.suggested_by_theme_id) == (first, theme.pk)
    assert [lb.name for lb in saved.labels.all()] == [theme.display_name]
    page.close()
