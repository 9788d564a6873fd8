"""Pure parts of the price job: the exchange-session gate and the pair statistics (pairs/jobs.py, pairs/stats.py)."""

from __future__ import annotations

import csv
import datetime as dt
import math
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.adfvalues import mackinnonp
from statsmodels.tsa.stattools import adfuller

from pairs import jobs, market, stats
from pairs.config import ConfigError, load_settings

FIXTURES = Path(__file__).parent / "fixtures" / "prices"


def gate_settings(**overrides):
    return load_settings(None, environ={}, **overrides)


@pytest.mark.parametrize("now, overrides, expected", [
    # Tuesday 24 Nov 2026, New York on EST (UTC-5): the gate is strictly between 09:10 and 16:20
    (dt.datetime(2026, 11, 24, 14, 10, 0), {}, False),
    (dt.datetime(2026, 11, 24, 14, 10, 1), {}, True),
    (dt.datetime(2026, 11, 24, 17, 0), {}, True),
    (dt.datetime(2026, 11, 24, 21, 19, 59), {}, True),
    (dt.datetime(2026, 11, 24, 21, 20, 0), {}, False),
    (dt.datetime(2026, 11, 25, 3, 0), {}, False),
    # Wednesday 1 July 2026 on EDT (UTC-4): the same wall clock is an hour earlier in UTC
    (dt.datetime(2026, 7, 1, 13, 15), {}, True),
    (dt.datetime(2026, 7, 1, 13, 5), {}, False),
    # Saturday; unless the weekdays say otherwise
    (dt.datetime(2026, 11, 28, 17, 0), {}, False),
    (dt.datetime(2026, 11, 28, 17, 0), {"session_weekdays": "1-7"}, True),
    (dt.datetime(2026, 11, 27, 17, 0), {"session_weekdays": "1,2,3,4"}, False),  # a Friday
    # no extension, another exchange
    (dt.datetime(2026, 11, 24, 14, 25), {"session_extension_min": 0}, False),
    (dt.datetime(2026, 11, 24, 14, 35), {"session_extension_min": 0}, True),
    (dt.datetime(2026, 11, 24, 8, 30), {"exchange_timezone": "Europe/London", "session_start": "08:00:00",
                                        "session_end": "16:30:00"}, True),
    # an aware time in another zone: 09:00 in Los Angeles is 12:00 in New York
    (dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-8))), {}, True),
])
def test_session_gate(now, overrides, expected):
    assert jobs.in_session(now, gate_settings(**overrides)) is expected


@pytest.mark.parametrize("field, value, message", [
    ("session_weekdays", "Mon-Fri", "SESSION_WEEKDAYS"),
    ("session_weekdays", "0,8", "SESSION_WEEKDAYS"),
    ("session_start", "9h30", "SESSION_START"),
    ("exchange_timezone", "Mars/Olympus", "EXCHANGE_TIMEZONE"),
])
def test_session_gate_config_errors(field, value, message):
    with pytest.raises(ConfigError, match=message):
        jobs.in_session(dt.datetime(2026, 11, 24, 17, 0), gate_settings(**{field: value}))


@pytest.mark.parametrize("now, day, closed", [
    (dt.datetime(2026, 11, 24, 20, 0), dt.date(2026, 11, 24), False),  # 15:00 ET
    (dt.datetime(2026, 11, 24, 21, 0), dt.date(2026, 11, 24), True),  # 16:00 ET: the session is over
    (dt.datetime(2026, 11, 25, 3, 0), dt.date(2026, 11, 24), True),  # 22:00 ET the same day
])
def test_session_day(now, day, closed):
    assert jobs.session_day(now, gate_settings()) == (day, closed)


# ---------------------------------------------------------------------------------------------------------------
# Statistics against values computed here by hand from the CSV files (csv + statistics + numpy least squares +
# statsmodels' ADF and MacKinnon tables), not through pairs.stats.


def read_closes(symbol: str, interval: str) -> list[tuple[str, float]]:
    with open(FIXTURES / f"{symbol}_{interval}.csv", newline="") as handle:
        return [(row["Datetime"], float(row["Close"])) for row in csv.DictReader(handle)]


def expected_stats(leg1: str, leg2: str, hedge: float, today: str, window: int = 20, coint_window: int = 60):
    daily1 = [(t[:10], c) for t, c in read_closes(leg1, "1d") if t[:10] < today]  # completed sessions only
    daily2 = {t[:10]: c for t, c in read_closes(leg2, "1d") if t[:10] < today}
    pairs = [(c1, daily2[day]) for day, c1 in daily1 if day in daily2]
    spread = [c1 - hedge * c2 for c1, c2 in pairs][-window:]
    sma = statistics.fmean(spread)
    std = statistics.stdev(spread)
    last1 = read_closes(leg1, "5m")[-1][1]
    last2 = read_closes(leg2, "5m")[-1][1]
    act_price = last1 - last2 * hedge
    y = np.array([c1 for c1, _ in pairs][-coint_window:])
    x = np.array([c2 for _, c2 in pairs][-coint_window:])
    x_mean, y_mean = x.mean(), y.mean()
    slope = ((x - x_mean) * (y - y_mean)).sum() / ((x - x_mean) ** 2).sum()
    residuals = y - (y_mean - slope * x_mean) - slope * x
    adf_t = adfuller(residuals, maxlag=1, autolag=None, regression="n", result_object=False)[0]
    pvalue = mackinnonp(adf_t, regression="c", N=2)
    return {"sma": sma, "std": std, "act_price": act_price, "sma_dist": sma - act_price,
            "zscore": (act_price - sma) / std, "hedge_ols": slope, "coint_pvalue": pvalue}


def computed_stats(leg1: str, leg2: str, hedge: float, today: dt.date) -> stats.PairStats:
    source = market.CsvFolderSource(FIXTURES)
    daily = source.fetch({leg1: leg1, leg2: leg2}, market.DAILY)
    intraday = source.fetch({leg1: leg1, leg2: leg2}, market.INTRADAY)
    return stats.pair_stats(stats.completed_daily(daily[leg1]["Close"], today, False),
                            stats.completed_daily(daily[leg2]["Close"], today, False),
                            intraday[leg1]["Close"].iloc[-1], intraday[leg2]["Close"].iloc[-1], hedge)


@pytest.mark.parametrize("leg1, leg2, hedge", [("KO", "PEP", 0.36), ("BF A", "BF B", 1.0), ("EWA", "EWC", 0.6)])
def test_pair_stats_match_an_independent_computation(leg1, leg2, hedge):
    got = computed_stats(leg1, leg2, hedge, dt.date(2026, 11, 24))
    want = expected_stats(leg1, leg2, hedge, "2026-11-24")
    assert got.sma == pytest.approx(want["sma"], abs=5e-6)
    assert got.std == pytest.approx(want["std"], abs=5e-6)
    assert got.act_price == pytest.approx(want["act_price"], abs=5e-5)
    assert got.sma_dist == pytest.approx(want["sma_dist"], abs=1e-4)
    assert got.zscore == pytest.approx(want["zscore"], abs=1e-3)
    assert got.hedge_ols == pytest.approx(want["hedge_ols"], abs=1e-6)
    assert got.coint_pvalue == pytest.approx(want["coint_pvalue"], abs=1e-6)
    assert all(isinstance(v, float) for v in vars(got).values())


def test_bf_pair_is_cointegrated_and_ewa_ewc_is_not():
    """The fixture was built so: BF B = 0.97 BF A + stationary noise; EWA, EWC independent walks."""
    assert computed_stats("BF A", "BF B", 1.0, dt.date(2026, 11, 24)).coint_pvalue < 0.05
    assert computed_stats("EWA", "EWC", 0.6, dt.date(2026, 11, 24)).coint_pvalue > 0.5


def test_todays_partial_bar_is_left_out_until_the_close():
    closes = pd.Series([1.0, 2.0, 3.0], index=pd.DatetimeIndex(["2026-11-20", "2026-11-23", "2026-11-24"]))
    assert list(stats.completed_daily(closes, dt.date(2026, 11, 24), False)) == [1.0, 2.0]
    assert list(stats.completed_daily(closes, dt.date(2026, 11, 24), True)) == [1.0, 2.0, 3.0]
    assert list(stats.completed_daily(closes, dt.date(2026, 11, 25), False)) == [1.0, 2.0, 3.0]


def test_too_little_history_gives_zero_and_none_never_nan():
    index = pd.date_range("2026-11-02", periods=10, freq="B")
    close1 = pd.Series(np.linspace(10, 11, 10), index=index)
    close2 = pd.Series(np.linspace(20, 21, 10), index=index)
    got = stats.pair_stats(close1, close2, 11.5, 21.0, 0.5)
    assert got == stats.PairStats(act_price=1.0, sma=0.0, std=0.0, sma_dist=0.0, zscore=None, hedge_ols=None,
                                  coint_pvalue=None)


def test_flat_legs_give_no_zscore_hedge_or_pvalue():
    index = pd.date_range("2026-08-03", periods=40, freq="B")
    flat = pd.Series(5.0, index=index)
    got = stats.pair_stats(flat, flat, 5.0, 5.0, 1.0)
    assert (got.sma, got.std, got.zscore, got.hedge_ols, got.coint_pvalue) == (0.0, 0.0, None, None, None)
    assert not any(isinstance(v, float) and math.isnan(v) for v in vars(got).values())


def test_flat_legs_with_a_hedge_other_than_1_give_no_zscore():
    """A flat spread that is not 0 (hedge 0.5): sma 2.5, std 0. Only the std > 0 guard keeps the z-score from
    dividing by zero and crashing the price job for this pair (issue 14, survivor 2)."""
    index = pd.date_range("2026-08-03", periods=40, freq="B")
    flat = pd.Series(5.0, index=index)
    got = stats.pair_stats(flat, flat, 5.0, 5.0, 0.5)
    assert got == stats.PairStats(act_price=2.5, sma=2.5, std=0.0, sma_dist=0.0, zscore=None, hedge_ols=None,
                                  coint_pvalue=None)


def test_spread_uses_only_common_days():
    a = pd.Series([10.0, 11.0, 12.0], index=pd.DatetimeIndex(["2026-11-20", "2026-11-23", "2026-11-24"]))
    b = pd.Series([4.0, 5.0], index=pd.DatetimeIndex(["2026-11-23", "2026-11-24"]))
    assert list(stats.spread(a, b, 2.0).values()) == [11.0 - 2 * 4.0, 12.0 - 2 * 5.0]
    # the chart's plain dicts, the same rule: a NaN close is no close
    days = {"2026-11-20": 10.0, "2026-11-23": 11.0, "2026-11-24": math.nan}
    assert stats.spread(days, {"2026-11-23": 4.0, "2026-11-24": 5.0}, 2.0) == {"2026-11-23": 3.0}


def test_moving_stats_over_the_last_window_values():
    values = [1.0, 2.0, 4.0, 8.0, 16.0]
    assert stats.moving_stats(values, 3) == (round(statistics.fmean([4.0, 8.0, 16.0]), 5),
                                             round(statistics.stdev([4.0, 8.0, 16.0]), 5))
    assert stats.moving_stats(values, 6) == (0.0, 0.0)
    assert stats.moving_stats([1.0, math.inf, 2.0], 3) == (0.0, 0.0)


# ---------------------------------------------------------------------------------------------------------------
# half_life, spread_adf_pvalue, corr: series whose answers are known


def ar1(phi: float, size: int, seed: int = 7, level: float = 100.0) -> pd.Series:
    """s(t) = level + phi (s(t-1) - level) + N(0, 1): mean-reverting around ``level`` for |phi| < 1."""
    noise = np.random.default_rng(seed).normal(size=size)
    values = np.empty(size)
    values[0] = level
    for t in range(1, size):
        values[t] = level + phi * (values[t - 1] - level) + noise[t]
    return pd.Series(values, index=pd.date_range("2020-01-01", periods=size, freq="B"))


def random_walk(size: int, seed: int, start: float = 100.0) -> pd.Series:
    steps = np.random.default_rng(seed).normal(size=size)
    return pd.Series(start + np.cumsum(steps), index=pd.date_range("2020-01-01", periods=size, freq="B"))


@pytest.mark.parametrize("phi, expected", [
    (0.9, -math.log(2) / math.log(0.9)),  # 6.58 days
    (0.5, 1.0),
    (0.97, -math.log(2) / math.log(0.97)),  # 22.76 days
])
def test_half_life_of_an_ar1_is_its_known_value(phi, expected):
    got = stats.half_life(ar1(phi, 20000), window=20000)
    assert got == pytest.approx(expected, rel=0.08)


@pytest.mark.parametrize("series, expected", [
    (pd.Series(np.arange(100.0)), None),  # a straight line: phi = 1, never comes back
    (pd.Series(1.03 ** np.arange(100.0)), None),  # explodes: phi > 1
    (pd.Series([1.0, -1.0] * 50), 0.0),  # flips every day: phi = -1, back within the day
    (pd.Series(np.ones(100)), None),  # flat: nothing to fit
    (ar1(0.5, 20), None),  # fewer than MIN_COINT_OBS closes
])
def test_half_life_is_none_when_the_spread_does_not_revert(series, expected):
    assert stats.half_life(series, window=100) == expected


def test_half_life_phi_matches_a_least_squares_fit_with_a_constant():
    series = ar1(0.8, 300, seed=3)
    lagged, current = series.to_numpy()[:-1], series.to_numpy()[1:]
    slope = np.linalg.lstsq(np.column_stack([np.ones_like(lagged), lagged]), current, rcond=None)[0][1]
    assert stats.ar1_phi(series.to_numpy()) == pytest.approx(slope, abs=1e-12)
    assert stats.half_life(series, window=300) == round(-math.log(2) / math.log(slope), 2)


def test_spread_adf_pvalue_is_small_for_an_ar1_and_large_for_a_random_walk():
    assert stats.spread_adf_pvalue(ar1(0.5, 250), window=250) < 1e-6
    walk = random_walk(250, seed=11)
    assert stats.spread_adf_pvalue(walk, window=250) > 0.2
    assert stats.spread_adf_pvalue(walk, window=250) == round(adfuller(walk.to_numpy(), maxlag=1, autolag=None,
                                                                       regression="c", result_object=False)[1], 6)
    assert stats.spread_adf_pvalue(pd.Series(np.ones(100)), window=100) is None
    assert stats.spread_adf_pvalue(walk.iloc[:20], window=60) is None


def test_spread_adf_pvalue_uses_the_configured_hedge_not_the_ols_one():
    """Legs cointegrated at hedge 2: the spread at 2 is stationary, at 1 it carries a random walk."""
    leg2 = random_walk(250, seed=5)
    leg1 = 2 * leg2 + ar1(0.3, 250, seed=6, level=0.0)
    assert stats.spread_adf_pvalue(stats.spread(leg1, leg2, 2.0), window=250) < 0.01
    assert stats.spread_adf_pvalue(stats.spread(leg1, leg2, 1.0), window=250) > 0.05


@pytest.mark.parametrize("close2, expected", [
    (lambda c: 3 * c, 1.0),  # perfectly correlated: the same returns
    (lambda c: c * 1.0 + 0.0, 1.0),
])
def test_corr_of_a_perfectly_correlated_pair_is_one(close2, expected):
    close1 = random_walk(120, seed=2)
    assert stats.returns_corr(close1, close2(close1)) == expected


def test_corr_of_independent_walks_is_near_zero_and_matches_numpy():
    close1, close2 = random_walk(500, seed=21), random_walk(500, seed=22)
    got = stats.returns_corr(close1, close2, window=500)
    r1, r2 = np.diff(close1.to_numpy()) / close1.to_numpy()[:-1], np.diff(close2.to_numpy()) / close2.to_numpy()[:-1]
    assert got == round(float(np.corrcoef(r1, r2)[0, 1]), 4)
    assert abs(got) < 0.1


def test_corr_is_none_for_a_flat_leg_or_too_little_history():
    close1 = random_walk(100, seed=1)
    assert stats.returns_corr(close1, pd.Series(5.0, index=close1.index)) is None
    assert stats.returns_corr(close1.iloc[:10], close1.iloc[:10]) is None


def test_pair_stats_carry_the_new_keys_at_the_configured_hedge():
    got = computed_stats("BF A", "BF B", 1.0, dt.date(2026, 11, 24))
    daily = market.CsvFolderSource(FIXTURES).fetch({"BF A": "BF A", "BF B": "BF B"}, market.DAILY)
    close1 = stats.completed_daily(daily["BF A"]["Close"], dt.date(2026, 11, 24), False)
    close2 = stats.completed_daily(daily["BF B"]["Close"], dt.date(2026, 11, 24), False)
    spread = stats.spread(close1, close2, 1.0)
    assert got.half_life == stats.half_life(spread, 60) and got.half_life is not None and got.half_life > 0
    assert got.spread_adf_pvalue == stats.spread_adf_pvalue(spread, 60) < 0.05
    assert got.corr == stats.returns_corr(close1, close2, 60) and 0 < got.corr <= 1
