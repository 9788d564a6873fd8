"""What the pair page and the screener page show (issue 12, SPEC A.8): plain functions of stored rows, no Tornado.

The pair page's chart is the dashboard's spread chart (``dashboard.pair_chart``: the daily spread at the configured
hedge, its SMA and std) over ``[SMA] CHART_DAYS``, with each day's z-score and the days of the pair's signals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from pairs import dashboard, signals, stats
from pairs.db import Pair, Signal

PVALUE_WARN = 0.05  # above this the pair no longer looks cointegrated
DRIFT_WARN_PCT = 10.0  # the OLS hedge moved this far from the configured one
RECENT_SIGNALS = 20
ADD_HEDGE_DECIMALS = 4  # "Add to watchlist" registers the screener's OLS hedge rounded so
ADD_CONTRACTS = 1  # and this many contracts (edit them on SETUP)


def hedge_drift_pct(hedge: Any, hedge_ols: Any) -> float | None:
    """How far the OLS hedge is from the configured one, in % of the configured one (signed, 1 decimal)."""
    configured, ols = dashboard._number(hedge), dashboard._number(hedge_ols)
    if configured is None or ols is None or configured == 0:
        return None
    return round((ols - configured) / abs(configured) * 100, 1)


def pvalue_warns(pvalue: Any) -> bool:
    value = dashboard._number(pvalue)
    return value is not None and value > PVALUE_WARN


@dataclasses.dataclass(frozen=True)
class StatRow:
    key: str
    label: str
    value: str
    warn: bool = False
    title: str = ""


def statistics_rows(pair: Pair, zone: dt.tzinfo) -> list[StatRow]:
    """The pair page's statistics table, in the order a trader reads it."""
    drift = hedge_drift_pct(pair.hedge, pair.hedge_ols)
    fmt = dashboard.fmt
    return [
        StatRow("hedge", "hedge (configured)", fmt(pair.hedge, "g")),
        StatRow("hedge_ols", "hedge (OLS)", fmt(pair.hedge_ols, ".4f") + ("" if drift is None else f" ({drift:+.1f} %)"),
                warn=drift is not None and abs(drift) > DRIFT_WARN_PCT,
                title=f"drift over {DRIFT_WARN_PCT:g} % is flagged"),
        StatRow("coint_pvalue", "Engle-Granger p-value (OLS hedge)", fmt(pair.coint_pvalue, ".4f"),
                warn=pvalue_warns(pair.coint_pvalue), title=f"over {PVALUE_WARN} is flagged"),
        StatRow("spread_adf_pvalue", "spread ADF p-value (configured hedge)", fmt(pair.spread_adf_pvalue, ".4f"),
                warn=pvalue_warns(pair.spread_adf_pvalue), title=f"over {PVALUE_WARN} is flagged"),
        StatRow("half_life", "half-life (days)", "does not revert" if pair.half_life is None and pair.stats_updated
                else fmt(pair.half_life, ".2f")),
        StatRow("corr", "correlation of returns", fmt(pair.corr, ".3f")),
        StatRow("zscore", "z-score", fmt(pair.zscore, "+.2f")),
        StatRow("sma", "SMA", fmt(pair.sma, ".4f")),
        StatRow("std", "std", fmt(pair.std, ".4f")),
        StatRow("stats_updated", "last update", dashboard.format_local(pair.stats_updated, zone) or "never"),
        StatRow("stale", "stale", "yes" if pair.stale else "no", warn=bool(pair.stale),
                title="the last price run had no prices for a leg"),
    ]



def signal_markers(name: str, since: dt.date) -> list[dict[str, Any]]:
    """The pair's signals from ``since`` on, oldest first: ``{"t", "action", "price", "fill_price"}`` by day."""
    start = dt.datetime.combine(since, dt.time())
    rows = (Signal.select(Signal.timestamp, Signal.order_action, Signal.order_price, Signal.fill_price)
            .where(signals.selection(name) & (Signal.timestamp >= start))
            .order_by(Signal.timestamp, Signal.rowid).limit(500))
    out = []
    for sig in rows:
        action = (sig.order_action or "").lower()
        if not isinstance(sig.timestamp, dt.datetime) or action not in ("buy", "sell"):
            continue
        out.append({"t": sig.timestamp.date().isoformat(), "action": action,
                    "price": dashboard._number(sig.order_price), "fill_price": dashboard._number(sig.fill_price)})
    return out


def pair_page_chart(pair: Pair, days: int, entry_z: float, exit_z: float, with_signals: bool,
                    window: int = stats.SMA_WINDOW) -> dict[str, Any]:
    """The chart's data: points ``{"t", "spread", "sma", "std", "z"}``, the z lines and the signal markers."""
    chart = dashboard.pair_chart(pair, days, window)
    for point in chart["points"]:
        sma, std = point["sma"], point["std"]
        point["z"] = stats.zscore_of(point["spread"], sma, std) if sma is not None else None
    markers: list[dict[str, Any]] = []
    if with_signals and chart["points"]:
        shown = {p["t"] for p in chart["points"]}
        markers = [m for m in signal_markers(pair.name, dt.date.fromisoformat(chart["points"][0]["t"]))
                   if m["t"] in shown]
    return {**chart, "entry_z": entry_z, "exit_z": exit_z, "markers": markers}


def recent_signals(name: str, limit: int = RECENT_SIGNALS) -> list[Signal]:
    return list(Signal.select().where(signals.selection(name)).order_by(Signal.rowid.desc()).limit(limit))


def all_time_slips(name: str, now: dt.datetime) -> dict[str, str]:
    """The average slip of the pair's buys, sells and all signals ever, as the LIST page writes it."""
    averages = dashboard.average_slips(name, dt.datetime(1970, 1, 1), now + dt.timedelta(days=1))
    return {k: dashboard.slip_average_text(v) for k, v in averages.items()}


def registered_names() -> set[str]:
    """Every registered pair's name, both ways round (``A-B`` registered makes ``B-A`` registered too)."""
    names: set[str] = set()
    for ticker1, ticker2 in Pair.select(Pair.ticker1, Pair.ticker2).tuples():
        names.update((f"{ticker1}-{ticker2}", f"{ticker2}-{ticker1}"))
    return names
