"""A screener works the review queue with the keyboard only in headless Chromium: releases one comment,
redacts the offending words of another (Shift+arrows in the comment, then e), removes a third with its reason;
the database holds exactly those decisions and the course staff see what was released. Screenshots go to
artifacts/screening/ (look at them)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from classifiers.screening.models import ScreeningDecision
from classifiers.screening.services import SCREENER_REDACTION, grant_screener
from courses.models import Feedback, ScreeningStatus
from tests.factories import FeedbackFactory, ModuleFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screening"

OLDEST = "The marking was harsh and the lecturer seemed not to care"
REDACT = "Great labs, but the lecturer is a fat slob"
REMOVE = "What an idiot, total waste of money and time"


def _state(page) -> dict:  # noqa: ANN001
    return page.evaluate("() => window.screeningState()")


def test_screener_releases_redacts_and_removes_with_the_keyboard(live_server, browser, course):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screener = UserFactory(username="sam", is_staff=False)
    grant_screener(screener, actor=None)
    module = ModuleFactory(course=course, title="Week 3")
    now = timezone.now()
    items = {}
    for age, (text, status, reasons) in enumerate(
        [
            (OLDEST, ScreeningStatus.HELD, ["offensive"]),
            (REDACT, ScreeningStatus.HELD, ["personal_remark"]),
            (REMOVE, ScreeningStatus.HELD, ["offensive"]),
        ]
    ):
        items[text] = FeedbackFactory(
            course=course,
            module=module,
            original_text=text,
            screening=status,
            screening_reasons=reasons,
            screening_score=0.95,
            screened_with="default (test)",
        )
        Feedback.objects.filter(pk=items[text].pk).update(created_at=now - timedelta(days=3 - age))

    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/screening/screeningdecision/queue/")
    page.wait_for_function("() => window.screeningState().current !== null")
    assert page.input_value("#item-text") == OLDEST  # oldest first
    assert "held" in page.inner_text("#item-meta") and "CS101" in page.inner_text("#item-meta")
    assert "reasons: offensive" in page.inner_text("#item-screen")
    page.screenshot(path=str(ARTIFACTS / "queue-first.png"), full_page=True)

    # 1. Release the oldest (harsh but about the teaching): r
    page.keyboard.press("r")
    page.wait_for_function(
        f"() => window.screeningState().decided === 1 && window.screeningState().current === {items[REDACT].pk}"
    )
    assert page.input_value("#item-text") == REDACT

    # 2. Select "fat slob" with the keyboard and release the rest: End, Shift+Left x8, e
    page.focus("#item-text")
    page.keyboard.press("End")
    for _ in range(len("fat slob")):
        page.keyboard.press("Shift+ArrowLeft")
    page.screenshot(path=str(ARTIFACTS / "queue-selection.png"), full_page=True)
    page.keyboard.press("e")
    page.wait_for_function("() => window.screeningState().decided === 2")
    assert page.input_value("#item-text") == REMOVE

    # 3. Remove the last with a note: the screen's reason is preselected; n, type, Esc, d
    page.keyboard.press("n")
    page.keyboard.type("insult, nothing about the course")
    page.keyboard.press("Escape")
    page.keyboard.press("d")
    page.wait_for_function("() => window.screeningState().decided === 3")
    page.wait_for_selector("#queue-empty", state="visible")
    assert page.inner_text("#queue-empty h2") == "Nothing held for you to review"
    assert not page.is_visible("#item-text") and not page.is_visible("#btn-release")  # no box, no actions
    page.screenshot(path=str(ARTIFACTS / "queue-done.png"), full_page=True)

    decisions = {d.feedback_id: d for d in ScreeningDecision.objects.all()}
    assert decisions[items[OLDEST].pk].action == "release"
    redacted = decisions[items[REDACT].pk]
    assert (redacted.action, redacted.reasons) == ("release_redacted", ["personal_remark"])
    assert REDACT[redacted.span_start : redacted.span_end] == "fat slob"
    removed = decisions[items[REMOVE].pk]
    assert (removed.action, removed.reasons, removed.note) == (
        "remove",
        ["offensive"],
        "insult, nothing about the course",
    )
    assert {d.actor.username for d in decisions.values()} == {"sam"}
    assert Feedback.objects.get(pk=items[REDACT].pk).redacted_text == REDACT[: -len("fat slob")] + SCREENER_REDACTION
    statuses = dict(Feedback.objects.values_list("original_text", "screening"))
    assert statuses == {OLDEST: "released", REDACT: "released", REMOVE: "removed"}
