"""Inter-annotator agreement: Cohen's kappa (two annotators) and Krippendorff's alpha (any number).

Django-free so tests and `bench/` can use it directly. Values are label positions (ints): for ordinal
schemas their order is the scale, so disagreements between neighbours cost less than across the scale.

References: Cohen (1960, 1968, weighted kappa); Krippendorff, "Computing Krippendorff's Alpha-Reliability"
(2011) — the coincidence-matrix formulation used below, with the nominal, ordinal and interval metrics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations

NOMINAL, ORDINAL, INTERVAL = "nominal", "ordinal", "interval"


def cohen_kappa(pairs: Sequence[tuple[Hashable, Hashable]], *, weights: str | None = None,
                categories: Sequence[Hashable] | None = None) -> float | None:
    """Kappa of two annotators over items both labelled; `weights` None, "linear" or "quadratic".

    Weighted kappa needs ordered `categories` (the scale); it defaults to the sorted values seen.
    Returns None with no pairs; 1.0 when both annotators used one and the same category throughout.
    """
    if not pairs:
        return None
    cats = list(categories) if categories is not None else sorted({v for pair in pairs for v in pair})
    index = {c: i for i, c in enumerate(cats)}
    k, n = len(cats), len(pairs)
    if weights is None:
        def disagreement(i: int, j: int) -> float:
            return float(i != j)
    elif weights in ("linear", "quadratic"):
        power = 1 if weights == "linear" else 2
        span = max(k - 1, 1)

        def disagreement(i: int, j: int) -> float:
            return (abs(i - j) / span) ** power
    else:
        raise ValueError(f"unknown weights {weights!r}: use None, 'linear' or 'quadratic'")
    first, second = Counter(index[a] for a, _ in pairs), Counter(index[b] for _, b in pairs)
    observed = sum(disagreement(index[a], index[b]) for a, b in pairs) / n
    expected = sum(first[i] * second[j] * disagreement(i, j) for i in range(k) for j in range(k)) / (n * n)
    if expected == 0:
        return 1.0 if observed == 0 else 0.0
    return 1 - observed / expected


def krippendorff_alpha(units: Iterable[Sequence[Hashable]], *, level: str = NOMINAL,
                       categories: Sequence[Hashable] | None = None) -> float | None:
    """Alpha over `units`, each the values its annotators gave (missing values simply left out).

    Units with fewer than two values are not pairable and are ignored. `categories` orders the values
    for the ordinal metric (default: sorted). Returns None when nothing is pairable; 1.0 when every
    pairable value is the same.
    """
    coincidence: Counter[tuple[Hashable, Hashable]] = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for a, b in permutations(values, 2):
            coincidence[(a, b)] += 1 / (m - 1)
    if not coincidence:
        return None
    totals: Counter[Hashable] = Counter()
    for (a, _), weight in coincidence.items():
        totals[a] += weight
    n = sum(totals.values())
    cats = list(categories) if categories is not None else sorted(totals)
    delta = _metric(level, cats, totals)
    observed = sum(w * delta(a, b) for (a, b), w in coincidence.items())
    expected = sum(totals[a] * totals[b] * delta(a, b) for a in totals for b in totals) / (n - 1)
    if expected == 0:
        return 1.0
    return 1 - observed / expected


def _metric(level: str, cats: list[Hashable], totals: Mapping[Hashable, float]):  # noqa: ANN202
    if level == NOMINAL:
        return lambda a, b: float(a != b)
    if level == INTERVAL:
        return lambda a, b: (float(a) - float(b)) ** 2  # type: ignore[arg-type]
    if level == ORDINAL:
        rank = {c: i for i, c in enumerate(cats)}

        def ordinal(a: Hashable, b: Hashable) -> float:
            lo, hi = sorted((rank[a], rank[b]))
            between = sum(totals.get(cats[g], 0.0) for g in range(lo, hi + 1))
            return (between - (totals.get(a, 0.0) + totals.get(b, 0.0)) / 2) ** 2

        return ordinal
    raise ValueError(f"unknown level {level!r}: use nominal, ordinal or interval")


@dataclass(frozen=True)
class Agreement:
    """What the schema page shows: the statistic, its name, and what it was computed over."""

    statistic: str  # "cohen_kappa", "weighted_kappa", "krippendorff_alpha" or "" when not computable
    value: float | None
    annotators: int
    items: int  # items labelled by at least two annotators
    disagreements: int


def agreement(labels_by_item: Mapping[int, Mapping[Hashable, Hashable]], *, ordinal: bool = False,
              categories: Sequence[Hashable] | None = None) -> Agreement:
    """item → {annotator → value}: kappa when exactly two annotators took part, alpha otherwise."""
    shared = {item: by for item, by in labels_by_item.items() if len(by) >= 2}
    annotators = {a for by in labels_by_item.values() for a in by}
    disagreements = sum(1 for by in shared.values() if len(set(by.values())) > 1)
    if not shared:
        return Agreement("", None, len(annotators), 0, 0)
    if len(annotators) == 2:
        first, second = sorted(annotators, key=str)
        pairs = [(by[first], by[second]) for by in shared.values()]
        value = cohen_kappa(pairs, weights="quadratic" if ordinal else None, categories=categories)
        return Agreement("weighted_kappa" if ordinal else "cohen_kappa", value, 2, len(shared), disagreements)
    value = krippendorff_alpha(
        (list(by.values()) for by in shared.values()), level=ORDINAL if ordinal else NOMINAL, categories=categories
    )
    return Agreement("krippendorff_alpha", value, len(annotators), len(shared), disagreements)
