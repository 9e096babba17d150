"""summarize(): mean, sample SD, t-based 95 % CI half-width, checked against hand-computed values and
printed t tables (t(0.975, 2) = 4.302653, t(0.975, 4) = 2.776445, t(0.975, 9) = 2.262157)."""

import math

import pytest

from zsltool.scores.stats import summarize, t_quantile


def test_t_quantiles_match_printed_tables():
    assert t_quantile(0.975, 2) == pytest.approx(4.302653, abs=1e-6)
    assert t_quantile(0.975, 4) == pytest.approx(2.776445, abs=1e-6)
    assert t_quantile(0.975, 9) == pytest.approx(2.262157, abs=1e-6)


def test_three_values():
    s = summarize([1.0, 2.0, 3.0])
    assert s["n"] == 3 and s["mean"] == pytest.approx(2.0) and s["sd"] == pytest.approx(1.0)
    # 4.302653 * 1 / sqrt(3)
    assert s["ci95"] == pytest.approx(2.484138, abs=1e-6)


def test_five_values():
    s = summarize([0.5, 0.7, 0.6, 0.4, 0.8])
    assert s["mean"] == pytest.approx(0.6)
    assert s["sd"] == pytest.approx(math.sqrt(0.025))          # squared deviations 0.1 / (5 - 1)
    assert s["ci95"] == pytest.approx(2.776445 * math.sqrt(0.025) / math.sqrt(5), abs=1e-6)


def test_ten_equal_values_have_zero_spread():
    s = summarize([0.25] * 10)
    assert s == {"mean": 0.25, "sd": 0.0, "ci95": 0.0, "n": 10}


def test_single_value_has_undefined_sd_and_ci():
    assert summarize([0.7]) == {"mean": 0.7, "sd": None, "ci95": None, "n": 1}


def test_empty_and_missing_values():
    assert summarize([]) == {"mean": None, "sd": None, "ci95": None, "n": 0}
    s = summarize([None, 1.0, float("nan"), 3.0])
    assert s["n"] == 2 and s["mean"] == pytest.approx(2.0) and s["sd"] == pytest.approx(math.sqrt(2))
    # t(0.975, 1) = 12.706205
    assert s["ci95"] == pytest.approx(12.706205 * math.sqrt(2) / math.sqrt(2), abs=1e-5)


def test_infinite_value_is_refused():
    with pytest.raises(ValueError, match="infinite"):
        summarize([1.0, float("inf")])
