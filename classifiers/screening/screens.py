"""The screens: the default one (offensive-language model + patterns) at ingest, and the trained one (the
screening schema's active model) through classification.

`ingest_screen` runs inside survey submissions and imports, so it reads the policy from a per-process copy
(SCREENING_POLICY_CACHE_S) instead of the database, and its model is evaluated in microseconds
(classifiers.ml.screening.ProfanityScorer). When a trained screen serves, ingest applies the patterns only
and leaves the rest `pending` for the trained screen (classifiers.screening.services.screen_pending).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

from django.conf import settings

from classifiers.ml.screening import (
    CLEAR,
    RULES_VERSION,
    Screening,
    profanity_model_version,
    profanity_scorer,
    rule_reasons,
    screen_text,
    trained_verdict,
)
from classifiers.models import ModelVersion, Prediction
from classifiers.screening.models import ScreeningPolicy
from courses.models import ScreeningStatus
from courses.screening import Verdict


@cache
def default_screen_name() -> str:
    return f"default ({profanity_model_version()}, rules {RULES_VERSION})"


def trained_screen_name(version: ModelVersion) -> str:
    return f"{version.schema.name} v{version.number} (rules {RULES_VERSION})"


@dataclass(frozen=True)
class PolicySnapshot:
    """What a screen needs of the policy, read once per SCREENING_POLICY_CACHE_S per process."""

    hold_threshold: float
    trained_threshold: float
    trained_version_id: int | None  # the screening schema's active version, when it decides


_snapshot: list[tuple[float, PolicySnapshot]] = []


def policy_snapshot() -> PolicySnapshot:
    if _snapshot and _snapshot[0][0] > time.monotonic():
        return _snapshot[0][1]
    # Read only (one query, two with a trained screen): the row is made by whoever first needs it to exist.
    policy = ScreeningPolicy.objects.filter(pk=1).first()
    if policy is None:
        fields = ScreeningPolicy._meta
        snapshot = PolicySnapshot(fields.get_field("hold_threshold").default,
                                  fields.get_field("trained_threshold").default, None)
    else:
        version = None
        if policy.use_trained_screen:
            version = (ModelVersion.objects.filter(schema_id=policy.schema_id, course__isnull=True, is_active=True)
                       .only("pk").first())
        snapshot = PolicySnapshot(policy.hold_threshold, policy.trained_threshold, version.pk if version else None)
    _snapshot[:] = [(time.monotonic() + settings.SCREENING_POLICY_CACHE_S, snapshot)]
    return snapshot


def forget_policy() -> None:
    """Read the policy again on next use (after a change in this process)."""
    _snapshot.clear()


def as_verdict(result: Screening, screen: str) -> Verdict:
    return Verdict(result.verdict, result.reasons, result.score, screen)


def ingest_screen(text: str) -> Verdict:
    """The verdict at ingest: held or urgent at once when a pattern or the model says so, else clear; with a
    trained screen serving, `pending` until it has read the comment."""
    policy = policy_snapshot()
    trained = policy.trained_version_id is not None
    result = screen_text(text, hold_threshold=policy.hold_threshold, use_model=not trained)
    if trained and result.verdict == CLEAR:
        return Verdict(ScreeningStatus.PENDING, screen="waiting for the trained screen")
    name = f"rules {RULES_VERSION}" if trained else default_screen_name()
    return as_verdict(result, name)


def default_verdict(text: str, *, hold_threshold: float) -> Verdict:
    return as_verdict(screen_text(text, hold_threshold=hold_threshold), default_screen_name())


def verdicts_from_predictions(version: ModelVersion, texts: dict[int, str], *,
                              threshold: float) -> dict[int, Verdict]:
    """feedback id → the trained screen's verdict, for those of `texts` the version has classified (items it
    skipped, having no text, are clear)."""
    name = trained_screen_name(version)
    found = dict(Prediction.objects.filter(model_version=version, feedback_id__in=list(texts))
                 .values_list("feedback_id", "scores"))
    skipped = set(version.skips.filter(feedback_id__in=list(texts)).values_list("feedback_id", flat=True))
    verdicts = {}
    for pk, text in texts.items():
        if pk in found:
            verdicts[pk] = as_verdict(trained_verdict(found[pk], threshold=threshold, rules=rule_reasons(text)), name)
        elif pk in skipped:
            verdicts[pk] = Verdict(ScreeningStatus.CLEAR, screen=name)
    return verdicts


def warm_up() -> None:
    """Load the offensive-language model now rather than in a student's first submission."""
    profanity_scorer()
