"""What runs when: the price job (SPEC §8.1 with A.4), the exchange-session gate, the schedule, run records.

The job functions here are plain blocking functions: the server runs them in its executor (handlers/background.py
ticks the ``schedule`` definitions from a Tornado PeriodicCallback), ``python server.py refresh-prices`` runs them
in the foreground.  Every database write goes through the store's writer; reads happen on the calling thread.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import schedule

from pairs import market, push, stats
from pairs.config import ConfigError, Settings
from pairs.db import JobRun, Pair, Store, Ticker, utcnow
from pairs.vocab import Activity

log = logging.getLogger("pairs.jobs")

PRICES = "prices"
WATCHLIST = "watchlist"
EMAIL = "email"
PAIR_STATUS = {PRICES: Activity.ACTIVE, WATCHLIST: Activity.WATCHLIST}


@dataclasses.dataclass
class RunOutcome:
    job: str
    started: dt.datetime
    finished: dt.datetime | None = None
    pairs: int = 0
    updated: int = 0
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    message: str = ""
    symbols_priced: int = 0  # symbols the price source answered for; 0 with legs asked for: unreachable


RUNS_KEPT = 500  # per job: weeks of price runs every 20 minutes of the session; job_runs stays small


def record_run_tx(outcome: RunOutcome, keep: int = RUNS_KEPT) -> int:
    """Store one run and drop that job's runs beyond the newest ``keep``."""
    row_id = JobRun.insert(job=outcome.job, started=outcome.started, finished=outcome.finished,
                           pairs=outcome.pairs, updated=outcome.updated,
                           failed=json.dumps(outcome.failed) if outcome.failed else None,
                           message=outcome.message or None).execute()
    oldest_kept = (JobRun.select(JobRun.id).where(JobRun.job == outcome.job).order_by(JobRun.id.desc())
                   .offset(keep - 1).limit(1).scalar())
    if oldest_kept is not None:
        JobRun.delete().where((JobRun.job == outcome.job) & (JobRun.id < oldest_kept)).execute()
    return row_id


def _failures(text: str | None) -> dict[str, str]:
    """The stored ``failed`` column as {what: why}; text that is not a JSON object is shown as it is."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {"?": text}


def last_runs(limit: int = 20, job: str | None = None) -> list[dict[str, Any]]:
    """The newest runs first, for the dashboard: ``job, started, finished, pairs, updated, failed, message``."""
    query = JobRun.select().order_by(JobRun.started.desc(), JobRun.id.desc())
    if job:
        query = query.where(JobRun.job == job)
    return [{"job": run.job, "started": run.started, "finished": run.finished, "pairs": run.pairs,
             "updated": run.updated, "failed": _failures(run.failed), "message": run.message or ""}
            for run in query.limit(limit)]


# ---------------------------------------------------------------------------------------------------------------
# The exchange-session gate (§8.1): Mon–Fri strictly between open − extension and close + extension, exchange time.


def parse_weekdays(text: str) -> frozenset[int]:
    """``"1,2,3,4,5"`` or ``"1-5"`` -> ISO weekdays (1 = Monday)."""
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            low, _, high = part.partition("-")
            days.update(range(int(low), int(high or low) + 1))
        except ValueError:
            raise ConfigError(f"[EXCHANGE] SESSION_WEEKDAYS: {part!r} is not a weekday number 1-7") from None
    if not days or not days <= set(range(1, 8)):
        raise ConfigError(f"[EXCHANGE] SESSION_WEEKDAYS must list weekdays 1 (Monday) to 7, not {text!r}")
    return frozenset(days)


def _clock(text: str, key: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"[EXCHANGE] {key} must be HH:MM:SS, not {text!r}") from None


def exchange_zone(settings: Settings) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(settings.exchange_timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[EXCHANGE] EXCHANGE_TIMEZONE {settings.exchange_timezone!r} is not a time zone name "
                          "(e.g. US/Eastern, America/Toronto)") from None


def _exchange_time(now: dt.datetime, settings: Settings) -> dt.datetime:
    if now.tzinfo is None:  # naive means UTC, as everything stored
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(exchange_zone(settings))


def session_bounds(now: dt.datetime, settings: Settings) -> tuple[dt.datetime, dt.datetime] | None:
    """(open − extension, close + extension) of the exchange day at ``now``; None on a day without a session."""
    local = _exchange_time(now, settings)
    if local.isoweekday() not in parse_weekdays(settings.session_weekdays):
        return None
    extension = dt.timedelta(minutes=settings.session_extension_min)
    opens = dt.datetime.combine(local.date(), _clock(settings.session_start, "SESSION_START"), local.tzinfo)
    closes = dt.datetime.combine(local.date(), _clock(settings.session_end, "SESSION_END"), local.tzinfo)
    return opens - extension, closes + extension


def in_session(now: dt.datetime, settings: Settings) -> bool:
    """Is ``now`` (aware, or naive UTC) strictly inside the extended exchange session?"""
    bounds = session_bounds(now, settings)
    return bounds is not None and bounds[0] < _exchange_time(now, settings) < bounds[1]


def next_session_open(now: dt.datetime, settings: Settings) -> dt.datetime | None:
    """When the extended session next opens after ``now``, in exchange time (None: no weekday has a session)."""
    local = _exchange_time(now, settings)
    for days in range(8):
        bounds = session_bounds(local + dt.timedelta(days=days), settings)
        if bounds is not None and bounds[0] > local:
            return bounds[0]
    return None


def closed_notice(now: dt.datetime, settings: Settings) -> str:
    """Why ``/sma`` did nothing: the session is closed, and when it opens."""
    opens = next_session_open(now, settings)
    when = f"; it opens {opens:%a %Y-%m-%d %H:%M} {settings.exchange_timezone}" if opens else ""
    return f"Not updated: the exchange session is closed{when}. The watchlist can be updated at any time."


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A price run that did not happen, and the line that says why."""

    notice: str


BUSY_NOTICE = "Not updated: a run of this job is already under way."
FAILED_NOTICE = "Not updated: the run failed (see the log)."


def cannot_run_notice(error: ConfigError) -> str:
    return f"Not updated: the price job cannot run: {error}"


def run_notice(outcome: RunOutcome | Skipped, source_spec: str) -> str:
    """One line for the page (and the command line) on what a price run did, or why it did nothing."""
    if isinstance(outcome, Skipped):
        return outcome.notice
    if outcome.pairs == 0:
        if outcome.job == WATCHLIST:
            return "0 pairs: no pair is on the watchlist. Give one the status watchlist on SETUP."
        return ("0 pairs: no pair is active. Activate one on SETUP (a pair trades only when it is active and "
                "neither leg is an active ticker).")
    if outcome.updated == 0 and outcome.symbols_priced == 0:
        where = (f"found no prices in {source_spec[4:]}" if source_spec.startswith("csv:")
                 else "could not reach Yahoo")
        return f"Not updated: {where} for any of the {outcome.pairs} pairs' legs. Check it, then try again."
    text = f"{outcome.updated} of {outcome.pairs} pairs updated"
    if outcome.failed:
        text += f"; {len(outcome.failed)} failed: " + "; ".join(f"{k}: {v}" for k, v in outcome.failed.items())
    return text + "."


def session_day(now: dt.datetime, settings: Settings) -> tuple[dt.date, bool]:
    """(the exchange's calendar day at ``now``, whether that day's session has closed)."""
    local = _exchange_time(now, settings)
    return local.date(), local.time() >= _clock(settings.session_end, "SESSION_END")


# ---------------------------------------------------------------------------------------------------------------
# The price job

_running = {PRICES: threading.Lock(), WATCHLIST: threading.Lock()}

Progress = Callable[[str, int, int], None]
BARS_PER_WRITE = 500  # about 30 ms of the writer's time on SQLite


def save_pair_stats_tx(results: dict[str, tuple[float, stats.PairStats]], stale: list[str],
                       when: dt.datetime) -> int:
    """Store computed statistics; mark ``stale`` pairs.  A pair whose hedge changed meanwhile keeps its values."""
    updated = 0
    for name, (hedge, values) in results.items():
        updated += (Pair.update(act_price=values.act_price, sma=values.sma, sma_dist=values.sma_dist,
                                std=values.std, zscore=values.zscore, hedge_ols=values.hedge_ols,
                                coint_pvalue=values.coint_pvalue, half_life=values.half_life,
                                spread_adf_pvalue=values.spread_adf_pvalue, corr=values.corr,
                                stats_updated=when, stale=0)
                    .where((Pair.name == name) & (Pair.hedge == hedge)).execute())
    if stale:
        Pair.update(stale=1).where(Pair.name.in_(stale)).execute()
    return updated


def fetch_and_store(store: Store, source: market.PriceSource, yahoo: dict[str, str], interval: str) -> set[str]:
    """One batched download of ``yahoo`` ({leg symbol: Yahoo symbol}) kept in ``price_bars``; returns the symbols
    that had bars.  The source's exceptions reach the caller."""
    bars = source.fetch(yahoo, interval) if yahoo else {}
    rows = [row for symbol, frame in bars.items() for row in market.changed_bars(symbol, interval, frame)]
    for start in range(0, len(rows), BARS_PER_WRITE):  # small writes: a webhook never waits behind a year
        store.write_sync(market.store_bars_tx, rows[start:start + BARS_PER_WRITE])
    return set(bars)


def run_price_job(store: Store, source: market.PriceSource, settings: Settings, job: str = PRICES,
                  now: dt.datetime | None = None, progress: Progress | None = None) -> RunOutcome | None:
    """Fetch, store and compute for every pair of ``job`` (active pairs, or watchlist pairs); no session gate.

    Returns None when a run of the same job is already in progress (that run will do the work).  One symbol
    without prices marks only its own pairs stale; the outcome is recorded in ``job_runs`` either way.
    """
    lock = _running[job]
    if not lock.acquire(blocking=False):
        return None
    try:
        return store.read_in_thread(_price_run, store, source, settings, job, now, progress or (lambda *_: None))
    finally:
        lock.release()


def _price_run(store: Store, source: market.PriceSource, settings: Settings, job: str,
               now: dt.datetime | None, progress: Progress) -> RunOutcome:
    outcome = RunOutcome(job=job, started=utcnow())
    pairs = list(Pair.select().where(Pair.status == PAIR_STATUS[job]).order_by(Pair.rowid))
    outcome.pairs = len(pairs)
    legs = {leg for pair in pairs for leg in (pair.ticker1, pair.ticker2) if leg}
    yahoo = market.yahoo_symbols(legs)
    total = len(market.INTERVALS) + len(pairs)
    fetched: dict[str, set[str]] = {}
    for step, interval in enumerate(market.INTERVALS):
        progress(f"{interval} bars for {len(yahoo)} symbols", step, total)
        try:
            fetched[interval] = fetch_and_store(store, source, yahoo, interval)
        except Exception as exc:  # a broken source is "no data": pairs go stale, the server stays up
            log.exception("price source failed for %s bars", interval)
            outcome.message = f"price source failed: {exc}"
            fetched[interval] = set()
    outcome.symbols_priced = len(set().union(*fetched.values()))
    store.write_sync(market.prune_intraday_tx)

    today, closed = session_day(now or dt.datetime.now(dt.UTC), settings)
    results: dict[str, tuple[float, stats.PairStats]] = {}
    for number, pair in enumerate(pairs):
        progress(f"pair {pair.name}", len(market.INTERVALS) + number, total)
        missing = [f"{leg} (Yahoo {yahoo[leg]})" if yahoo[leg] != leg else leg
                   for leg in dict.fromkeys((pair.ticker1, pair.ticker2))
                   if leg and not all(leg in fetched[i] for i in market.INTERVALS)]
        if not pair.ticker1 or not pair.ticker2 or pair.hedge is None:
            outcome.failed[pair.name] = "the pair has no legs or no hedge"
            continue
        if missing:
            outcome.failed[pair.name] = "no prices for " + ", ".join(missing)
            continue
        try:
            results[pair.name] = (pair.hedge, _pair_values(pair, today, closed, settings))
        except Exception as exc:  # one pair's bad data must not stop the others (A.4)
            log.exception("statistics of %s failed", pair.name)
            outcome.failed[pair.name] = f"statistics failed: {exc}"
    outcome.finished = utcnow()
    outcome.updated = store.write_sync(save_pair_stats_tx, results, list(outcome.failed), outcome.finished)
    progress("done", total, total)
    store.write_sync(record_run_tx, outcome)
    push.price_run(store, settings, job, outcome.failed, today, {pair.name: pair.zscore for pair in pairs},
                   {name: values.zscore for name, (_, values) in results.items()})
    log.info("%s run: %d pairs, %d updated, %d stale%s", job, outcome.pairs, outcome.updated, len(outcome.failed),
             "".join(f"; {name}: {why}" for name, why in outcome.failed.items()))
    return outcome


def _pair_values(pair: Pair, today: dt.date, closed: bool, settings: Settings) -> stats.PairStats:
    daily1 = stats.completed_daily(market.load_closes(pair.ticker1, market.DAILY), today, closed)
    daily2 = stats.completed_daily(market.load_closes(pair.ticker2, market.DAILY), today, closed)
    last1 = float(market.load_closes(pair.ticker1, market.INTRADAY).iloc[-1])
    last2 = float(market.load_closes(pair.ticker2, market.INTRADAY).iloc[-1])
    return stats.pair_stats(daily1, daily2, last1, last2, pair.hedge, settings.sma_window, settings.coint_window)


# ---------------------------------------------------------------------------------------------------------------
# The schedule (§8): what runs how often.  The caller ticks ``scheduler.run_pending`` and supplies the actions,
# which must return at once (the server's actions hand the work to its executor).


def build_schedule(settings: Settings, prices: Callable[[], Any], email: Callable[[], Any]) -> schedule.Scheduler:
    scheduler = schedule.Scheduler()
    if settings.enable_sma_calc:
        scheduler.every(max(1, settings.sma_calc_period)).minutes.do(prices).tag(PRICES)
    if settings.enable_email_notifications or settings.notify_urls:  # the e-mail and the push alerts' check
        scheduler.every(max(1, settings.mail_check_period)).seconds.do(email).tag(EMAIL)
    return scheduler


def yfinance_cache(settings: Settings) -> Path:
    return Path(settings.data_dir) / "yfinance"


def set_yahoo_symbol_tx(symbol: str, yahoo: str | None) -> bool:
    return Ticker.update(yahoo_symbol=yahoo or None).where(Ticker.symbol == symbol).execute() > 0
