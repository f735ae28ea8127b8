"""classifiers.ml.themes without Django: clustering with "other", c-TF-IDF keywords and names, matching."""

from __future__ import annotations

import numpy as np

from classifiers.ml.themes import ThemeParams, cluster, keywords, match_themes, theme_name

DIM = 64


def _groups(sizes: list[int], *, noise: float = 0.25, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around one random direction per group; the group of each row."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(len(sizes), DIM))
    rows, truth = [], []
    for g, n in enumerate(sizes):
        rows.append(directions[g] / np.linalg.norm(directions[g]) + noise * rng.normal(size=(n, DIM)) / np.sqrt(DIM))
        truth += [g] * n
    vectors = np.vstack(rows)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32), np.array(truth)


def test_separated_groups_become_one_theme_each_largest_first():
    vectors, truth = _groups([60, 40, 25])
    found = cluster(vectors)
    assert found.sizes == [60, 40, 25]
    for g in range(3):
        assert set(found.labels[truth == g]) == {g}
    assert np.allclose(np.linalg.norm(found.centroids, axis=1), 1, atol=1e-5)


def test_the_same_vectors_give_the_same_themes():
    vectors, _ = _groups([50, 50, 30])
    first, second = cluster(vectors), cluster(vectors.copy())
    assert (first.labels == second.labels).all()
    assert np.array_equal(first.centroids, second.centroids)


def test_comments_that_fit_no_theme_are_other_never_forced_into_one():
    vectors, truth = _groups([60, 40])
    rng = np.random.default_rng(7)
    strays = rng.normal(size=(3, DIM))
    strays /= np.linalg.norm(strays, axis=1, keepdims=True)
    found = cluster(np.vstack([vectors, strays.astype(np.float32)]))
    assert (found.labels[-3:] == -1).all()
    assert (found.similarity[-3:] == 0).all()
    assert found.sizes == [60, 40]


def test_a_group_smaller_than_the_minimum_is_other():
    vectors, truth = _groups([60, 40, 4])
    assert ThemeParams(min_size=10).effective_min_size(104) == 5  # small courses: 1/20 of the comments
    found = cluster(vectors, ThemeParams(min_size=10))
    assert (found.labels[truth == 2] == -1).all()
    assert len(found.sizes) == 2


def test_comments_of_a_group_too_small_for_a_theme_join_the_theme_they_fit_rather_than_other():
    vectors, truth = _groups([60, 40], seed=2)
    a = vectors[truth == 0].mean(axis=0)
    a /= np.linalg.norm(a)
    side = np.random.default_rng(3).normal(size=DIM)
    side -= (side @ a) * a
    side /= np.linalg.norm(side)
    near = 0.45 * a + 0.893 * side  # cosine 0.45 to the first theme: too far to merge with it, close enough to fit
    rows = near + 0.1 * np.random.default_rng(4).normal(size=(4, DIM)) / np.sqrt(DIM)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    found = cluster(np.vstack([vectors, rows.astype(np.float32)]), ThemeParams(min_size=10))
    assert set(found.labels[-4:]) == {found.labels[0]}  # was "other": 4 comments are too few for a theme of 5
    assert found.sizes == [64, 40]


def test_a_comment_takes_the_theme_of_its_nearest_neighbours_not_of_the_nearest_k_means_centre():
    from classifiers.ml.themes import _neighbour_vote

    vectors, truth = _groups([30, 30], seed=6)
    labels = truth.copy()
    labels[:3] = 1  # three comments of the first group on the wrong side of a straight border
    voted = _neighbour_vote(vectors, labels, np.zeros(60, dtype=np.int64), np.arange(60), neighbours=10, rounds=2)
    assert (voted == truth).all()
    # Outside the k-means sample a comment follows the sample's comments of its micro-cluster and theme.
    sample = np.arange(0, 60, 2)
    voted = _neighbour_vote(vectors, labels, truth, sample, neighbours=5, rounds=2)
    assert (voted == truth).all()


def test_a_large_set_is_fitted_on_a_sample_and_still_assigns_every_comment():
    vectors, truth = _groups([3000, 2000, 1000], seed=3)
    found = cluster(vectors, ThemeParams(sample_max=1500))
    assert found.sizes == [3000, 2000, 1000]


def test_keywords_set_themes_apart_without_stop_words_or_placeholders():
    texts = ([f"The exam paper was too long, mail me at [EMAIL] {i}" for i in range(20)]
             + [f"Lab sessions need more tutors and the [EMAIL] lab {i}" for i in range(20)])
    labels = np.array([0] * 20 + [1] * 20)
    words = keywords(texts, labels)
    assert words[0][0] in ("exam", "exam paper") and "lab" in " ".join(words[1][:2])
    flat = [w for theme in words for term in theme for w in term.split()]
    assert not {"the", "was", "and", "email", "[email]"} & set(flat)
    assert theme_name(words[0]).startswith("exam")


def test_a_name_never_repeats_a_word_in_its_plural_or_inside_a_phrase():
    texts = [f"lecture slides lectures slide {i}" for i in range(12)] + [f"food canteen {i}" for i in range(12)]
    words = keywords(texts, np.array([0] * 12 + [1] * 12))
    name = theme_name(words[0])
    assert name.count("lecture") == 1 and name.count("slide") <= 1, name
    texts = [f"exercises exercise lab {i}" for i in range(12)] + [f"food canteen {i}" for i in range(12)]
    name = theme_name(keywords(texts, np.array([0] * 12 + [1] * 12))[0])
    assert name.count("exercise") == 1, name


def test_matching_keeps_close_themes_and_records_new_merged_and_vanished():
    rng = np.random.default_rng(0)
    old = np.eye(4, DIM)
    new = np.vstack([old[0] + 0.05 * rng.normal(size=DIM), old[1] + 0.05 * rng.normal(size=DIM), np.eye(5, DIM)[4]])
    new /= np.linalg.norm(new, axis=1, keepdims=True)
    # old 0 and 1 stay; old 2's comments went mostly into new 1 (merged); old 3's went to "other" (vanished).
    went_to = {0: np.array([0, 0]), 1: np.array([1, 1]), 2: np.array([1, 1, 1, -1]), 3: np.array([-1, -1, 2])}
    result = match_themes(old, new, went_to=went_to)
    assert result.kept == {0: 0, 1: 1}
    assert result.merged == {2: 1}
    assert result.vanished == [3]
    assert result.new == [2]
    assert result.similarity[(0, 0)] > 0.9


def test_matching_nothing_old_makes_every_theme_new():
    result = match_themes(np.zeros((0, DIM)), np.eye(3, DIM))
    assert result.new == [0, 1, 2] and result.kept == {} and result.vanished == []


def test_a_recomputation_over_a_little_more_data_starting_from_the_last_state_keeps_every_theme():
    vectors, truth = _groups([80, 60, 40, 30, 20], noise=0.9, seed=11)
    first = cluster(vectors[::2].copy())
    again = cluster(vectors, previous=first.micro_centroids, previous_themes=first.micro_themes)
    went = {o: again.labels[::2][first.labels == o] for o in range(len(first.sizes))}
    result = match_themes(first.centroids, again.centroids, went_to=went)
    assert len(result.kept) == len(first.sizes) and not result.vanished and not result.merged
    assert first.micro_themes is not None and len(first.micro_themes) == len(first.micro_centroids)


def test_tiny_and_degenerate_inputs_give_no_theme_or_one_without_failing():
    for n in (0, 1, 2):  # below the smallest theme (3 comments)
        found = cluster(_groups([n])[0] if n else np.zeros((0, DIM), dtype=np.float32))
        assert found.sizes == [] and (found.labels == -1).all() and len(found.labels) == n
    assert cluster(_groups([5])[0]).sizes == [5]
    same = np.tile(np.eye(1, DIM, dtype=np.float32), (12, 1))  # twelve identical comments
    assert cluster(same).sizes == [12]


def test_a_small_course_gets_a_theme_per_topic_not_a_few_broad_ones():
    # 9 topics × 25 comments: 225 comments once made 8 micro-clusters (one per 50), so at most 8 themes.
    vectors, truth = _groups([25] * 9, seed=5)
    found = cluster(vectors)
    assert len(found.sizes) == 9
    for g in range(9):
        assert len(set(found.labels[truth == g])) == 1

