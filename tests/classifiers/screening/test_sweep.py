"""Comments left pending (written before screening existed, or when the screen failed) are screened by the
sweep in batches that each commit on their own: a crash loses at most the batch in hand, which stays pending
and hidden, and the next pass finishes the work. Nothing unscreened reaches a report."""

from __future__ import annotations

import pytest

from classifiers.reports.selectors import module_report
from classifiers.screening import services
from classifiers.screening.models import UrgentNotification
from classifiers.screening.services import screen_pending
from classifiers.tasks import screen_pending_task
from courses.models import Feedback, ScreeningStatus
from tests.classifiers.reports.report_data import add_feedback, version
from tests.factories import ModuleFactory
from tests.support import drop_task_messages, queued_task_messages

pytestmark = pytest.mark.django_db

TEXTS = ["Great pacing", "Complete idiot, but an easy A", "More worked examples please",
         "I keep hurting myself when the deadlines pile up", "Labs were fun", "Clear slides", "Fair exam"]


@pytest.fixture
def pending(course):
    model = version(course)
    module = ModuleFactory(course=course, title="Week 1")
    items = []
    for text in TEXTS:
        items += add_feedback(course, module, ["negative"], model=model, confidence=0.99, text=text,
                              screening=ScreeningStatus.PENDING)
    return items


def test_a_crash_mid_sweep_leaves_the_batch_pending_and_hidden_and_the_next_pass_finishes(
    course, sentiment, pending, monkeypatch, django_capture_on_commit_callbacks
):
    first = screen_pending(limit=3)
    assert first.screened == 3 and Feedback.objects.filter(screening="pending").count() == 4

    def crash(verdicts):  # noqa: ANN001, ANN202 - the worker dies while storing the second batch
        raise SystemExit("worker killed")

    monkeypatch.setattr(services, "_store_verdicts", crash)
    with pytest.raises(SystemExit):
        screen_pending(limit=3)
    monkeypatch.undo()
    assert Feedback.objects.filter(screening="pending").count() == 4  # nothing half-done
    report = module_report(course, sentiment)
    quoted = {c.text for comments in report.modules[0].comments.values() for c in comments}
    pending_texts = set(Feedback.objects.filter(screening="pending").values_list("redacted_text", flat=True))
    assert quoted.isdisjoint(pending_texts) and report.total_responses == len(TEXTS)

    with django_capture_on_commit_callbacks(execute=True):
        rest = screen_pending(limit=10)
    assert rest.screened == 4 and not Feedback.objects.filter(screening="pending").exists()
    verdicts = dict(Feedback.objects.values_list("redacted_text", "screening"))
    assert verdicts["Complete idiot, but an easy A 0"] == "held"
    assert verdicts["I keep hurting myself when the deadlines pile up 0"] == "urgent"
    assert sum(v == "clear" for v in verdicts.values()) == 5
    assert UrgentNotification.objects.get().feedback.redacted_text.startswith("I keep hurting myself")
    drop_task_messages("default", queued_task_messages("default", "send_urgent_notification_task"))


def test_two_passes_never_decide_a_comment_twice(pending):
    verdicts = {item.pk: services.default_verdict(item.redacted_text, hold_threshold=0.9) for item in pending}
    assert len(services._store_verdicts(verdicts)) == len(TEXTS)
    assert services._store_verdicts(verdicts) == []


def test_a_full_batch_queues_the_next_one(pending, settings):
    settings.SCREENING_BATCH_SIZE = 3
    assert screen_pending_task.apply().get() == 3
    queued = queued_task_messages("inference", "screen_pending_task")
    assert len(queued) == 1
    drop_task_messages("inference", queued)
