"""The screener (pairs/screener.py): the batched computation against statsmodels' own ``coint``, the stored runs on
both databases, ``python server.py screen`` and the /v4/screener routes."""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.tools.sm_exceptions import CollinearityWarning
from statsmodels.tsa.stattools import coint

import server
from bench.screener import universe as planted_universe
from pairs import jobs, market, messages, screener
from pairs.db import Store, Ticker
from tests.conftest import make_token
from tests.test_jobs import BlockingSource

FIXTURES = Path(__file__).parent / "fixtures" / "prices"
FIXTURE_SYMBOLS = ("BF A", "BF B", "EWA", "EWC", "KO", "PEP")


def seeded_universe() -> pd.DataFrame:
    """Random walks with two planted cointegrated pairs, and holes: a symbol that starts late, one with gaps."""
    closes, _ = planted_universe(symbols=12, days=200, planted=2, seed=7)
    closes.iloc[:50, 5] = np.nan  # S005 starts 50 days late
    closes.iloc[[20, 21, 90, 150], 8] = np.nan  # S008 misses four days
    return closes


def coint_of(closes: pd.DataFrame, y: str, x: str) -> tuple[float, float, int]:
    both = closes[[y, x]].dropna()
    slope = np.polyfit(both[x], both[y], 1)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollinearityWarning)
        return float(coint(both[y], both[x], trend="c", maxlag=1, autolag=None)[1]), float(slope), len(both)


def test_every_pvalue_and_hedge_equal_statsmodels_coint_in_the_direction_kept():
    closes = seeded_universe()
    results = screener.screen_closes(closes, min_obs=100)
    assert len(results) == 12 * 11 // 2
    rng = np.random.default_rng(20261129)
    for index in [0, 1, *rng.choice(len(results), size=20, replace=False)]:
        got = results[index]
        pvalue, hedge, nobs = coint_of(closes, got.ticker1, got.ticker2)
        reverse, _, _ = coint_of(closes, got.ticker2, got.ticker1)
        assert got.pvalue == pytest.approx(pvalue, abs=1e-6), (got.ticker1, got.ticker2)
        assert got.pvalue <= reverse + 1e-12  # the direction with the lower p-value is the one kept
        assert got.hedge == pytest.approx(hedge, abs=1e-9)
        assert got.nobs == nobs


def test_the_planted_pairs_come_first_and_qvalues_are_benjamini_hochberg():
    closes = seeded_universe()
    results = screener.screen_closes(closes, min_obs=100)
    assert {frozenset((r.ticker1, r.ticker2)) for r in results[:2]} == {frozenset(("S000", "S001")),
                                                                       frozenset(("S002", "S003"))}
    assert [r.pvalue for r in results] == sorted(r.pvalue for r in results)
    want = multipletests([r.pvalue for r in results], method="fdr_bh")[1]
    assert [r.qvalue for r in results] == pytest.approx(list(want), abs=1e-12)
    best = results[0]
    assert best.half_life is not None and 0 < best.half_life < 5  # AR(1) noise with phi 0.5: about a day
    assert best.corr > 0.5 and best.zscore is not None


def test_pairs_with_too_few_common_closes_or_a_flat_leg_are_not_tested():
    closes = seeded_universe()[["S004", "S005", "S006"]].copy()  # S005 has 150 closes
    assert {frozenset((r.ticker1, r.ticker2)) for r in screener.screen_closes(closes, min_obs=160)} == {
        frozenset(("S004", "S006"))}
    closes["FLAT"] = 10.0
    assert len(screener.screen_closes(closes, min_obs=100)) == 3
    assert screener.screen_closes(closes.iloc[:0], min_obs=100) == []


def test_a_perfectly_collinear_pair_gets_pvalue_zero_as_coint_does():
    closes = seeded_universe()[["S004"]].copy()
    closes["TWICE"] = 2 * closes["S004"] + 1
    (got,) = screener.screen_closes(closes, min_obs=100)
    assert got.pvalue == coint_of(closes, got.ticker1, got.ticker2)[0] == 0.0


def test_the_universe_file_skips_blank_lines_and_comments(tmp_path):
    path = tmp_path / "universe.txt"
    path.write_text("KO\n\n# soft drinks\nPEP  # the other one\nBF B\n")
    assert screener.read_universe(path) == ["KO", "PEP", "BF B"]


# ---------------------------------------------------------------------------------------------------------------
# Stored runs


def add_tickers_tx(symbols=FIXTURE_SYMBOLS) -> None:
    for n, symbol in enumerate(symbols):
        Ticker.create(symbol=symbol, active=(1, 0, -1)[n % 3])


def run_once(store, settings, extra=(), window=None):
    job_id = screener.begin(store)
    assert job_id is not None
    return screener.run(store, market.CsvFolderSource(FIXTURES), settings, job_id, extra, window)


def test_a_run_over_every_registered_ticker_is_stored_and_recorded_as_a_job(store, settings):
    settings.screener_min_obs = 60
    store.write_sync(add_tickers_tx, FIXTURE_SYMBOLS[:4])
    outcome = run_once(store, settings, extra=["KO", "PEP", "NOPE"])
    assert outcome["run"]["symbols"] == 7 and outcome["run"]["pairs_tested"] == 15  # NOPE has no prices
    latest = screener.latest(0)
    assert latest["run"] == outcome["run"] and latest["pairs"] == outcome["pairs"]
    assert (latest["pairs"][0]["ticker1"], latest["pairs"][0]["ticker2"]) == ("BF B", "BF A")
    assert list(latest["pairs"][0]) == list(screener.RESULT_KEYS)
    assert len(market.load_closes("PEP", market.DAILY)) == 90  # fetched bars are kept like the price job's
    (job,) = jobs.last_runs(5, screener.JOB)
    assert (job["pairs"], job["updated"], job["failed"]) == (15, 15, {"NOPE": "no prices"})
    assert job["finished"] is not None and job["message"] == ""
    assert screener.running() is None


def test_only_the_newest_runs_are_kept(store, settings):
    settings.screener_min_obs = 60
    store.write_sync(add_tickers_tx, ("KO", "PEP"))
    ids = [run_once(store, settings)["run"]["id"] for _ in range(screener.RUNS_KEPT + 2)]
    assert [r.id for r in screener.ScreenerRun.select().order_by(screener.ScreenerRun.id)] == ids[2:]
    assert {r.run for r in screener.ScreenerResult.select()} == set(ids[2:])
    assert screener.latest()["run"]["id"] == ids[-1]


def test_one_run_at_a_time(store, settings):
    first = screener.begin(store)
    try:
        assert first is not None and screener.begin(store) is None
        assert screener.running().job == first
    finally:
        screener.run(store, market.CsvFolderSource(FIXTURES), settings, first)
    assert screener.running() is None


# ---------------------------------------------------------------------------------------------------------------
# Command line


def test_screen_command_json_is_exactly_the_run_and_the_best_pairs(tmp_path, sqlite_url, capsys, monkeypatch):
    config = tmp_path / "config.ini"
    config.write_text(f"[SMA]\nPRICE_SOURCE = csv:{FIXTURES}\n[SCREENER]\nMIN_OBS = 60\n")
    universe = tmp_path / "universe.txt"
    universe.write_text("\n".join(FIXTURE_SYMBOLS) + "\n")
    monkeypatch.setattr(server, "configure_logging", lambda level: None)
    code = server.main(["screen", "--universe", str(universe), "--top", "3", "--json", "--window", "80",
                        "--config", str(config), "--database-url", sqlite_url])
    out, err = capsys.readouterr()
    assert code == 0, err
    body = json.loads(out)
    assert list(body) == ["run", "pairs"]
    assert list(body["run"]) == ["id", "started", "finished", "window", "symbols", "pairs_tested"]
    assert (body["run"]["window"], body["run"]["symbols"], body["run"]["pairs_tested"]) == (80, 6, 15)
    assert len(body["pairs"]) == 3 and all(list(p) == list(screener.RESULT_KEYS) for p in body["pairs"])
    closes = pd.DataFrame({s: market.CsvFolderSource(FIXTURES).fetch({s: s}, "1d")[s]["Close"]
                           for s in FIXTURE_SYMBOLS}).iloc[-80:]
    for pair in body["pairs"]:
        assert pair["pvalue"] == pytest.approx(coint_of(closes, pair["ticker1"], pair["ticker2"])[0], abs=1e-6)
        assert pair["nobs"] == 80
    assert "] 6/6 done" in err  # the progress bar

    code = server.main(["--config", str(config), "--database-url", sqlite_url, "screen", "--top", "2",
                        "--universe", str(universe)])
    out, err = capsys.readouterr()
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "screener run 2: 6 symbols, 15 pairs tested over 250 days"
    assert lines[1].split() == ["ticker1", "ticker2", "hedge", "pvalue", "qvalue", "half_life", "zscore", "corr",
                                "nobs"]
    assert lines[2].split()[:2] == ["BF", "B"] and len(lines) == 4


def test_screen_command_refuses_an_unreadable_universe(tmp_path, sqlite_url, capsys, monkeypatch):
    monkeypatch.setattr(server, "configure_logging", lambda level: None)
    code = server.main(["screen", "--universe", str(tmp_path / "missing.txt"), "--database-url", sqlite_url])
    assert code == 2 and "cannot read the universe file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# HTTP


async def finished_run(app) -> None:
    await app.ctx.extras["screener_run"]


@pytest.mark.gen_test(timeout=60)
async def test_screener_routes(app, api, admin_token, user_token):
    app.ctx.settings.screener_min_obs = 60
    app.ctx.extras["price_source"] = market.CsvFolderSource(FIXTURES)
    await app.ctx.store.write(add_tickers_tx)

    assert (await api.get("/v4/screener")).code == 401
    empty = await api.get("/v4/screener", token=user_token)
    assert empty.code == 200 and empty.json == {"run": None, "pairs": [], "running": None}
    assert (await api.post("/v4/screener", token=user_token)).code == 401  # not an admin
    stale = make_token("admin", True, fresh=False)
    assert (await api.post("/v4/screener", token=stale)).code == 401

    started = await api.post("/v4/screener", token=admin_token)
    assert started.code == 202 and started.json["message"] == messages.SCREENER_STARTED
    await finished_run(app)
    assert jobs.JobRun.get_by_id(started.json["job"]).job == "screener"
    reply = await api.get("/v4/screener?top=2", token=user_token)
    assert reply.code == 200 and reply.json["running"] is None
    assert reply.json["run"]["pairs_tested"] == 15 and len(reply.json["pairs"]) == 2
    assert (reply.json["pairs"][0]["ticker1"], reply.json["pairs"][0]["ticker2"]) == ("BF B", "BF A")
    assert len((await api.get("/v4/screener?top=0", token=user_token)).json["pairs"]) == 15
    assert (await api.get("/v4/screener?top=x", token=user_token)).code == 400


@pytest.mark.gen_test(timeout=60)
async def test_a_second_run_is_refused_while_one_is_in_progress(app, api, admin_token, user_token):
    app.ctx.settings.screener_min_obs = 60
    source = app.ctx.extras["price_source"] = BlockingSource()
    await app.ctx.store.write(add_tickers_tx)
    started = await api.post("/v4/screener", token=admin_token)
    try:
        assert started.code == 202
        assert await asyncio.get_running_loop().run_in_executor(None, source.fetching.wait, 10)
        busy = await api.post("/v4/screener", token=admin_token)
        assert busy.code == 409 and busy.json == {"message": messages.SCREENER_BUSY}
        progress = (await api.get("/v4/screener", token=user_token)).json["running"]
        assert progress["job"] == started.json["job"] and progress["step"].startswith("daily bars for 6")
    finally:
        source.release.set()
    await finished_run(app)
    assert (await api.get("/v4/screener", token=user_token)).json["run"]["pairs_tested"] == 15


def test_the_screener_tables_are_created_by_the_start_up_migration(sqlite_url):
    store = Store(sqlite_url)
    store.open()
    try:
        assert {"screener_runs", "screener_results"} <= set(store.db.get_tables())
    finally:
        store.close()
