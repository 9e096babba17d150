"""Friedman / Nemenyi against Demšar (2006) and hand computations; the CD diagram PNG."""

import math

import numpy as np
import pytest

from zsltool.errors import ZslError
from zsltool.evaluate import compare as C

Q05 = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]


@pytest.mark.parametrize("k", range(2, 11))
@pytest.mark.parametrize("n", [5, 14])
def test_cd_matches_published_formula(k, n):
    assert C.critical_difference(k, n) == pytest.approx(Q05[k - 2] * math.sqrt(k * (k + 1) / (6 * n)))


def test_cd_demsar_worked_example():
    # Demšar 2006, section 3.2.2: four classifiers on 14 data sets, CD = 1.25 at alpha 0.05
    assert C.critical_difference(4, 14) == pytest.approx(1.25, abs=0.005)
    # ... and the Friedman statistic of his average ranks: chi2_F = 9.28, F_F = 3.69
    chi2 = C.friedman_statistic([3.143, 2.000, 2.893, 1.964], 14)
    assert chi2 == pytest.approx(9.28, abs=0.01)
    assert C.iman_davenport(chi2, 14, 4) == pytest.approx(3.69, abs=0.01)


def test_q_alpha_beyond_table_uses_studentized_range():
    # within the table, scipy's value agrees with Demšar's to 3 decimals
    assert C.q_alpha(5, 0.05) == 2.728
    assert C.q_alpha(5, 0.01) > C.q_alpha(5, 0.05)
    assert C.q_alpha(12) > 3.164


def test_friedman_by_hand_with_ties():
    scores = np.array([[0.9, 0.8, 0.7], [0.5, 0.6, 0.6], [0.7, 0.9, 0.1]])
    assert C.rank_rows(scores).tolist() == [[1, 2, 3], [3, 1.5, 1.5], [2, 1, 3]]
    r = C.friedman_nemenyi(scores, ["a", "b", "c"])
    assert r.avg_ranks.tolist() == [2.0, 1.5, 2.5]
    assert r.chi2 == pytest.approx(1.5)
    assert r.ff == pytest.approx(2 * 1.5 / (3 * 2 - 1.5))
    if r.p_chi2 is not None:
        assert r.p_chi2 == pytest.approx(math.exp(-0.75))
    assert r.cd == pytest.approx(2.343 * math.sqrt(12 / 18))
    pw = {(p["a"], p["b"]): p for p in r.pairwise()}
    assert pw[("b", "c")]["rank_diff"] == 1.0 and not pw[("b", "c")]["significant"]


def test_pairwise_significance_and_cliques():
    # method a always best, d always worst over 20 blocks -> a vs d significant
    rng = np.random.default_rng(0)
    base = rng.normal(size=(20, 1))
    scores = base + np.array([[3.0, 2.0, 1.9, 0.0]])
    r = C.friedman_nemenyi(scores, ["a", "b", "c", "d"])
    assert r.avg_ranks.tolist() == [1, 2, 3, 4]
    sig = {(p["a"], p["b"]): p["significant"] for p in r.pairwise()}
    assert sig[("a", "d")] and not sig[("b", "c")]
    assert C.cliques([1.0, 1.5, 3.0, 3.2], 0.6) == [(0, 1), (2, 3)]


def test_compare_needs_two_blocks_and_methods():
    with pytest.raises(ZslError, match="two blocks"):
        C.friedman_nemenyi(np.ones((1, 3)), ["a", "b", "c"])
    with pytest.raises(ZslError, match="two methods"):
        C.friedman_nemenyi(np.ones((4, 1)), ["a"])
