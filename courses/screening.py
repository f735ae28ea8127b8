"""Screening before staff read: the verdict each comment gets at ingest, and what course staff may see.

- `screen_text` is called by `courses.services.build_feedback`, the one place feedback is made (surveys,
  imports, API): the installed screen (classifiers.screening installs it when the app is ready; courses
  knows nothing of classifiers) gives each redacted text a verdict. Without a screen, or when the screen
  fails, the comment is stored `pending`: hidden until the sweep screens it, never shown unscreened.
- `shown_to_course_staff` is the rule of every staff-facing list of comments (admin, API, CSV, annotate
  view, report quotes): only `clear` and `released` text, and today's anonymous answers not before tomorrow
  (`visible_to_staff`). `counted_for_course_staff` is the rule of counts: everything but `removed`, so a
  held comment still counts (reports say how many await review) and nothing is silently dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db.models import QuerySet

from .models import Feedback, ScreeningStatus
from .surveys.anonymity import visible_to_staff

logger = logging.getLogger(__name__)

SHOWN = (ScreeningStatus.CLEAR, ScreeningStatus.RELEASED)
AWAITING_REVIEW = (ScreeningStatus.PENDING, ScreeningStatus.HELD, ScreeningStatus.URGENT)
# For raw SQL over courses_feedback (reports): the same sets, as SQL lists of literals.
SHOWN_SQL = "('clear', 'released')"
REMOVED = ScreeningStatus.REMOVED


@dataclass(frozen=True)
class Verdict:
    """A screen's answer for one text. `status` is clear, held, urgent, or pending (a later screen decides)."""

    status: str
    reasons: tuple[str, ...] = ()
    score: float | None = None
    screen: str = ""


Screen = Callable[[str], Verdict]
_installed: list[Screen] = []


def install_screen(screen: Screen | None) -> None:
    """Make `screen` the one every new comment goes through (None: none, comments wait as `pending`)."""
    _installed[:] = [screen] if screen is not None else []


def screen_text(text: str) -> Verdict:
    """The installed screen's verdict on `text`; `pending` without a screen or when it fails (the comment is
    stored and hidden, the failure logged, and the sweep screens it again: a student's answer is never lost
    to a screening error)."""
    if not _installed:
        return Verdict(ScreeningStatus.PENDING)
    try:
        return _installed[0](text)
    except Exception:  # any screen failure: store the comment hidden, with the error in the log
        logger.exception("screening failed at ingest; the comment waits, hidden, for the sweep")
        return Verdict(ScreeningStatus.PENDING)


def apply_verdict(feedback: Feedback, verdict: Verdict) -> Feedback:
    feedback.screening = verdict.status
    feedback.screening_reasons = list(verdict.reasons)
    feedback.screening_score = verdict.score
    feedback.screened_with = verdict.screen[:128]
    return feedback


def _status(via: str) -> str:
    return f"{via}__screening" if via else "screening"


def shown_to_course_staff(rows: QuerySet, *, via: str = "") -> QuerySet:
    """`rows` whose text course staff may read: screened clear or released by a screener.

    `rows` is a queryset of Feedback (today's anonymous answers are left out too, `visible_to_staff`), or of
    rows pointing at one through `via` (e.g. "feedback" for annotations and predictions: those carry their own
    times, made by staff or a model, and keep the lists' own anonymity rules). Every staff-facing place that
    shows comment text, or names a comment, goes through this.
    """
    if via:
        return rows.filter(**{f"{_status(via)}__in": SHOWN})
    return visible_to_staff(rows).filter(screening__in=SHOWN)


def counted_for_course_staff(rows: QuerySet) -> QuerySet:
    """Feedback `rows` that count in staff-facing numbers: all but removed ones (held ones count until a
    screener decides), today's anonymous answers not before tomorrow."""
    return visible_to_staff(rows).exclude(screening=REMOVED)


def awaiting_review(rows: QuerySet) -> QuerySet:
    """Feedback `rows` counted but not shown: pending screening, or held for a screener."""
    return visible_to_staff(rows).filter(screening__in=AWAITING_REVIEW)


def text_for_course_staff(feedback: Feedback) -> str:
    """A comment's text where one item is shown on its own (a survey response's answers): the redacted text
    when screening let it through, else what became of it, never the text."""
    if feedback.screening in SHOWN:
        return feedback.redacted_text
    if feedback.screening == REMOVED:
        return "(removed by a screener)"
    return "(held for screening: a screener decides whether it is shown)"


def ids_screened(feedback_ids: Sequence[int], feedback: Sequence[Feedback], status: str) -> list[int]:
    """The ids (parallel to `feedback`) of the comments the ingest screen gave `status` (urgent, pending)."""
    return [pk for pk, item in zip(feedback_ids, feedback, strict=True) if item.screening == status]
