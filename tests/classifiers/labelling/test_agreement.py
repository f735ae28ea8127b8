"""Agreement statistics against published and hand-computed values (no database)."""

import pytest
from sklearn.metrics import cohen_kappa_score

from classifiers.ml.agreement import agreement, cohen_kappa, krippendorff_alpha

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 coders, 12 units,
# missing values left out. Published: nominal 0.743, ordinal 0.815, interval 0.849.
KRIPPENDORFF_2011 = [
    [1, 1, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
    [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [5, 5, 5], [1, 1], [3],
]


@pytest.mark.parametrize(("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_alpha_matches_krippendorffs_published_example(level, published):
    assert krippendorff_alpha(KRIPPENDORFF_2011, level=level) == pytest.approx(published, abs=5e-4)


def test_alpha_by_hand_on_two_units():
    # Units (a, a) and (a, b): coincidences o_aa=2, o_ab=o_ba=1, n_a=3, n_b=1, n=4.
    # D_o = 2/4 = 0.5 ; D_e = 2*3*1/(4*3) = 0.5 → alpha = 0.
    assert krippendorff_alpha([["a", "a"], ["a", "b"]]) == pytest.approx(0.0)
    assert krippendorff_alpha([["a", "a"], ["b", "b"]]) == pytest.approx(1.0)


def test_cohen_kappa_by_hand():
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 → p_o = 0.7, p_e = 0.5, kappa = 0.4.
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)


def test_weighted_kappa_matches_scikit_learn_and_rewards_near_misses():
    a = [0, 1, 2, 3, 4, 2, 1, 0, 3, 4, 2, 2]
    b = [0, 2, 2, 3, 3, 1, 1, 1, 4, 4, 0, 2]
    pairs = list(zip(a, b, strict=True))
    assert cohen_kappa(pairs, weights="quadratic", categories=range(5)) == pytest.approx(
        cohen_kappa_score(a, b, weights="quadratic"))
    assert cohen_kappa(pairs, weights="quadratic", categories=range(5)) > cohen_kappa(pairs)


def test_agreement_picks_kappa_for_two_annotators_and_alpha_for_more():
    two = {1: {"ann": 0, "bob": 0}, 2: {"ann": 1, "bob": 0}, 3: {"ann": 1, "bob": 1}, 4: {"ann": 0}}
    result = agreement(two)
    assert (result.statistic, result.items, result.disagreements, result.annotators) == ("cohen_kappa", 3, 1, 2)
    assert result.value == pytest.approx(cohen_kappa([(0, 0), (1, 0), (1, 1)]))
    three = {**two, 5: {"ann": 1, "bob": 1, "cy": 0}}
    assert agreement(three, ordinal=True).statistic == "krippendorff_alpha"
    assert agreement({1: {"ann": 0}}).value is None
