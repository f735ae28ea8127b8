"""classifiers.ml.theme_edits without Django: staff merges joined back, split-off themes carved out again."""

from __future__ import annotations

import numpy as np

from classifiers.ml.theme_edits import StaffEdits, keep_staff_edits
from classifiers.ml.themes import clean_text, cluster, keywords, tokens

DIM = 64


def _groups(sizes: list[int], *, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(len(sizes), DIM))
    rows, truth = [], []
    for g, n in enumerate(sizes):
        rows.append(directions[g] / np.linalg.norm(directions[g]) + 0.25 * rng.normal(size=(n, DIM)) / np.sqrt(DIM))
        truth += [g] * n
    vectors = np.vstack(rows)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32), np.array(truth)


def test_themes_staff_merged_are_joined_back_under_the_kept_id():
    vectors, truth = _groups([50, 30, 20])
    found = cluster(vectors)
    assert len(found.sizes) == 3
    former = np.where(truth < 2, 7, 9)[: len(truth)]  # groups 0 and 1 were merged by staff into theme 7
    former[-5:] = -1  # five new comments
    kept, forced = keep_staff_edits(vectors, found, former, StaffEdits(merge_kept=frozenset({7})))
    assert kept.sizes == [80, 20] and forced == {0: 7}
    assert set(kept.labels[truth < 2]) == {0} and set(kept.labels[truth == 2]) == {1}
    assert np.allclose(np.linalg.norm(kept.centroids, axis=1), 1, atol=1e-5)
    assert kept.micro_themes is not None and set(kept.micro_themes.tolist()) <= {-1, 0, 1}


def test_a_split_off_theme_swallowed_by_its_parent_is_carved_out_again():
    vectors, truth = _groups([60, 30])
    found = cluster(vectors)
    former = np.where(truth == 0, 3, 4)
    former[:12] = 5  # staff split 12 comments of theme 3 off into theme 5
    centre = vectors[:12].mean(axis=0)
    edits = StaffEdits(split_off={5: (centre / np.linalg.norm(centre)).astype(np.float32)})
    kept, forced = keep_staff_edits(vectors, found, former, edits)
    assert sorted(kept.sizes) == [12, 30, 48]
    split = next(i for i, t in forced.items() if t == 5)
    assert set(np.flatnonzero(kept.labels == split)) == set(range(12))


def test_nothing_changes_without_edits_that_apply():
    vectors, truth = _groups([40, 30])
    found = cluster(vectors)
    kept, forced = keep_staff_edits(vectors, found, np.full(len(truth), -1), StaffEdits(merge_kept=frozenset({1})))
    assert forced == {} and kept.sizes == found.sizes and (kept.labels == found.labels).all()


def test_a_negation_stays_with_the_word_it_negates():
    assert tokens(clean_text("the questions didn't match"), frozenset({"the"})) == [
        "the",
        "questions",
        "did",
        "not match",
    ]
    assert tokens("not the best, never again", frozenset({"the"})) == ["not best", "never again"]
    texts = ["Exam questions did not match the lectures"] * 6 + ["Lab tutors were helpful"] * 6
    words = keywords(texts, np.array([0] * 6 + [1] * 6))
    assert any("not match" in w for w in words[0])
    assert all("match" not in w or "not match" in w for w in words[0])
