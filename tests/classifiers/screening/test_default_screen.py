"""The default screen (classifiers.ml.screening): the shipped offensive-language model evaluated from its
weights, the patterns, the verdicts, and what it costs a survey submission."""

from __future__ import annotations

import time

import numpy as np
import pytest

from classifiers.ml import screening
from classifiers.ml.screening import (
    CLEAR,
    DISTRESS,
    HELD,
    OFFENSIVE,
    PERSONAL,
    THREAT,
    URGENT,
    arrays_path,
    profanity_scorer,
    rule_reasons,
    screen_text,
    shipped_scorer,
    trained_verdict,
    use_arrays_from,
)

ORDINARY = [
    "The labs were well organised and the slides helped a lot.",
    "Too much homework in week 5; the deadlines overlapped with other courses.",
    "She is pretty helpful in office hours, and he was pretty fair with the marking.",
    "He had a huge smile on his face every lecture, great energy.",
    "This exam killed me, but I learned a lot.",
    "The lecture on suicide prevention in the public health module was excellent.",
    "",
]


SCORED = [*ORDINARY, "you are an idiot", "what the hell is this crap", "fuck this course", "ok 😀 ✓ ünïcode",
          "YOU ARE AN IDIOT!!! the the and of", "Idiot-idiot_idiot 42 a i x"]


def test_fast_scorer_gives_the_shipped_models_probability():
    from profanity_check import predict_prob

    fast = np.array([shipped_scorer().score(t) for t in SCORED])
    assert np.allclose(fast, predict_prob(SCORED), atol=1e-12, rtol=0)


def test_scorer_from_plain_arrays_written_by_a_subprocess_gives_the_same_probability(tmp_path):
    from profanity_check import predict_prob

    configured = list(screening._arrays_dir)  # the app's (ready()): restored afterwards
    use_arrays_from(tmp_path)
    try:
        scorer = profanity_scorer()
        assert arrays_path(tmp_path).exists()  # written by `python -m classifiers.ml.screening PATH`
    finally:
        use_arrays_from(configured[0] if configured else None)
    fast = np.array([scorer.score(t) for t in SCORED])
    assert np.allclose(fast, predict_prob(SCORED), atol=1e-12, rtol=0)
    with np.load(arrays_path(tmp_path), allow_pickle=False) as arrays:  # plain arrays: no pickled objects
        assert arrays["weights"].shape == (len(scorer.intercepts), len(scorer.vocabulary))


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_course_feedback_is_clear(text):
    assert screen_text(text).verdict == CLEAR


@pytest.mark.parametrize(("text", "reason"), [
    ("Easy class but the guy is a complete ass.", OFFENSIVE),
    ("She is so hot, I can't concentrate in her lectures", PERSONAL),
    ("Nobody listens because of her outfits", PERSONAL),
    ("Women shouldn't teach engineering", PERSONAL),
    ("He should go back to his country", PERSONAL),
    ("If I fail I will find the lecturer after class", THREAT),
    ("The professor deserves to be shot", THREAT),
    ("Watch your back, Dr. Smith", THREAT),
])
def test_abuse_remarks_and_threats_are_held_with_their_reason(text, reason):
    result = screen_text(text)
    assert result.verdict == HELD and reason in result.reasons


@pytest.mark.parametrize("text", [
    "Honestly I want to die, I can't cope with this course and everything else",
    "I have been thinking about suicide since the exams started",
    "I keep hurting myself when the deadlines pile up",
    "lost all will to live this semester",
])
def test_a_student_who_may_be_at_risk_is_urgent(text):
    result = screen_text(text)
    assert result.verdict == URGENT and DISTRESS in result.reasons


def test_threshold_decides_the_models_holds():
    text = "Boring like hell, the class was a waste of time too"
    score = screen_text(text).score
    assert 0.5 < score < 0.99
    assert screen_text(text, hold_threshold=score).verdict == HELD
    assert screen_text(text, hold_threshold=score + 1e-6).verdict == CLEAR


def test_without_the_model_only_patterns_hold_and_there_is_no_score():
    assert screen_text("complete idiot, but an easy A", use_model=False) == screen_text("", use_model=False)
    assert screen_text("complete idiot, but an easy A", use_model=False).score is None
    assert rule_reasons("watch your back") == [THREAT]


def test_a_trained_screen_never_overrules_a_pattern():
    clear_scores = {"acceptable": 0.99, OFFENSIVE: 0.01, PERSONAL: 0.0, THREAT: 0.0, DISTRESS: 0.0}
    assert trained_verdict(clear_scores, threshold=0.5, rules=[]).verdict == CLEAR
    assert trained_verdict(clear_scores, threshold=0.5, rules=[DISTRESS]).verdict == URGENT
    held = trained_verdict({**clear_scores, OFFENSIVE: 0.7}, threshold=0.5, rules=[])
    assert (held.verdict, held.reasons, held.score) == (HELD, (OFFENSIVE,), 0.7)


def test_screening_costs_well_under_five_milliseconds_a_comment_at_p95():
    screen_text("warm up")
    texts = [f"{t} ({i})" for i in range(60) for t in ORDINARY[:-1]] + ["x " * 2000]  # one 4,000-char text
    took = []
    for text in texts:
        started = time.perf_counter()
        screen_text(text)
        took.append(time.perf_counter() - started)
    assert np.percentile(took, 95) < 0.005
