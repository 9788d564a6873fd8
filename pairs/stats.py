"""Pair statistics (SPEC §8.1 with A.4): pure functions of close series, no database, no clock.

* ``spread`` = close(ticker1) − hedge × close(ticker2), on the times both legs have.
* ``sma`` / ``std``: mean and sample standard deviation (ddof = 1) of the last ``window`` (20) daily spread closes.
  Only **completed** sessions count: the bar of the current exchange day is left out until its session has closed
  (the original included today's partial bar, so its average moved all day with the live price).
* ``act_price`` = last intraday close of ticker1 − last intraday close of ticker2 × hedge, 4 decimals;
  ``sma_dist`` = sma − act_price (4 decimals), 0 when there is no sma.
* ``zscore`` = (act_price − sma) / std; ``hedge_ols`` = slope of the least-squares line of ticker1's daily closes
  on ticker2's (with intercept), i.e. the units of ticker2 per unit of ticker1 that best neutralise the pair;
  ``coint_pvalue`` = Engle-Granger cointegration p-value (statsmodels ``coint``: constant, ADF with one lag,
  MacKinnon p-values) of the same closes.  All three over the last ``coint_window`` completed daily closes.
* ``half_life`` = days for the spread at the configured hedge to revert half-way: an AR(1) fit
  s(t) = c + phi s(t-1) + e on its last ``coint_window`` daily closes gives −ln 2 / ln phi; None when phi ≥ 1
  (the fit does not revert), 0 when phi ≤ 0 (it reverts within a day).
* ``spread_adf_pvalue`` = ADF p-value (constant, one lag) of that same spread: the hedge actually traded, where
  ``coint_pvalue`` tests the OLS hedge.
* ``corr`` = correlation of the two legs' daily returns over the last ``coint_window`` common closes.

With too little history a value is 0 (the original columns, whose default is 0) or None (ours): never NaN.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pairs.lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:  # imported when a statistics job first runs, not at start-up
    np = LazyModule("numpy")
    pd = LazyModule("pandas")

Time = TypeVar("Time")

SMA_WINDOW = 20
COINT_WINDOW = 60
MIN_COINT_OBS = 30  # below this the ADF regression has too few degrees of freedom to mean anything


@dataclasses.dataclass(frozen=True)
class PairStats:
    act_price: float
    sma: float
    std: float
    sma_dist: float
    zscore: float | None
    hedge_ols: float | None
    coint_pvalue: float | None
    half_life: float | None = None
    spread_adf_pvalue: float | None = None
    corr: float | None = None


def completed_daily(closes: pd.Series, today: dt.date, session_closed: bool) -> pd.Series:
    """Daily closes without the bar of ``today`` (exchange calendar) unless today's session has closed."""
    if session_closed or closes.empty:
        return closes
    return closes[closes.index.normalize() < pd.Timestamp(today)]


def spread(close1: Mapping[Time, float], close2: Mapping[Time, float], hedge: float) -> dict[Time, float]:
    """close1 − hedge × close2 at the times both legs closed (NaN is no close), in close1's order.

    Plain Python over anything with ``items()``: the price job passes pandas Series, the pages' chart dicts.
    """
    second = {time: close for time, close in close2.items() if not math.isnan(close)}
    return {time: close - hedge * second[time] for time, close in close1.items()
            if time in second and not math.isnan(close)}


def moving_stats(daily_spread: Sequence[float], window: int = SMA_WINDOW) -> tuple[float, float]:
    """(sma, std) of the last ``window`` values, rounded to 5 decimals; (0, 0) with fewer values or an infinite one."""
    if window < 2 or len(daily_spread) < window:
        return 0.0, 0.0
    tail = [float(value) for value in daily_spread[-window:]]
    if not all(math.isfinite(value) for value in tail):
        return 0.0, 0.0
    return round(statistics.fmean(tail), 5), round(statistics.stdev(tail), 5)


def zscore_of(value: float, sma: float, std: float | None) -> float | None:
    """How many standard deviations ``value`` is from ``sma`` (4 decimals); None without a spread (std 0 or none).

    One rule for the stored ``zscore`` and the chart's z-score of each day."""
    return round((value - sma) / std, 4) if std else None


def hedge_and_coint(close1: pd.Series, close2: pd.Series, window: int = COINT_WINDOW) -> tuple[float | None,
                                                                                                 float | None]:
    """(OLS hedge ratio, Engle-Granger p-value) over the last ``window`` common daily closes."""
    both = pd.concat([close1.rename("t1"), close2.rename("t2")], axis=1, join="inner").dropna().iloc[-window:]
    if len(both) < MIN_COINT_OBS:
        return None, None
    y = both["t1"].to_numpy(dtype="float64")
    x = both["t2"].to_numpy(dtype="float64")
    if np.ptp(x) == 0 or np.ptp(y) == 0:  # a flat leg: no regression, no test
        return None, None
    slope = float(np.polyfit(x, y, 1)[0])
    # 1.5 s to import: only when there is something to test
    from statsmodels.tools.sm_exceptions import CollinearityWarning
    from statsmodels.tsa.stattools import coint

    try:
        with warnings.catch_warnings():
            # perfectly collinear legs make the p-value meaningless: "no value" rather than a number
            warnings.simplefilter("error", CollinearityWarning)
            pvalue = float(coint(y, x, trend="c", maxlag=1, autolag=None)[1])
    except (ValueError, np.linalg.LinAlgError, CollinearityWarning):
        pvalue = None
    return (round(slope, 6) if math.isfinite(slope) else None,
            round(pvalue, 6) if pvalue is not None and math.isfinite(pvalue) else None)


def ar1_phi(levels):
    """The AR(1) coefficient phi of s(t) = c + phi s(t-1) + e, per column of a (T,) or (T, k) array: the
    least-squares slope of s(t) on s(t-1).  NaN for a flat column.  (The screener fits thousands at once.)"""
    values = np.asarray(levels, dtype="float64")
    lagged, current = values[:-1], values[1:]
    lagged_dev = lagged - lagged.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (lagged_dev * (current - current.mean(axis=0))).sum(axis=0) / (lagged_dev ** 2).sum(axis=0)


def half_life_of(phi: float) -> float | None:
    """Days to revert half-way for an AR(1) coefficient, 2 decimals; None when it does not revert."""
    if not math.isfinite(phi) or phi >= 1:
        return None
    if phi <= 0:
        return 0.0
    return round(-math.log(2) / math.log(phi), 2)


def _tail(daily_spread: Mapping[Any, float] | pd.Series, window: int) -> np.ndarray:
    """The last ``window`` values of a daily spread (``spread``'s dict, or a pandas Series) as floats."""
    values = list(daily_spread.values()) if isinstance(daily_spread, dict) else daily_spread.to_numpy()
    return np.asarray(values[-window:], dtype="float64")


def half_life(daily_spread: Mapping[Any, float] | pd.Series, window: int = COINT_WINDOW) -> float | None:
    """Half-life in days of the last ``window`` daily spread closes (module docstring); None with too little."""
    tail = _tail(daily_spread, window)
    if len(tail) < MIN_COINT_OBS:
        return None
    return half_life_of(float(ar1_phi(tail)))


def spread_adf_pvalue(daily_spread: Mapping[Any, float] | pd.Series, window: int = COINT_WINDOW) -> float | None:
    """ADF p-value (constant, one lag, MacKinnon) of the last ``window`` daily spread closes, 6 decimals."""
    tail = _tail(daily_spread, window)
    if len(tail) < MIN_COINT_OBS or np.ptp(tail) == 0:
        return None
    from statsmodels.tsa.stattools import adfuller

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a perfectly fitting regression: no p-value
            pvalue = float(adfuller(tail, maxlag=1, autolag=None, regression="c", result_object=False)[1])
    except (ValueError, np.linalg.LinAlgError):
        return None
    return round(pvalue, 6) if math.isfinite(pvalue) else None


def returns_corr(close1: pd.Series, close2: pd.Series, window: int = COINT_WINDOW) -> float | None:
    """Correlation of the legs' daily returns over the last ``window`` common closes, 4 decimals."""
    both = pd.concat([close1.rename("t1"), close2.rename("t2")], axis=1, join="inner").dropna().iloc[-window:]
    if len(both) < MIN_COINT_OBS:
        return None
    returns = both.pct_change().iloc[1:]
    if (returns.std() == 0).any():
        return None
    value = float(returns["t1"].corr(returns["t2"]))
    return round(value, 4) if math.isfinite(value) else None


def pair_stats(daily1: pd.Series, daily2: pd.Series, last1: float, last2: float, hedge: float,
               window: int = SMA_WINDOW, coint_window: int = COINT_WINDOW) -> PairStats:
    """Everything the price job stores for one pair, from completed daily closes and the two latest prices."""
    daily_spread = spread(daily1, daily2, hedge)
    sma, std = moving_stats(list(daily_spread.values()), window)
    act_price = round(float(last1) - float(last2) * hedge, 4)
    sma_dist = round(sma - act_price, 4) if sma else 0.0
    zscore = zscore_of(act_price, sma, std) if sma else None
    hedge_ols, pvalue = hedge_and_coint(daily1, daily2, coint_window)
    return PairStats(act_price=act_price, sma=sma, std=std, sma_dist=sma_dist, zscore=zscore, hedge_ols=hedge_ols,
                     coint_pvalue=pvalue, half_life=half_life(daily_spread, coint_window),
                     spread_adf_pvalue=spread_adf_pvalue(daily_spread, coint_window),
                     corr=returns_corr(daily1, daily2, coint_window))
