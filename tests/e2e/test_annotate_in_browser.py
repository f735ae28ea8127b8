"""An annotator labels 20 items with the keyboard only in headless Chromium, undoes one, and the
database holds exactly those 19 annotations. Screenshots go to artifacts/ (look at them)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from classifiers.models import Annotation, LabelSchema
from courses.models import Role
from tests.factories import (
    FeedbackFactory,
    MembershipFactory,
    ModelVersionFactory,
    ModuleFactory,
    PredictionFactory,
    UserFactory,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_annotator_labels_twenty_items_with_the_keyboard_and_undoes_one(live_server, browser, course, other_course):
    ARTIFACTS.mkdir(exist_ok=True)
    annotator = MembershipFactory(course=course, role=Role.ANNOTATOR, user=UserFactory(username="anna")).user
    schema = LabelSchema.objects.get(course=course, name="sentiment")
    schema.description = "Label the overall feeling of the comment."
    schema.save()
    version = ModelVersionFactory(schema=schema, is_active=True)
    modules = [ModuleFactory(course=course, title=f"Week {i}") for i in (1, 2)]
    now = timezone.now()
    items = [FeedbackFactory(course=course, module=modules[i % 2], submitted_at=now - timedelta(minutes=i),
                             original_text=f"Comment {i}: the labs were {'great' if i % 3 else 'confusing'}")
             for i in range(25)]
    PredictionFactory(model_version=version, feedback=items[0],
                      scores={"negative": 0.1, "neutral": 0.25, "positive": 0.65})
    PredictionFactory(model_version=version, feedback=items[1],
                      scores={"negative": 0.7, "neutral": 0.2, "positive": 0.1})
    FeedbackFactory(course=other_course, original_text="other course comment")

    page = browser.new_page(viewport={"width": 1280, "height": 860})
    saves: list[str] = []
    page.on("request", lambda r: saves.append(r.url) if r.method == "POST" and "/annotate/" in r.url else None)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "anna")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/classifiers/labelschema/{schema.pk}/course/{course.pk}/annotate/")
    page.wait_for_selector("#item-text")
    assert "model suggestion" in page.inner_text("#suggestion").lower()  # newest item carries the suggestion
    page.screenshot(path=str(ARTIFACTS / "annotate-view.png"), full_page=True)

    skipped_text = page.inner_text("#item-text")
    page.keyboard.press("2")
    page.keyboard.press("s")  # skip: nothing saved, the next item shows
    assert page.inner_text("#item-text") != skipped_text
    keys = ["1", "2", "3"]
    for i in range(20):
        page.wait_for_function("() => window.annotateState().current !== null", timeout=10000)
        shown = page.inner_text("#item-text")
        if i:
            page.keyboard.press(keys[i % 3])
        page.keyboard.press(" " if i % 2 else "Enter")
        # The next item is on screen at once, before the save's response arrives.
        assert page.inner_text("#item-text") != shown
    page.wait_for_function("() => window.annotateState().saved === 20", timeout=15000)
    page.keyboard.press("u")
    page.wait_for_function("() => window.annotateState().saved === 19", timeout=15000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "annotate-after-undo.png"), full_page=True)

    save_posts = [u for u in saves if u.endswith("/save/")]
    assert len(save_posts) == 20 and len([u for u in saves if u.endswith("/undo/")]) == 1
    rows = Annotation.objects.filter(annotator=annotator)
    assert rows.count() == 19 and rows.filter(is_current=True).count() == 19
    labelled = set(rows.values_list("feedback_id", flat=True))
    assert len(labelled) == 19 and labelled <= {fb.pk for fb in items}
    assert items[0].pk not in labelled  # skipped
    assert rows.get(feedback=items[1]).suggested_by == version  # suggestion preselected, Enter confirmed it
    assert rows.exclude(feedback=items[1]).filter(suggested_by__isnull=False).count() == 0

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/admin/classifiers/labelitem/?schema={schema.pk}")
    page.wait_for_selector("#result_list")
    assert "other course comment" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "items-list.png"), full_page=True)
    # Inline edit: choosing a label in the row's select saves it (one request, no page load).
    select = page.locator(f'select.inline-label[data-feedback="{items[0].pk}"]')
    select.select_option(label="neutral")
    page.wait_for_selector("text=✓ saved")
    assert [lb.name for lb in rows.get(feedback=items[0], is_current=True).labels.all()] == ["neutral"]

    schema_page = f"{live_server.url}/admin/classifiers/labelschema/{schema.pk}/change/"
    page.goto(schema_page)
    assert "20 / 25" in page.inner_text("#schema-work")
    page.screenshot(path=str(ARTIFACTS / "schema-page.png"), full_page=True)
    page.close()
