"""Staff edits a recomputation keeps (Django-free): themes staff merged stay one theme, a theme staff split off
keeps its comments and its id. Applied to a fresh clustering before keywords and matching
(classifiers.themes.services.recompute_themes), and only for courses with such edits.

Both rules read where each comment was before the recomputation (`former`: theme id or -1). A staff merge
moves the merged themes' comments into the kept theme and a split moves the chosen comments into the new
theme, so "where the comments were" is what staff decided:
- merge: the new themes made mostly of one merge-kept theme's former comments are joined back into one, and
  it keeps that theme's id whatever the similarity of centres;
- split: when the comments of a split-off theme land in a theme made mostly of other comments, they are taken
  back out, together with the new comments closer to the split-off theme's centre than to that theme's; the
  result keeps the split-off theme's id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from classifiers.ml.themes import OTHER, Clustering

MAJORITY = 0.5  # a new theme "is" an old one when at least this share of its formerly themed comments were in it


@dataclass(frozen=True)
class StaffEdits:
    merge_kept: frozenset[int] = frozenset()  # ids of themes staff merged others into (still active)
    # id of a theme staff split off (still active) → its centre (unit float32)
    split_off: dict[int, np.ndarray] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.merge_kept or self.split_off)


def _majority(former: np.ndarray) -> int | None:
    themed = former[former >= 0]
    if not len(themed):
        return None
    values, counts = np.unique(themed, return_counts=True)
    top = int(counts.argmax())
    return int(values[top]) if counts[top] >= MAJORITY * len(themed) else None


def keep_staff_edits(
    vectors: np.ndarray, found: Clustering, former: np.ndarray, edits: StaffEdits
) -> tuple[Clustering, dict[int, int]]:
    """`found` with staff merges joined and split-off themes carved out again, renumbered by size; and the
    theme index → theme id pairs those rules decided (they keep that id, whatever the centres' match)."""
    labels = found.labels.copy()
    k = len(found.sizes)
    by_cluster = {i: _majority(former[labels == i]) for i in range(k)}
    forced: dict[int, int] = {}
    joined = np.arange(k)  # old index → index after joining
    for theme_id in sorted(edits.merge_kept):
        parts = [i for i in range(k) if by_cluster[i] == theme_id]
        if not parts:
            continue
        for part in parts[1:]:
            labels[labels == part] = parts[0]
            joined[part] = parts[0]
        forced[parts[0]] = theme_id
    centroids = _centroids(vectors, labels, k)
    next_index = k
    for theme_id, centre in sorted(edits.split_off.items()):
        mine = former == theme_id
        if not mine.any():
            continue
        values, counts = np.unique(labels[mine], return_counts=True)
        home = int(values[counts.argmax()])
        if home >= 0 and _majority(former[labels == home]) == theme_id:
            forced = {i: t for i, t in forced.items() if t != theme_id}
            forced[home] = theme_id
            continue
        carve = mine & (labels == home)
        if home >= 0:  # new comments of that theme closer to the split-off centre come along
            newcomers = (labels == home) & (former < 0)
            closer = vectors @ np.asarray(centre, dtype=np.float32) > vectors @ centroids[home]
            carve |= newcomers & closer
        labels[carve] = next_index
        forced = {i: t for i, t in forced.items() if t != theme_id}
        forced[next_index] = theme_id
        next_index += 1
    return _renumber(vectors, labels, found, joined, forced)


def _centroids(vectors: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Unit mean of each theme's rows (a sparse product: np.add.at takes seconds at 100,000 rows)."""
    from scipy.sparse import csr_matrix

    rows = np.flatnonzero(labels >= 0)
    members = csr_matrix((np.ones(len(rows)), (labels[rows], rows)), shape=(k, len(vectors)))
    sums = np.asarray(members @ vectors.astype(np.float64))
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.maximum(norms, 1e-12)).astype(np.float32)


def _renumber(
    vectors: np.ndarray, labels: np.ndarray, found: Clustering, joined: np.ndarray, forced: dict[int, int]
) -> tuple[Clustering, dict[int, int]]:
    """Themes numbered by size again (empty ones dropped), centres and similarities of the new grouping."""
    total = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    sizes = np.bincount(labels[labels >= 0], minlength=total)
    order = [i for i in np.argsort(-sizes, kind="stable") if sizes[i]]
    renumber = np.full(max(total, 1), OTHER, dtype=np.int64)
    renumber[order] = np.arange(len(order))
    labels = np.where(labels >= 0, renumber[np.maximum(labels, 0)], OTHER)
    centroids = _centroids(vectors, labels, len(order))
    similarity = np.where(labels >= 0, (vectors * centroids[np.maximum(labels, 0)]).sum(axis=1), 0.0)
    micro = found.micro_themes
    if micro is not None:
        micro = np.where(micro >= 0, renumber[joined[np.maximum(micro, 0)]], OTHER)
    forced = {int(renumber[i]): t for i, t in forced.items() if renumber[i] >= 0}
    clustering = Clustering(
        labels,
        centroids,
        similarity.astype(np.float32),
        np.bincount(labels[labels >= 0], minlength=len(order)).tolist(),
        found.micro_centroids,
        micro,
    )
    return clustering, forced
