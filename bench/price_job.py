"""How long a price run takes, and how the API answers meanwhile.  Prints figures; asserts nothing.

    .venv/bin/python bench/price_job.py [--pairs 40] [--database-url sqlite:///...]

Builds a CSV folder of synthetic prices (two symbols per pair, 250 sessions and 390 five-minute bars each), runs
the price job inside a live server while a client creates a ticker and lists the pairs back to back (reporting
those answers' latencies), then once more from the command line's code path (the bars are known by then).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import tornado.httpclient
import tornado.httpserver
import tornado.netutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handlers.app import make_app
from handlers.maintenance import job_control
from pairs import auth, jobs, market, users
from pairs.config import load_settings
from pairs.db import Pair, Store

NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.UTC)


def write_prices(folder: Path, symbols: list[str]) -> None:
    rng = np.random.default_rng(7)
    days = pd.bdate_range(end="2026-11-24", periods=250)
    minutes = pd.date_range("2026-11-18 09:30", periods=390, freq="5min", tz="America/New_York")
    for symbol in symbols:
        for name, index in (("1d", days.strftime("%Y-%m-%d 00:00:00-05:00")), ("5m", minutes.map(str))):
            close = 50 + np.cumsum(rng.normal(0, 0.5, len(index)))
            pd.DataFrame({"Datetime": index, "Open": close, "High": close + 0.2, "Low": close - 0.2, "Close": close,
                          "Volume": 1000}).to_csv(folder / f"{symbol}_{name}.csv", index=False)


async def latencies_during_run(app, token: str) -> tuple[list[float], float]:
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    client = tornado.httpclient.AsyncHTTPClient()
    control = job_control(app.ctx)
    control.now = lambda: NOW
    started = time.perf_counter()
    running = asyncio.ensure_future(control.prices(jobs.PRICES, gate=False))
    seen = []
    while not running.done():  # a write (a new ticker) and a read, back to back, until the run ends
        t0 = time.perf_counter()
        body = json.dumps({"symbol": f"B{len(seen)}", "sectype": "STK", "xch": "SMART", "prixch": "NYSE",
                           "currency": "USD", "active": 0})
        reply = await client.fetch(f"http://127.0.0.1:{port}/v4/ticker", method="POST", body=body,
                                   headers={"Authorization": f"Bearer {token}"}, raise_error=False)
        assert reply.code == 201, reply.body
        await client.fetch(f"http://127.0.0.1:{port}/v4/pairs/0", headers={"Authorization": f"Bearer {token}"})
        seen.append(time.perf_counter() - t0)
    await running
    took = time.perf_counter() - started
    server.stop()
    return seen, took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "prices"
        folder.mkdir()
        symbols = [f"S{i:03d}" for i in range(2 * args.pairs)]
        write_prices(folder, symbols)
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        settings = load_settings(None, environ={}, database_url=url, data_dir=tmp, jwt_secret_key="b" * 40,
                                 price_source=f"csv:{folder}")
        store = Store(url)
        store.open()

        def add_pairs_tx():
            for i in range(args.pairs):
                Pair.create(name=f"{symbols[2 * i]}-{symbols[2 * i + 1]}", ticker1=symbols[2 * i],
                            ticker2=symbols[2 * i + 1], hedge=1.0, status=1, contracts=100)

        store.write_sync(add_pairs_tx)
        source = market.CsvFolderSource(folder)
        store.write_sync(users.ensure_defaults_tx, settings, lambda pw: auth.hash_password(pw, 4))
        app = make_app(settings, store)
        app.ctx.extras["price_source"] = source
        token = auth.make_token(app.ctx.jwt_secret, "admin", "access", True, True,
                                stamp=users.find("admin").token_stamp)
        seen, took = asyncio.run(latencies_during_run(app, token))
        print(f"first run, inside the server (all bars new): {took:.2f} s; meanwhile {len(seen)} POST /v4/ticker + "
              f"GET /v4/pairs/0 answered, each pair of requests median {statistics.median(seen) * 1000:.1f} ms, "
              f"max {max(seen) * 1000:.1f} ms")
        t0 = time.perf_counter()
        outcome = jobs.run_price_job(store, source, settings, jobs.PRICES, NOW)
        print(f"second run (bars known, none changed): {time.perf_counter() - t0:.2f} s for {outcome.pairs} pairs, "
              f"{len(symbols)} symbols, {market.PriceBar.select().count()} bars stored, {outcome.updated} updated")
        app.ctx.executor.shutdown(wait=True)
        store.close()


if __name__ == "__main__":
    main()
