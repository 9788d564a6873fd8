"""The screener: which of the known symbols make a cointegrated pair (issue 12, SPEC A.8).

For every unordered pair of symbols with at least ``[SCREENER] MIN_OBS`` common completed daily closes among the
last ``[SCREENER] WINDOW`` days, the Engle-Granger test runs in both directions and the direction with the lower
p-value is kept, with its OLS hedge, the half-life and current z-score of its residual spread, the correlation of
the legs' returns and the number of observations; a Benjamini-Hochberg q-value is taken over every pair of the run.

Calling ``statsmodels.coint`` once per pair takes minutes for 200 symbols, so the regressions run batched in numpy
(one symbol against all later ones at a time); the p-values still come from statsmodels' own MacKinnon function,
so each equals ``coint(close1, close2, trend="c", maxlag=1, autolag=None)[1]``.

A run is a job like the price job: recorded in ``job_runs``, one at a time, never on the IOLoop.  Its results go in
``screener_runs`` / ``screener_results``; the newest ``RUNS_KEPT`` runs are kept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pairs import jobs, market, stats
from pairs.db import ScreenerResult, ScreenerRun, Store, Ticker, open_store, utcnow
from pairs.wire import format_timestamp

log = logging.getLogger("pairs.screener")

JOB = "screener"  # its name in job_runs
RUNS_KEPT = 5
RESULT_KEYS = ("ticker1", "ticker2", "hedge", "pvalue", "qvalue", "half_life", "zscore", "corr", "nobs")
RUN_KEYS = ("id", "started", "finished", "window", "symbols", "pairs_tested")
ROWS_PER_WRITE = 2000
COLLINEAR_R2 = 1 - 100 * 1.4901161193847656e-08  # statsmodels' coint: beyond this the test is skipped, p = 0

Progress = Callable[[str, int, int], None]


@dataclasses.dataclass
class PairResult:
    ticker1: str
    ticker2: str
    hedge: float
    pvalue: float
    qvalue: float | None
    half_life: float | None
    zscore: float | None
    corr: float | None
    nobs: int


# ---------------------------------------------------------------------------------------------------------------
# The computation (pure)


def _finite(value: float, digits: int | None = None) -> float | None:
    value = float(value)
    if not math.isfinite(value):
        return None
    return round(value, digits) if digits is not None else value


def engle_granger_batch(y, x):
    """Columns of ``y`` regressed on the matching columns of ``x`` (with a constant), then the ADF t-statistic of
    each residual (no constant, one lagged difference), as ``statsmodels.coint`` computes them.

    Returns (slopes, t-statistics, residuals); a perfectly collinear column gets t = −inf (coint's p-value 0).
    """
    import numpy as np

    x_dev = x - x.mean(axis=0)
    y_dev = y - y.mean(axis=0)
    sxx = (x_dev ** 2).sum(axis=0)
    slope = (x_dev * y_dev).sum(axis=0) / sxx
    resid = y_dev - slope * x_dev
    syy = (y_dev ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1 - (resid ** 2).sum(axis=0) / syy
    diff = np.diff(resid, axis=0)
    dep, level, lagdiff = diff[1:], resid[1:-1], diff[:-1]  # Δe(t) on e(t-1) and Δe(t-1)
    s11, s12, s22 = (level ** 2).sum(axis=0), (level * lagdiff).sum(axis=0), (lagdiff ** 2).sum(axis=0)
    s1y, s2y = (level * dep).sum(axis=0), (lagdiff * dep).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        det = s11 * s22 - s12 ** 2
        b1 = (s22 * s1y - s12 * s2y) / det
        b2 = (s11 * s2y - s12 * s1y) / det
        ssr = ((dep - b1 * level - b2 * lagdiff) ** 2).sum(axis=0)
        tstat = b1 / np.sqrt(ssr / (dep.shape[0] - 2) * s22 / det)
    tstat = np.where(r2 >= COLLINEAR_R2, -np.inf, tstat)
    return slope, tstat, resid


def _returns_corr(a, b):
    """Correlation of the returns of ``a`` (T,) with each column of ``b`` (T, k)."""
    import numpy as np

    ra = np.diff(a) / a[:-1]
    rb = np.diff(b, axis=0) / b[:-1]
    ra_dev = ra - ra.mean()
    rb_dev = rb - rb.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra_dev[:, None] * rb_dev).sum(axis=0) / np.sqrt((ra_dev ** 2).sum() * (rb_dev ** 2).sum(axis=0))


def screen_closes(closes: Any, min_obs: int = 120, progress: Progress | None = None) -> list[PairResult]:
    """Every pair of the columns of ``closes`` (a DataFrame of daily closes, one column per symbol, NaN where a
    symbol has no bar), best first (lowest p-value)."""
    import numpy as np
    from statsmodels.stats.multitest import multipletests
    from statsmodels.tsa.adfvalues import mackinnonp

    progress = progress or (lambda *_: None)
    symbols = [str(c) for c in closes.columns]
    values = closes.to_numpy(dtype="float64")
    valid = np.isfinite(values) & (values > 0)
    found: list[PairResult] = []
    total = len(symbols)
    for i, name in enumerate(symbols):
        progress(f"pairs with {name}", i, total)
        groups: dict[bytes, list[int]] = {}
        for j in range(i + 1, total):
            common = valid[:, i] & valid[:, j]
            if common.sum() >= max(min_obs, stats.MIN_COINT_OBS):
                groups.setdefault(np.packbits(common).tobytes(), []).append(j)
        for members in groups.values():
            rows = valid[:, i] & valid[:, members[0]]
            a = values[rows, i]
            b = values[rows][:, members]
            if np.ptp(a) == 0:
                continue
            keep = np.ptp(b, axis=0) > 0
            members = [m for m, k in zip(members, keep) if k]
            b = b[:, keep]
            if not members:
                continue
            a_wide = np.repeat(a[:, None], len(members), axis=1)
            slope_ab, t_ab, resid_ab = engle_granger_batch(a_wide, b)  # a on b
            slope_ba, t_ba, resid_ba = engle_granger_batch(b, a_wide)  # b on a
            corr = _returns_corr(a, b)
            for col, j in enumerate(members):
                p_ab = float(mackinnonp(t_ab[col], regression="c", N=2))
                p_ba = float(mackinnonp(t_ba[col], regression="c", N=2))
                if p_ab <= p_ba:
                    dependent, other, slope, pvalue, resid = name, symbols[j], slope_ab[col], p_ab, resid_ab[:, col]
                else:
                    dependent, other, slope, pvalue, resid = symbols[j], name, slope_ba[col], p_ba, resid_ba[:, col]
                spread_std = float(resid.std(ddof=1))
                found.append(PairResult(
                    ticker1=dependent, ticker2=other, hedge=float(slope), pvalue=pvalue, qvalue=None,
                    half_life=stats.half_life_of(float(stats.ar1_phi(resid))),
                    zscore=_finite(resid[-1] / spread_std, 4) if spread_std > 0 else None,
                    corr=_finite(corr[col], 4), nobs=int(rows.sum())))
    if found:
        qvalues = multipletests([r.pvalue for r in found], method="fdr_bh")[1]
        for result, qvalue in zip(found, qvalues):
            result.qvalue = _finite(qvalue)
    found.sort(key=lambda r: (r.pvalue, r.ticker1, r.ticker2))
    progress("done", total, total)
    return found


def closes_frame(series: dict[str, Any], window: int) -> Any:
    """One column per symbol on the union of their days, the last ``window`` days."""
    import pandas as pd

    if not series:
        return pd.DataFrame()
    frame = pd.concat({name: s for name, s in series.items()}, axis=1).sort_index()
    return frame.iloc[-window:]


# ---------------------------------------------------------------------------------------------------------------
# Stored runs


def read_universe(path: str | Path) -> list[str]:
    """One symbol per line (IB spelling); blank lines and ``#`` comments are skipped."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            out.append(text)
    return out


def universe(extra: Iterable[str] = ()) -> list[str]:
    """Every registered ticker, whatever its ``active``, plus ``extra`` symbols; sorted, no repeats."""
    return sorted({t.symbol for t in Ticker.select(Ticker.symbol)} | {s.strip() for s in extra if s.strip()})


def start_run_tx(window: int, job_run: int | None, started: dt.datetime) -> int:
    return ScreenerRun.insert(job_run=job_run, started=started, window=window).execute()


def add_results_tx(run_id: int, results: Sequence[PairResult]) -> int:
    rows = [{"run": run_id, **dataclasses.asdict(r)} for r in results]
    for start in range(0, len(rows), 500):
        ScreenerResult.insert_many(rows[start:start + 500]).execute()
    return len(rows)


def finish_run_tx(run_id: int, finished: dt.datetime, symbols: int, pairs_tested: int,
                  keep: int = RUNS_KEPT) -> None:
    """Close the run and drop the runs (and their results) beyond the newest ``keep``."""
    ScreenerRun.update(finished=finished, symbols=symbols, pairs_tested=pairs_tested).where(
        ScreenerRun.id == run_id).execute()
    oldest_kept = (ScreenerRun.select(ScreenerRun.id).order_by(ScreenerRun.id.desc()).offset(keep - 1).limit(1)
                   .scalar())
    if oldest_kept is not None:
        ScreenerResult.delete().where(ScreenerResult.run < oldest_kept).execute()
        ScreenerRun.delete().where(ScreenerRun.id < oldest_kept).execute()


def run_json(run: ScreenerRun) -> dict[str, Any]:
    return {"id": run.id, "started": format_timestamp(run.started),
            "finished": None if run.finished is None else format_timestamp(run.finished),
            "window": run.window, "symbols": run.symbols, "pairs_tested": run.pairs_tested}


def result_json(row: ScreenerResult | PairResult) -> dict[str, Any]:
    return {key: getattr(row, key) for key in RESULT_KEYS}


def latest(top: int = 100) -> dict[str, Any]:
    """The newest finished run and its best ``top`` pairs (0: all), best first."""
    run = (ScreenerRun.select().where(ScreenerRun.finished.is_null(False)).order_by(ScreenerRun.id.desc()).first())
    if run is None:
        return {"run": None, "pairs": []}
    query = (ScreenerResult.select().where(ScreenerResult.run == run.id)
             .order_by(ScreenerResult.pvalue, ScreenerResult.ticker1, ScreenerResult.ticker2))
    if top:
        query = query.limit(top)
    return {"run": run_json(run), "pairs": [result_json(r) for r in query]}


# ---------------------------------------------------------------------------------------------------------------
# The job


@dataclasses.dataclass
class Status:
    """What a run is doing now, for the dashboard's progress bar."""

    job: int | None = None
    step: str = ""
    done: int = 0
    total: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"job": self.job, "step": self.step, "done": self.done, "total": self.total}


_lock = threading.Lock()
status = Status()


def running() -> Status | None:
    return status if _lock.locked() else None


def begin(store: Store) -> int | None:
    """Claim the one screener slot and record the run in ``job_runs``; returns that row's id, or None when a run
    is already in progress.  The caller must then call ``run`` (which releases the slot)."""
    if not _lock.acquire(blocking=False):
        return None
    try:
        job_id = store.write_sync(jobs.record_run_tx, jobs.RunOutcome(job=JOB, started=utcnow(),
                                                                      message="running"))
    except BaseException:
        _lock.release()
        raise
    status.job, status.step, status.done, status.total = job_id, "starting", 0, 0
    return job_id


def run(store: Store, source: market.PriceSource, settings: Any, job_id: int, extra: Iterable[str] = (),
        window: int | None = None, now: dt.datetime | None = None,
        progress: Progress | None = None) -> dict[str, Any]:
    """One screener run claimed by ``begin``: fetch, compute, store.  Returns ``{"run": ..., "pairs": [...]}``
    with every pair tested, best first."""
    try:
        return store.read_in_thread(_run, store, source, settings, job_id, list(extra),
                                    window or settings.screener_window, now, progress)
    finally:
        status.job = None
        _lock.release()


def _run(store: Store, source: market.PriceSource, settings: Any, job_id: int, extra: list[str], window: int,
         now: dt.datetime | None, progress: Progress | None) -> dict[str, Any]:
    def report(step: str, done: int, total: int) -> None:
        status.step, status.done, status.total = step, done, total
        if progress:
            progress(step, done, total)

    started = utcnow()
    run_id = store.write_sync(start_run_tx, window, job_id, started)
    failed: dict[str, str] = {}
    results: list[PairResult] = []
    symbols = universe(extra)
    try:
        report(f"daily bars for {len(symbols)} symbols", 0, len(symbols) + 1)
        fetched = jobs.fetch_and_store(store, source, market.yahoo_symbols(symbols), market.DAILY)
        today, closed = jobs.session_day(now or dt.datetime.now(dt.UTC), settings)
        series = {}
        for symbol in symbols:
            daily = stats.completed_daily(market.load_closes(symbol, market.DAILY), today, closed)
            if symbol not in fetched:
                failed[symbol] = "no prices" + (" (stored bars used)" if not daily.empty else "")
            if not daily.empty:
                series[symbol] = daily
        results = screen_closes(closes_frame(series, window), settings.screener_min_obs, report)
    except Exception as exc:  # recorded like a failed price run; the server goes on
        log.exception("screener run failed")
        failed["run"] = str(exc)
    finished = utcnow()
    for start in range(0, len(results), ROWS_PER_WRITE):  # small writes: a webhook never waits behind a run
        store.write_sync(add_results_tx, run_id, results[start:start + ROWS_PER_WRITE])
    store.write_sync(finish_run_tx, run_id, finished, len(symbols), len(results))
    store.write_sync(finish_job_tx, job_id, finished, len(results), failed)
    log.info("screener run: %d symbols, %d pairs tested", len(symbols), len(results))
    return {"run": run_json(ScreenerRun.get_by_id(run_id)), "pairs": [result_json(r) for r in results]}


def finish_job_tx(job_id: int, finished: dt.datetime, pairs_tested: int, failed: dict[str, str]) -> None:
    jobs.JobRun.update(finished=finished, pairs=pairs_tested, updated=pairs_tested,
                  failed=json.dumps(failed) if failed else None,
                  message="failed" if "run" in failed else None).where(jobs.JobRun.id == job_id).execute()


# ---------------------------------------------------------------------------------------------------------------
# Command line: python server.py screen [--universe FILE] [--window N] [--top N] [--json]


def register_commands(sub: Any) -> None:
    p = sub.add_parser(
        "screen", help="find cointegrated pairs among the known symbols (the screener), with a progress bar",
        description="Test every pair of the registered tickers (whatever their active value) and of the "
                    "symbols of --universe for cointegration over the last [SCREENER] WINDOW daily closes, "
                    "fetched from [SMA] PRICE_SOURCE; print the best pairs and store the run for the dashboard.",
        epilog="exit status: 0 for a run that completed, 1 when it failed, 2 for an unreadable universe file.")
    jobs._connection_options(p)
    p.add_argument("--universe", metavar="FILE", help="more symbols, one a line (IB spelling)")
    p.add_argument("--window", type=int, metavar="N", help="daily closes to look at (default [SCREENER] WINDOW)")
    p.add_argument("--top", type=int, default=20, metavar="N", help="pairs to print, best first (default 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_screen)


def format_table(pairs: Sequence[dict[str, Any]]) -> str:
    def number(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = [f"{'ticker1':<10} {'ticker2':<10} {'hedge':>9} {'pvalue':>9} {'qvalue':>9} {'half_life':>9} "
             f"{'zscore':>7} {'corr':>7} {'nobs':>5}"]
    for p in pairs:
        lines.append(f"{p['ticker1']:<10} {p['ticker2']:<10} {p['hedge']:>9.4f} {p['pvalue']:>9.6f} "
                     f"{number(p['qvalue'], '>9.6f')} {number(p['half_life'], '>9.2f')} "
                     f"{number(p['zscore'], '>7.2f')} {number(p['corr'], '>7.3f')} {p['nobs']:>5}")
    return "\n".join(lines)


def cmd_screen(settings: Any, args: Any) -> int:
    import sys

    try:
        extra = read_universe(args.universe) if args.universe else []
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read the universe file: {exc}", file=sys.stderr)
        return 2
    if args.window is not None and args.window < 2:
        print("--window must be at least 2", file=sys.stderr)
        return 2
    source = market.make_price_source(settings.price_source, cache_dir=jobs.yfinance_cache(settings))
    store = open_store(settings)
    try:
        job_id = begin(store)
        assert job_id is not None  # nothing else runs the screener in this process
        outcome = run(store, source, settings, job_id, extra, args.window, progress=jobs._progress_bar(sys.stderr))
        failed = jobs.last_runs(1, JOB)[0]["failed"]
    finally:
        store.close()
    shown = outcome["pairs"][:max(args.top, 0)]
    if args.json:
        print(json.dumps({"run": outcome["run"], "pairs": shown}))
    else:
        run_info = outcome["run"]
        print(f"screener run {run_info['id']}: {run_info['symbols']} symbols, {run_info['pairs_tested']} pairs "
              f"tested over {run_info['window']} days")
        if shown:
            print(format_table(shown))
    if "run" in failed:
        print(f"the run failed: {failed['run']}", file=sys.stderr)
        return 1
    return 0
