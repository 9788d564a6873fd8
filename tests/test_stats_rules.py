"""pairs/stats.py at the boundaries of its rules (window sizes, flat or collinear legs, NaN, rounding), with values
worked out by hand. Written to kill the mutants `make mutate` found alive; test_stats.py holds the real-data checks."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from pairs import stats
from tests.test_stats import computed_stats


def days(count: int) -> pd.DatetimeIndex:
    return pd.date_range("2026-06-01", periods=count, freq="B")


def series(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype="float64"), index=days(len(values)))


# deterministic, not collinear: a walk and a noisy function of it
WALK = np.round(50 + np.cumsum(np.sin(np.arange(60) * 1.7) + 0.3 * np.cos(np.arange(60) * 0.9)), 3)
NOISY = np.round(0.8 * WALK + np.sin(np.arange(60) * 2.3) * 1.5, 3)


@pytest.mark.parametrize("values, window, expected", [
    ([1.0, 3.0], 2, (2.0, 1.41421)),  # the smallest window; exactly `window` values are enough
    ([5.0, 1.0, 3.0], 2, (2.0, 1.41421)),  # the last `window` values
    ([1.0, 3.0], 3, (0.0, 0.0)),  # fewer values than the window
    ([1.0, 3.0], 1, (0.0, 0.0)),  # no standard deviation of one value
    ([1.0, 2.0, 2.0], 3, (1.66667, 0.57735)),  # 5 decimals
    ([math.nan, math.nan], 2, (0.0, 0.0)),  # NaN never comes out
    ([math.nan, 4.0], 2, (0.0, 0.0)),  # nor does a window with one (stats.spread leaves a missing close out)
    ([2.0, math.inf], 2, (0.0, 0.0)),
])
def test_moving_stats(values, window, expected) -> None:
    assert stats.moving_stats(values, window) == expected


@pytest.mark.parametrize("value, sma, std, expected", [
    (12.0, 10.0, 2.0, 1.0),
    (8.0, 10.0, 4.0, -0.5),
    (1.0, 0.0, 3.0, 0.3333),  # 4 decimals; an SMA of 0 is a value like any other here
    (10.0, 10.00002, 0.00003, -0.6667),
    (5.0, 4.0, 0.0, None),  # no spread of values: no z-score
    (5.0, 4.0, None, None),
])
def test_zscore_of(value, sma, std, expected) -> None:
    assert stats.zscore_of(value, sma, std) == expected


def test_hedge_and_coint_needs_30_common_closes() -> None:
    assert stats.hedge_and_coint(series(WALK[:29]), series(NOISY[:29])) == (None, None)
    hedge, pvalue = stats.hedge_and_coint(series(WALK[:30]), series(NOISY[:30]))
    assert hedge is not None and pvalue is not None


def decimals(value: float) -> int:
    return len(repr(value).split(".")[1])


def test_every_value_has_its_number_of_decimals() -> None:
    """KO/PEP from the CSV fixture: no value happens to end in a 0, so each shows exactly its rounding."""
    got = computed_stats("KO", "PEP", 0.36, dt.date(2026, 11, 24))
    assert [decimals(v) for v in (got.act_price, got.sma, got.std, got.sma_dist, got.zscore, got.hedge_ols,
                                  got.coint_pvalue)] == [4, 5, 5, 4, 4, 6, 6]


@pytest.mark.parametrize("flat", ["leg 1", "leg 2"])
def test_one_flat_leg_gives_no_hedge_and_no_pvalue(flat: str) -> None:
    level = series([7.0] * 40)
    moving = series(WALK[:40])
    pair = (level, moving) if flat == "leg 1" else (moving, level)
    assert stats.hedge_and_coint(*pair) == (None, None)


def test_a_range_of_exactly_1_is_not_flat() -> None:
    ups = series([10.0, 11.0, 10.5, 10.25] * 10)
    downs = series([20.0, 20.5, 21.0, 20.25, 20.75] * 8)
    hedge, pvalue = stats.hedge_and_coint(ups, downs)
    assert hedge is not None and pvalue is not None


def test_collinear_legs_give_a_hedge_but_no_pvalue() -> None:
    """y = 2x + 1 exactly: the regression is perfect, statsmodels warns the p-value means nothing."""
    x = series(WALK[:40])
    hedge, pvalue = stats.hedge_and_coint(x * 2 + 1, x)
    assert (hedge, pvalue) == (2.0, None)


def test_only_the_last_coint_window_counts() -> None:
    close1, close2 = series(WALK), series(NOISY)
    assert stats.hedge_and_coint(close1, close2, 30) == stats.hedge_and_coint(close1.iloc[-30:], close2.iloc[-30:])
    assert stats.hedge_and_coint(close1, close2, 30) != stats.hedge_and_coint(close1, close2, 60)
    got = stats.pair_stats(close1, close2, 1.0, 1.0, 0.8, window=5, coint_window=30)
    assert (got.hedge_ols, got.coint_pvalue) == stats.hedge_and_coint(close1, close2, 30)
    assert (got.sma, got.std) == stats.moving_stats(list(stats.spread(close1, close2, 0.8).values()), 5)


def test_pair_stats_rounding() -> None:
    """act_price and sma_dist to 4 decimals, zscore to 4; sma and std come at 5."""
    close1 = series([10.0, 10.00003, 10.0, 10.00006] * 5)
    close2 = series([0.0] * 20)
    got = stats.pair_stats(close1, close2, 10.00003, 0.0, 1.0)
    assert (got.sma, got.std) == (10.00002, 3e-05)
    assert got.act_price == 10.0  # 10.00003 to 4 decimals
    assert got.sma_dist == 0.0  # 10.00002 - 10.0 = 0.00002 -> 0.0
    assert got.zscore == -0.6667  # (10.0 - 10.00002) / 0.00003


def test_no_zscore_when_the_spread_averages_0() -> None:
    close1 = series([1.0, 2.0] * 10)
    close2 = series([1.5] * 20)
    got = stats.pair_stats(close1, close2, 2.0, 1.5, 1.0)
    assert (got.sma, got.std > 0, got.sma_dist, got.zscore) == (0.0, True, 0.0, None)


# --- the research statistics at their edges (issue 12's functions, killed mutants of `make mutate`)

NOISE = np.round(np.sin(np.arange(80) * 1.3) + 0.5 * np.cos(np.arange(80) * 2.9), 6)


def test_ar1_phi_fits_every_column_of_a_matrix_on_its_own() -> None:
    columns = np.column_stack([WALK, NOISY * 3 + 7, NOISE[:60]])
    assert np.allclose(stats.ar1_phi(columns), [stats.ar1_phi(columns[:, k]) for k in range(3)])


def test_half_life_of_a_coefficient() -> None:
    assert stats.half_life_of(0.0) == 0.0  # reverts within a day
    assert stats.half_life_of(-0.3) == 0.0
    assert stats.half_life_of(0.5) == 1.0
    assert stats.half_life_of(1.0) is None and stats.half_life_of(math.nan) is None


def test_thirty_closes_are_enough_and_twenty_nine_are_not() -> None:
    spread30 = dict(enumerate(NOISE[:30]))
    spread29 = dict(enumerate(NOISE[:29]))
    assert stats.half_life(spread30, 30) is not None and stats.half_life(spread29, 30) is None
    assert stats.spread_adf_pvalue(spread30, 30) is not None and stats.spread_adf_pvalue(spread29, 30) is None
    assert stats.returns_corr(series(WALK[:30]), series(NOISY[:30]), 30) is not None  # 30 common closes
    assert stats.returns_corr(series(WALK[:29]), series(NOISY[:29]), 29) is None


def test_a_spread_spanning_exactly_one_has_a_pvalue() -> None:
    unit = (NOISE - NOISE.min()) / (NOISE.max() - NOISE.min())  # from exactly 0 to exactly 1
    assert np.ptp(unit) == 1.0
    assert 0 <= stats.spread_adf_pvalue(dict(enumerate(unit)), 80) <= 1


def test_pair_stats_uses_the_configured_coint_window_for_every_statistic() -> None:
    rng = np.random.default_rng(20261129)  # a seeded random walk and a leg that follows it loosely
    walk = np.round(100 + rng.standard_normal(60).cumsum(), 4)
    close1, close2 = series(walk), series(np.round(50 + 0.5 * walk + rng.standard_normal(60).cumsum() * 0.3, 4))
    got = stats.pair_stats(close1, close2, 1.0, 1.0, 1.0, window=5, coint_window=40)
    daily = stats.spread(close1, close2, 1.0)
    assert got.half_life == stats.half_life(daily, 40) != stats.half_life(daily, 60)
    assert got.spread_adf_pvalue == stats.spread_adf_pvalue(daily, 40) != stats.spread_adf_pvalue(daily, 60)
    assert got.corr == stats.returns_corr(close1, close2, 40) != stats.returns_corr(close1, close2, 60)


def test_a_perfectly_fitting_adf_regression_gives_no_pvalue_and_hides_only_its_runtime_warning(monkeypatch) -> None:
    """adfuller warns (RuntimeWarning) and answers NaN when its regression fits exactly; no series of the session
    made it do so, so its answer is stood in for: the wrapper returns None, silences that warning and no other."""
    import warnings

    import statsmodels.tsa.stattools

    spread = dict(enumerate(NOISE[:40]))

    def perfect_fit(*args, **kwargs):
        warnings.warn("divide by zero encountered in scalar divide", RuntimeWarning, stacklevel=2)
        return (-math.inf, math.nan, {}, None)

    monkeypatch.setattr(statsmodels.tsa.stattools, "adfuller", perfect_fit)
    assert stats.spread_adf_pvalue(spread, 40) is None

    def other_warning(*args, **kwargs):
        warnings.warn("something else", UserWarning, stacklevel=2)
        return (-3.0, 0.02, {}, None)

    monkeypatch.setattr(statsmodels.tsa.stattools, "adfuller", other_warning)
    with pytest.warns(UserWarning, match="something else"):
        assert stats.spread_adf_pvalue(spread, 40) == 0.02
