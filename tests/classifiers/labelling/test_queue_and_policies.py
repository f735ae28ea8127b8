"""Queue orders (uncertainty-first against known scores) and the training-label policies."""

from datetime import timedelta

import pytest
from django.utils import timezone

from classifiers.labelling.ordering import RANDOM, UNCERTAIN, annotation_queue, margin
from classifiers.labelling.progress import disagreeing_feedback_ids, schema_agreement, schema_progress
from classifiers.labelling.services import AnnotationRejected, record_annotation, settle_disagreement
from classifiers.models import TrainingPolicy
from classifiers.selectors import training_labels
from eduplatform.errors import PermissionRefused
from tests.factories import (
    FeedbackFactory,
    ModelVersionFactory,
    ModuleFactory,
    PredictionFactory,
    annotator_of,
)

pytestmark = pytest.mark.django_db


def _label(schema, name):
    return schema.labels.get(name=name)


def test_margin_is_top_two_difference():
    assert margin({"negative": 0.5, "neutral": 0.3, "positive": 0.2}) == pytest.approx(0.2)
    assert margin({"a": 0.9, "b": 0.2}, multi=True) == pytest.approx(0.6)  # |0.2 - 0.5| * 2 is the least sure


def test_uncertainty_first_picks_lowest_margin_and_unpredicted_last(course, sentiment, annotator):
    version = ModelVersionFactory(schema=sentiment, is_active=True)
    sure = FeedbackFactory(course=course)
    torn = FeedbackFactory(course=course)
    middle = FeedbackFactory(course=course)
    unpredicted = FeedbackFactory(course=course)
    PredictionFactory(model_version=version, feedback=sure,
                      scores={"negative": 0.02, "neutral": 0.03, "positive": 0.95})   # margin 0.92
    PredictionFactory(model_version=version, feedback=torn,
                      scores={"negative": 0.40, "neutral": 0.38, "positive": 0.22})   # margin 0.02
    PredictionFactory(model_version=version, feedback=middle,
                      scores={"negative": 0.6, "neutral": 0.3, "positive": 0.1})    # margin 0.30
    queue = annotation_queue(sentiment, course=course, user=annotator, order=UNCERTAIN, limit=10)
    assert [fb.pk for fb in queue] == [torn.pk, middle.pk, sure.pk, unpredicted.pk]


def test_queue_skips_items_this_annotator_labelled_but_not_others(course, sentiment, annotator):
    mine, theirs, fresh = (FeedbackFactory(course=course, submitted_at=timezone.now() - timedelta(hours=h))
                           for h in (1, 2, 3))
    record_annotation(mine, sentiment, [_label(sentiment, "positive")], actor=annotator)
    record_annotation(theirs, sentiment, [_label(sentiment, "positive")], actor=annotator_of(course))
    for order in ("newest", RANDOM, UNCERTAIN):
        got = [fb.pk for fb in annotation_queue(sentiment, course=course, user=annotator, order=order)]
        assert sorted(got) == sorted([theirs.pk, fresh.pk]), order
    newest = annotation_queue(sentiment, course=course, user=annotator, exclude=[theirs.pk])
    assert [fb.pk for fb in newest] == [fresh.pk]


def test_random_order_is_stable_per_annotator_and_covers_everything(course, sentiment, annotator):
    items = {FeedbackFactory(course=course).pk for _ in range(30)}
    first = [fb.pk for fb in annotation_queue(sentiment, course=course, user=annotator, order=RANDOM, limit=30)]
    again = [fb.pk for fb in annotation_queue(sentiment, course=course, user=annotator, order=RANDOM, limit=30)]
    assert first == again and set(first) == items
    assert first != sorted(first, reverse=True)


def test_balanced_queue_alternates_modules(course, sentiment, annotator):
    week1, week2 = ModuleFactory(course=course, title="Week 1"), ModuleFactory(course=course, title="Week 2")
    now = timezone.now()
    for i in range(6):  # week 1 has the six newest items
        FeedbackFactory(course=course, module=week1, submitted_at=now - timedelta(minutes=i))
    for i in range(3):
        FeedbackFactory(course=course, module=week2, submitted_at=now - timedelta(days=1, minutes=i))
    plain = annotation_queue(sentiment, course=course, user=annotator, limit=4)
    balanced = annotation_queue(sentiment, course=course, user=annotator, balance_modules=True, limit=4)
    assert [fb.module.title for fb in plain] == ["Week 1"] * 4
    assert [fb.module.title for fb in balanced] == ["Week 1", "Week 2", "Week 1", "Week 2"]


def _three_votes(course, schema, names):
    fb = FeedbackFactory(course=course)
    users = [annotator_of(course, f"u{i}") for i in range(len(names))]
    for user, name in zip(users, names, strict=True):
        record_annotation(fb, schema, [_label(schema, name)], actor=user)
    return fb, users


def test_majority_policy_takes_the_majority_and_leaves_ties_out(course, sentiment):
    sentiment.training_policy = TrainingPolicy.MAJORITY
    sentiment.save()
    clear, _ = _three_votes(course, sentiment, ["positive", "negative", "positive"])
    tie = FeedbackFactory(course=course)
    record_annotation(tie, sentiment, [_label(sentiment, "positive")], actor=annotator_of(course, "a1"))
    record_annotation(tie, sentiment, [_label(sentiment, "negative")], actor=annotator_of(course, "a2"))
    assert training_labels(sentiment, course=course) == {clear.pk: ["positive"]}


def test_reviewer_policy_settled_label_wins(course, sentiment, instructor, teaching_assistant):
    fb, users = _three_votes(course, sentiment, ["positive", "positive", "negative"])
    sentiment.training_policy, sentiment.reviewer = TrainingPolicy.REVIEWER, instructor
    sentiment.save()
    assert disagreeing_feedback_ids(sentiment, course=course) == [fb.pk]
    assert training_labels(sentiment, course=course) == {fb.pk: ["positive"]}  # majority until settled
    with pytest.raises(AnnotationRejected, match="only the reviewer"):  # may settle, but is not the reviewer
        settle_disagreement(fb, sentiment, [_label(sentiment, "neutral")], actor=teaching_assistant)
    with pytest.raises(PermissionRefused, match="anna|u0 may not settle"):  # an annotator may not settle at all
        settle_disagreement(fb, sentiment, [_label(sentiment, "neutral")], actor=users[0])
    settle_disagreement(fb, sentiment, [_label(sentiment, "negative")], actor=instructor)
    assert training_labels(sentiment, course=course) == {fb.pk: ["negative"]}
    assert disagreeing_feedback_ids(sentiment, course=course) == []


def test_latest_policy_is_the_most_recent_annotation(course, sentiment):
    fb, _ = _three_votes(course, sentiment, ["positive", "positive", "negative"])
    assert training_labels(sentiment, course=course) == {fb.pk: ["negative"]}


def test_progress_counts_per_label_annotator_and_since_active_model(course, sentiment, annotator):
    old = FeedbackFactory(course=course)
    record_annotation(old, sentiment, [_label(sentiment, "positive")], actor=annotator)
    ModelVersionFactory(schema=sentiment, is_active=True)
    for _ in range(2):
        record_annotation(FeedbackFactory(course=course), sentiment, [_label(sentiment, "negative")], actor=annotator)
    progress = schema_progress(sentiment, course=course)
    assert (progress.items, progress.labelled, progress.since_active_model) == (3, 3, 2)
    assert [(n, c) for n, _, c in progress.per_label] == [("negative", 2), ("positive", 1)]
    assert progress.per_annotator == [("anna", 3)]


def test_schema_agreement_is_kappa_for_two_annotators(course, sentiment, annotator, instructor):
    pairs = [("positive", "positive"), ("negative", "negative"), ("positive", "negative"), ("neutral", "neutral")]
    for a, b in pairs:
        fb = FeedbackFactory(course=course)
        record_annotation(fb, sentiment, [_label(sentiment, a)], actor=annotator)
        record_annotation(fb, sentiment, [_label(sentiment, b)], actor=instructor)
    result = schema_agreement(sentiment, course=course)
    # p_o = 3/4; marginals anna (pos 2, neg 1, neu 1), ines (pos 1, neg 2, neu 1): p_e = (2+2+1)/16
    assert result.statistic == "cohen_kappa"
    assert result.value == pytest.approx((0.75 - 5 / 16) / (1 - 5 / 16))
    assert result.disagreements == 1


def test_reviewer_policy_without_a_reviewer_is_refused(sentiment):
    from django.core.exceptions import ValidationError

    sentiment.training_policy = TrainingPolicy.REVIEWER
    with pytest.raises(ValidationError, match="needs a reviewer"):
        sentiment.full_clean()
