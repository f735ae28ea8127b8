"""Data for screening tests: a course whose report would quote hidden comments if they were shown."""

from __future__ import annotations

from courses.models import Course, Feedback, ScreeningStatus
from tests.classifiers.reports.report_data import add_feedback, version
from tests.factories import ModuleFactory

HELD_TEXT = "HELD-SECRET the lecturer is an idiot and so ugly"
URGENT_TEXT = "URGENT-SECRET I want to die, I can't go on with this term"
REMOVED_TEXT = "REMOVED-SECRET abuse nobody should read"
PENDING_TEXT = "PENDING-SECRET not screened yet"
SECRETS = ("HELD-SECRET", "URGENT-SECRET", "REMOVED-SECRET", "PENDING-SECRET")


def build_held_course(course: Course) -> dict[str, Feedback]:
    """Module "Week 1" with 12 clear comments (6 negative, 6 positive, model confidence 0.6) and one comment of
    each hidden status, each predicted negative with confidence 0.99: the top quotes, were they shown.
    Returns {status: Feedback}."""
    model = version(course)
    module = ModuleFactory(course=course, title="Week 1")
    add_feedback(course, module, ["negative"] * 6 + ["positive"] * 6, model=model, confidence=0.6,
                 text="ordinary comment")
    items = {}
    for status, text in ((ScreeningStatus.HELD, HELD_TEXT), (ScreeningStatus.URGENT, URGENT_TEXT),
                         (ScreeningStatus.REMOVED, REMOVED_TEXT), (ScreeningStatus.PENDING, PENDING_TEXT)):
        (item,) = add_feedback(course, module, ["negative"], model=model, confidence=0.99, text=text,
                               screening=status)
        Feedback.objects.filter(pk=item.pk).update(screening_reasons=["offensive"], screened_with="test screen")
        item.refresh_from_db()
        items[status] = item
    return items
