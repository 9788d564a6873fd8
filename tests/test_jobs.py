"""The price job against a real database (SQLite and PostgreSQL), the maintenance routes and the command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path

import pandas as pd
import pytest

import server
from handlers.maintenance import job_control
from pairs import jobs, market, messages
from pairs.db import Pair, Store
from pairs.wire import pair_json
from tests.signal_fixtures import newest_signal, webhook
from tests.test_stats import computed_stats

FIXTURES = Path(__file__).parent / "fixtures" / "prices"
TUESDAY_3PM_NEW_YORK = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)
SATURDAY = dt.datetime(2026, 11, 28, 17, 0, tzinfo=dt.UTC)

PAIRS = [  # name, ticker1, ticker2, hedge, status
    ("KO-PEP", "KO", "PEP", 0.36, 1),
    ("BF A-BF B", "BF A", "BF B", 1.0, 1),
    ("EWA-ZZZ", "EWA", "ZZZ", 0.5, 1),  # ZZZ has no prices anywhere
    ("EWA-EWC", "EWA", "EWC", 0.6, -1),  # watchlist
]


def add_pairs_tx() -> None:
    for name, t1, t2, hedge, status in PAIRS:
        Pair.create(name=name, ticker1=t1, ticker2=t2, hedge=hedge, status=status, contracts=100, act_price=0,
                    sma=0, sma_dist=0, std=0)


def pair(name: str) -> Pair:
    return Pair.get(Pair.name == name)


@pytest.fixture
def pairs_db(store):
    store.write_sync(add_pairs_tx)
    return store


def run(store, settings, source=None, job=jobs.PRICES, now=TUESDAY_3PM_NEW_YORK):
    return jobs.run_price_job(store, source or market.CsvFolderSource(FIXTURES), settings, job, now)


def test_price_run_updates_pairs_and_marks_only_the_missing_symbols_pair_stale(pairs_db, settings):
    outcome = run(pairs_db, settings)
    assert (outcome.job, outcome.pairs, outcome.updated) == ("prices", 3, 2)
    assert outcome.failed == {"EWA-ZZZ": "no prices for ZZZ"}

    for name, t1, t2, hedge, _ in PAIRS[:2]:
        want = computed_stats(t1, t2, hedge, dt.date(2026, 11, 24))
        got = pair(name)
        assert (got.act_price, got.sma, got.std, got.sma_dist) == (want.act_price, want.sma, want.std,
                                                                   want.sma_dist)
        assert (got.zscore, got.hedge_ols, got.coint_pvalue) == (want.zscore, want.hedge_ols, want.coint_pvalue)
        assert (got.half_life, got.spread_adf_pvalue, got.corr) == (want.half_life, want.spread_adf_pvalue,
                                                                    want.corr)
        assert got.spread_adf_pvalue is not None and got.corr is not None
        assert got.stale == 0 and got.stats_updated == outcome.finished
    stale = pair("EWA-ZZZ")
    assert stale.stale == 1 and stale.sma == 0 and stale.stats_updated is None
    watch = pair("EWA-EWC")
    assert watch.stale is None and watch.sma == 0  # not a watchlist run

    # every bar fetched is stored once: a second run refreshes rows instead of adding them
    assert market.PriceBar.select().where(market.PriceBar.symbol == "KO").count() == 90 + 78
    run(pairs_db, settings)
    assert market.PriceBar.select().where(market.PriceBar.symbol == "KO").count() == 90 + 78
    assert len(market.load_closes("EWA", market.DAILY)) == 90  # EWA's bars were stored though its pair is stale

    runs = jobs.last_runs(5)
    assert len(runs) == 2 and runs[0]["started"] >= runs[1]["started"]
    assert runs[0] == {"job": "prices", "started": runs[0]["started"], "finished": runs[0]["finished"],
                       "pairs": 3, "updated": 2, "failed": {"EWA-ZZZ": "no prices for ZZZ"}, "message": ""}


def test_only_new_or_revised_bars_are_written_again(pairs_db, settings):
    run(pairs_db, settings)
    daily = market.CsvFolderSource(FIXTURES).fetch({"KO": "KO"}, market.DAILY)["KO"]
    assert market.changed_bars("KO", market.DAILY, daily) == []
    revised = daily.copy()
    revised.loc[revised.index[-1], "Close"] += 0.5  # the day's bar moved
    revised.loc[pd.Timestamp("2026-11-25")] = [64.0, 65.0, 63.0, 64.5, 1000.0]  # and a new session began
    rows = market.changed_bars("KO", market.DAILY, revised)
    assert [(r["time"], r["close"]) for r in rows] == [
        (dt.datetime(2026, 11, 24), daily["Close"].iloc[-1] + 0.5), (dt.datetime(2026, 11, 25), 64.5)]
    assert pairs_db.write_sync(market.store_bars_tx, rows) == 2
    assert list(market.load_closes("KO", market.DAILY).iloc[-2:]) == [daily["Close"].iloc[-1] + 0.5, 64.5]


def test_old_intraday_bars_are_pruned_daily_bars_kept(pairs_db, settings):
    old = [{"symbol": "KO", "interval": interval, "time": dt.datetime(2025, 1, 2, 15, 0), "close": 1.0}
           for interval in (market.DAILY, market.INTRADAY)]
    pairs_db.write_sync(market.store_bars_tx, old)
    run(pairs_db, settings)
    assert market.load_closes("KO", market.INTRADAY).index[0] == pd.Timestamp("2026-11-24 14:30")
    assert market.load_closes("KO", market.DAILY).index[0] == pd.Timestamp("2025-01-02 15:00")


@pytest.mark.gen_test
async def test_a_bad_exchange_setting_is_logged_not_raised(app, settings, caplog):
    settings.exchange_timezone = "Mars/Olympus"
    assert await job_control(app.ctx).prices(jobs.PRICES, gate=True) is None
    assert "price job cannot run: [EXCHANGE] EXCHANGE_TIMEZONE 'Mars/Olympus'" in caplog.text


class WithoutSymbols:
    """The fixture folder with some symbols gone (a delisting, a Yahoo outage for one name)."""

    def __init__(self, *missing: str):
        self.csv = market.CsvFolderSource(FIXTURES)
        self.missing = set(missing)

    def fetch(self, symbols, interval):
        return self.csv.fetch({k: v for k, v in symbols.items() if k not in self.missing}, interval)


def test_a_pair_that_goes_stale_keeps_its_last_values_and_says_so(pairs_db, settings):
    run(pairs_db, settings)
    before = pair_json(pair("KO-PEP"))
    outcome = run(pairs_db, settings, WithoutSymbols("PEP"))
    assert outcome.failed == {"KO-PEP": "no prices for PEP", "EWA-ZZZ": "no prices for ZZZ"}
    assert outcome.updated == 1
    after = pair_json(pair("KO-PEP"))
    assert after["stale"] is True
    assert {k: v for k, v in after.items() if k != "stale"} == {k: v for k, v in before.items() if k != "stale"}
    assert pair_json(pair("BF A-BF B"))["stale"] is False


def test_mapped_yahoo_symbol_is_named_in_the_failure(pairs_db, settings):
    def add_tx():
        Pair.create(name="BF A-USD.CAD", ticker1="BF A", ticker2="USD.CAD", hedge=1.0, status=1)

    pairs_db.write_sync(add_tx)
    outcome = run(pairs_db, settings)
    assert outcome.failed["BF A-USD.CAD"] == "no prices for USD.CAD (Yahoo USDCAD=X)"


def test_broken_source_is_no_data_for_all_and_is_recorded(pairs_db, settings):
    class Broken:
        def fetch(self, symbols, interval):
            raise RuntimeError("disk on fire")

    outcome = run(pairs_db, settings, Broken())
    assert outcome.updated == 0 and len(outcome.failed) == 3
    assert jobs.last_runs(1)[0]["message"] == "price source failed: disk on fire"


def test_hedge_changed_during_the_run_keeps_the_new_hedge_unpolluted(pairs_db, settings):
    class ChangesHedge(WithoutSymbols):
        def fetch(self, symbols, interval):
            if interval == market.INTRADAY:  # someone edits the pair while prices are downloading
                pairs_db.write_sync(lambda: Pair.update(hedge=0.5).where(Pair.name == "KO-PEP").execute())
            return super().fetch(symbols, interval)

    outcome = run(pairs_db, settings, ChangesHedge())
    assert outcome.updated == 1  # BF only: KO-PEP's values were computed with the old hedge
    assert pair("KO-PEP").sma == 0 and pair("KO-PEP").hedge == 0.5


def test_pair_json_has_the_original_keys_first_then_the_statistics(pairs_db, settings):
    run(pairs_db, settings)
    body = pair_json(pair("BF A-BF B"))
    assert list(body) == ["name", "ticker1", "ticker2", "hedge", "status", "notes", "contracts", "act_price", "sma",
                          "sma_dist", "std", "zscore", "hedge_ols", "coint_pvalue", "stats_updated", "stale",
                          "half_life", "spread_adf_pvalue", "corr"]
    assert isinstance(body["stats_updated"], str) and len(body["stats_updated"]) == 19
    fresh = pair_json(pair("EWA-EWC"))
    assert (fresh["zscore"], fresh["hedge_ols"], fresh["coint_pvalue"], fresh["stats_updated"], fresh["stale"]) == (
        None, None, None, None, False)
    assert (fresh["half_life"], fresh["spread_adf_pvalue"], fresh["corr"]) == (None, None, None)


# ---------------------------------------------------------------------------------------------------------------
# Inside the server


class BlockingSource(WithoutSymbols):
    """Blocks in fetch until the test releases it, so the test can act while a run is in progress."""

    def __init__(self):
        super().__init__()
        self.fetching = threading.Event()
        self.release = threading.Event()

    def fetch(self, symbols, interval):
        self.fetching.set()
        if not self.release.wait(30):
            raise AssertionError("the test never released the price source")
        return super().fetch(symbols, interval)


def test_job_runs_keep_the_newest_runs_of_each_job(store):
    start = dt.datetime(2026, 11, 24, 15, 0)

    def outcome(job: str, minute: int) -> jobs.RunOutcome:
        return jobs.RunOutcome(job=job, started=start + dt.timedelta(minutes=minute), pairs=minute)

    for minute in range(7):
        store.write_sync(jobs.record_run_tx, outcome(jobs.PRICES, minute), 3)
    store.write_sync(jobs.record_run_tx, outcome(jobs.WATCHLIST, 0), 3)
    store.write_sync(jobs.record_run_tx, outcome(jobs.EMAIL, 1), 3)
    assert [r["pairs"] for r in jobs.last_runs(20, jobs.PRICES)] == [6, 5, 4]
    assert [r["job"] for r in jobs.last_runs(20)] == ["prices", "prices", "prices", "email", "watchlist"]
    assert jobs.RUNS_KEPT == 500


def test_job_runs_show_a_failed_column_that_is_not_json_as_text(store):
    store.write_sync(lambda: jobs.JobRun.insert(job="prices", started=dt.datetime(2026, 11, 20), pairs=1,
                                                updated=0, failed="failed-0").execute())
    assert jobs.last_runs(1)[0]["failed"] == {"?": "failed-0"}


@pytest.mark.gen_test(timeout=30)
async def test_webhooks_are_answered_while_a_price_run_is_in_progress(app, api, admin_token):
    await app.ctx.store.write(add_pairs_tx)
    source = BlockingSource()
    app.ctx.extras["price_source"] = source
    control = job_control(app.ctx)
    control.now = lambda: TUESDAY_3PM_NEW_YORK
    running = asyncio.ensure_future(control.prices(jobs.PRICES, gate=True))
    try:
        assert await asyncio.get_running_loop().run_in_executor(None, source.fetching.wait, 10)
        # a TradingView alert for one of the pairs (its legs are no tickers here: recorded as problematic)
        reply = await api.post("/v4/webhook", webhook("KO-0.36*PEP"))
        assert reply.code == 201 and reply.json == {"message": "recorded with problematic ticker!"}, reply
        assert newest_signal().ticker == "KO-0.36*PEP"
        listed = await api.get("/v4/pairs/0", token=admin_token)
        assert listed.code == 200 and not running.done()  # answered while the run still waits for prices
    finally:
        source.release.set()
    outcome = await running
    assert outcome.updated == 2
    reply = await api.get("/v4/pair/KO-PEP", token=admin_token)
    assert reply.json["sma"] != 0 and reply.json["stale"] is False and reply.json["coint_pvalue"] is not None
    assert reply.json["spread_adf_pvalue"] is not None and reply.json["corr"] is not None
    listed = await api.get("/v4/pairs/0", token=admin_token)
    by_name = {p["name"]: p for p in listed.json["pairs"]}
    assert list(by_name["KO-PEP"])[-3:] == ["half_life", "spread_adf_pvalue", "corr"]
    assert by_name["KO-PEP"]["corr"] == reply.json["corr"]


@pytest.mark.gen_test(timeout=30)
async def test_maintenance_routes_need_a_login_then_run_and_redirect(app, api, admin_token, user_token):
    await app.ctx.store.write(add_pairs_tx)
    app.ctx.extras["price_source"] = market.CsvFolderSource(FIXTURES)
    control = job_control(app.ctx)

    for path in ("/sma", "/update_watchlist"):
        reply = await api.get(path)
        assert reply.code == 401 and reply.json["error"] == "authorization_required", reply
    assert jobs.last_runs(5) == []

    reply = await api.call("HEAD", "/update_watchlist", token=user_token)
    assert reply.code == 302 and jobs.last_runs(5) == []  # HEAD is safe

    control.now = lambda: SATURDAY  # /sma keeps the session gate: nothing runs
    reply = await api.get("/sma", token=user_token)
    assert reply.code == 302 and reply.headers["Location"].split("?")[0] == "/positions"
    assert jobs.last_runs(5) == []

    control.now = lambda: TUESDAY_3PM_NEW_YORK
    reply = await api.get("/sma", token=user_token)
    assert reply.code == 302 and reply.headers["Location"].split("?")[0] == "/positions"
    assert pair("KO-PEP").sma != 0

    control.now = lambda: SATURDAY  # the watchlist update has no gate
    reply = await api.get("/update_watchlist", token=user_token)
    assert reply.code == 302 and reply.headers["Location"].split("?")[0] == "/watchlist"
    assert pair("EWA-EWC").sma != 0
    assert [r["job"] for r in jobs.last_runs(5)] == ["watchlist", "prices"]


@pytest.mark.gen_test(timeout=30)
async def test_schedule_hooks_start_and_stop(app, settings):
    settings.enable_sma_calc = True
    settings.enable_email_notifications = True
    settings.sma_calc_period = 20
    settings.mail_check_period = 90
    control = job_control(app.ctx)
    app.ctx.extras["price_source"] = market.CsvFolderSource(FIXTURES)
    server_hooks = (server.STARTUP_HOOKS, server.SHUTDOWN_HOOKS)
    assert any(h.__name__ == "start_jobs" for h in server_hooks[0])
    for start in server.STARTUP_HOOKS:
        start(app.ctx)
    try:
        assert control.callback is not None and control.callback.is_running()
        assert sorted(str(next(iter(job.tags))) for job in control.scheduler.jobs) == ["email", "prices"]
        periods = sorted((job.interval, job.unit) for job in control.scheduler.jobs)
        assert periods == [(20, "minutes"), (90, "seconds")]
        assert await control.email() is None  # nothing to report: no message, no run recorded
        assert jobs.last_runs(5) == []
    finally:
        for stop in server.SHUTDOWN_HOOKS:
            stop(app.ctx)
    assert control.callback is None and control.scheduler.jobs == []


# ---------------------------------------------------------------------------------------------------------------
# Command line


def test_refresh_prices_command(tmp_path, sqlite_url, capsys, monkeypatch):
    store = Store(sqlite_url)
    store.open()
    store.write_sync(add_pairs_tx)
    store.close()
    config = tmp_path / "config.ini"
    config.write_text(f"[SMA]\nPRICE_SOURCE = csv:{FIXTURES}\n")
    monkeypatch.setattr(server, "configure_logging", lambda level: None)

    code = server.main(["refresh-prices", "--watchlist", "--once", "--config", str(config),
                        "--database-url", sqlite_url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out == "watchlist: 1 pairs, 1 updated, 0 stale\n"
    assert "[" + "#" * 30 + "] 3/3 done" in err

    code = server.main(["--config", str(config), "--database-url", sqlite_url, "refresh-prices", "--once"])
    out, err = capsys.readouterr()
    assert code == 1  # a pair is stale
    assert out == "prices: 3 pairs, 2 updated, 1 stale\n  EWA-ZZZ: no prices for ZZZ\n"
    store.open()  # the runs are recorded for the dashboard like the server's
    try:
        runs = [{k: r[k] for k in ("job", "pairs", "updated", "failed")} for r in jobs.last_runs(5)]
        assert runs == [{"job": "prices", "pairs": 3, "updated": 2, "failed": {"EWA-ZZZ": "no prices for ZZZ"}},
                        {"job": "watchlist", "pairs": 1, "updated": 1, "failed": {}}]
        assert all(r["finished"] >= r["started"] for r in jobs.last_runs(5))
    finally:
        store.close()


def test_refresh_prices_help_names_the_options_of_the_issue(capsys):
    with pytest.raises(SystemExit) as exit_:
        server.main(["refresh-prices", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: server.py refresh-prices [-h] [--config PATH] [--database-url URL] [--watchlist] "
                           "[--once]")
    for words in ("ignoring the exchange-session gate", "progress bar", "--watchlist the watchlist pairs",
                  "--once one pass, then exit", "--config PATH as for the server", "--database-url URL as for the "
                  "server", "1 when some are stale"):
        assert words in text, words


def test_yahoo_symbol_command(sqlite_url, capsys, monkeypatch):
    from pairs.db import Ticker

    store = Store(sqlite_url)
    store.open()
    store.write_sync(lambda: Ticker.create(symbol="RCI B", sectype="STK", active=0))
    store.close()
    monkeypatch.setattr(server, "configure_logging", lambda level: None)
    assert server.main(["--database-url", sqlite_url, "yahoo-symbol", "RCI B"]) == 0
    assert capsys.readouterr().out == "RCI B -> RCI-B\n"
    assert server.main(["--database-url", sqlite_url, "yahoo-symbol", "RCI B", "RCI-B.TO"]) == 0
    assert capsys.readouterr().out == "RCI B -> RCI-B.TO\n"
    assert server.main(["--database-url", sqlite_url, "yahoo-symbol", "RCI B", ""]) == 0
    assert capsys.readouterr().out == "RCI B -> RCI-B\n"
    assert server.main(["--database-url", sqlite_url, "yahoo-symbol", "NOPE", "X"]) == 1
    assert server.main(["--database-url", sqlite_url, "yahoo-symbol", "RCI B", "RCI B.TO"]) == 2
    assert "a Yahoo symbol has letters" in capsys.readouterr().err
    assert server.main(["--database-url", sqlite_url, "yahoo-symbol", "RCI B"]) == 0
    assert capsys.readouterr().out == "RCI B -> RCI-B\n"


@pytest.mark.gen_test(timeout=30)
async def test_update_now_button_posts_with_the_session_cookie_and_the_xsrf_token(app, api):
    from tests.test_pages import Browser

    await app.ctx.store.write(add_pairs_tx)
    app.ctx.extras["price_source"] = market.CsvFolderSource(FIXTURES)
    job_control(app.ctx).now = lambda: TUESDAY_3PM_NEW_YORK
    browser = Browser(api)
    assert (await browser.login("user1")).code == 302
    page = (await browser.get("/watchlist")).text
    assert '<form method="post" action="/update_watchlist"' in page and 'name="_xsrf"' in page

    assert '<form method="post" action="/sma"' in (await browser.get("/positions")).text
    assert 'action="/sma"' not in (await api.get("/positions")).text

    # a link from anywhere (SameSite=Lax sends the cookie on it) or a forged form runs nothing
    for path in ("/update_watchlist", "/sma"):
        reply = await browser.get(path)
        assert reply.code == 302 and reply.headers["Location"] == ("/watchlist" if "watch" in path else "/positions")
        forged = await browser.call("POST", path, xsrf=False)
        assert forged.code == 403 and forged.json == {"message": messages.CSRF_FAILED}
    assert jobs.last_runs(5) == [] and pair("EWA-EWC").sma == 0

    reply = await browser.form("/update_watchlist", {"_xsrf": browser.cookies["_xsrf"]})
    assert reply.code == 302 and reply.headers["Location"].split("?")[0] == "/watchlist"
    assert pair("EWA-EWC").sma != 0 and pair("EWA-EWC").stale == 0
    reply = await browser.form("/sma", {"_xsrf": browser.cookies["_xsrf"]})
    assert reply.code == 302 and reply.headers["Location"].split("?")[0] == "/positions"
    assert [r["job"] for r in jobs.last_runs(5)] == ["prices", "watchlist"]
    anonymous = await api.call("POST", "/update_watchlist")
    assert anonymous.code == 401 and anonymous.json["error"] == "authorization_required"
