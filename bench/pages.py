"""Dashboard page latency of a real ``python server.py`` with many stored signals (SQLite).

    python bench/pages.py                      # 100,000 and 1,000,000 signals (the 1,000,000 load takes ~1 min)
    python bench/pages.py --rows 100000 --requests 50

Prints p50/p99 of each page, anonymous and logged in (a session cookie from the login form), with the signals
spread over a year and four pairs, so the list page's day ranges and average slips work on real selections.  Each
signal has its timings row (pairs.lifecycle), so the logged-in LIST and pair pages compute the p50/p90 of every
latency and the average slip per leg over their range.
The client is ``http.client`` in this process; the server is a child process, so both share the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_process import ServerProcess

PAIRS = (("LNT", "FTS", 1.25), ("KO", "PEP", 0.4), ("EWA", "EWC", 0.9), ("BF A", "BF B", 1.0))
START = dt.datetime(2025, 11, 1)
STEP = dt.timedelta(seconds=30)  # 1,000,000 signals cover about a year


def bulk_load(db: Path, total: int) -> None:
    """Top the signals table up to ``total`` rows: a signal every 30 s, four pairs, slips, mostly filled."""
    conn = sqlite3.connect(db)
    have = conn.execute("SELECT COUNT(*) FROM signals").fetchone()[0]
    rng = random.Random(11)
    statuses = ["filled"] * 90 + ["waiting"] * 4 + ["canceled"] * 4 + ["error"] * 2
    with conn:
        for start in range(have, total, 50_000):
            rows = []
            for i in range(start, min(total, start + 50_000)):
                t1, t2, hedge = PAIRS[i % len(PAIRS)]
                status = rng.choice(statuses)
                filled = status == "filled"
                rows.append(((START + i * STEP).strftime("%Y-%m-%d %H:%M:%S"), f"{t1}-{hedge}*{t2}",
                             rng.choice(("buy", "sell")), 100, 1.5, "comment <b>", status, "pair", t1, t2, hedge,
                             1.51 if filled else None, round(rng.uniform(-0.05, 0.05), 4) if filled else None))
            conn.executemany(
                "INSERT INTO signals (timestamp, ticker, order_action, order_contracts, order_price, order_comment, "
                "order_status, ticker_type, ticker1, ticker2, hedge_param, fill_price, slip) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    with conn:  # each signal's latencies and leg slips (pairs.lifecycle), for the aggregates of LIST and the pair page
        conn.execute(
            "INSERT INTO signal_timings (signal_rowid, stored, alert_ms, pickup_ms, leg1_ms, leg2_ms, filled_ms, "
            "slip1, slip2) SELECT rowid, timestamp, 300 + abs(random() % 4000), 1000 + abs(random() % 20000), "
            "CASE WHEN fill_price IS NULL THEN NULL ELSE 200 + abs(random() % 9000) END, "
            "CASE WHEN fill_price IS NULL THEN NULL ELSE 200 + abs(random() % 9000) END, "
            "CASE WHEN fill_price IS NULL THEN NULL ELSE 2000 + abs(random() % 30000) END, "
            "CASE WHEN fill_price IS NULL THEN NULL ELSE (abs(random() % 1000) - 500) / 100000.0 END, "
            "CASE WHEN fill_price IS NULL THEN NULL ELSE (abs(random() % 1000) - 500) / 100000.0 END "
            "FROM signals WHERE rowid > (SELECT COALESCE(MAX(signal_rowid), 0) FROM signal_timings)")
        conn.executemany("INSERT OR IGNORE INTO pairs (name, ticker1, ticker2, hedge, status) VALUES (?,?,?,?,1)",
                         [(f"{t1}-{t2}", t1, t2, hedge) for t1, t2, hedge in PAIRS])
    conn.execute("ANALYZE")
    conn.close()


class Client:
    """Keep-alive connection with a cookie jar of one session."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes, float]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        seconds = time.perf_counter() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name] = value
        return response.status, payload, seconds

    def login(self) -> None:
        self.request("GET", "/login")
        form = urllib.parse.urlencode({"username": "admin", "password": "password", "expire": "60",
                                       "_xsrf": self.cookies["_xsrf"]})
        status, payload, _ = self.request("POST", "/login", form)
        if status != 302 or "pairs_session" not in self.cookies:
            raise SystemExit(f"login failed: {status} {payload[:200]!r}")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.1f} ms"


def pages(total: int) -> list[tuple[str, bool]]:
    last = START + (total - 1) * STEP
    month = (last - dt.timedelta(days=30)).date().isoformat(), last.date().isoformat()
    old = (START + dt.timedelta(days=3)).date().isoformat()
    return [
        ("/dashboard", False), ("/dashboard", True), (f"/dashboard?before={total // 2}", True),
        (f"/list?ticker_webhook=LNT-FTS&start_date={month[0]}&end_date={month[1]}", True),
        (f"/list?ticker_webhook=KO-PEP&start_date={old}&end_date={old}", True),
        ("/list?ticker_webhook=LNT-FTS&start_date=2000-01-01&end_date=2099-12-31", True),
        ("/pair/LNT-FTS", True),
        ("/positions", True), ("/watchlist", True), ("/setup", True), ("/deliveries", True),
    ]


def aggregate_queries(db: Path, total: int, requests: int) -> None:
    """The LIST page's two range queries alone, in this process: the average slips (SPEC §7.4) and the lifecycle
    aggregates (p50/p90 of five latencies, average slip per leg), so the page's figure can be told apart."""
    from pairs import dashboard
    from pairs.db.models import database
    from pairs.db.urls import open_database

    connection = open_database(f"sqlite:///{db}")
    database.initialize(connection)
    last = START + (total - 1) * STEP
    ranges = {"a month": (last - dt.timedelta(days=30), last + dt.timedelta(days=1)),
              "all time": (dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1))}
    try:
        for label, (since, until) in ranges.items():
            for name, query in (("average slips", dashboard.average_slips),
                                ("latency aggregates", dashboard.latency_aggregates)):
                latencies = []
                for _ in range(requests):
                    started = time.perf_counter()
                    query("LNT-FTS", since, until)
                    latencies.append(time.perf_counter() - started)
                print(f"{total:>9,} signals  in-process {name:<18} of LNT-FTS over {label:<8}  "
                      f"p50 {ms(statistics.median(latencies))}  p99 {ms(percentile(latencies, 99))}")
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000,1000000", help="signal counts to measure at (default %(default)s)")
    parser.add_argument("--requests", type=int, default=100, metavar="N", help="requests per page (default 100)")
    parser.add_argument("--workdir", help="keep the database and server log here instead of a temporary folder")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pairs-bench-pages-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "bench.db"
    env = {"JWT_SECRET_KEY": "bench-" + "s" * 40, "WEBHOOK_PASSPHRASE": "webhook"}
    print(f"pairs page bench: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version},"
          f" database {db}")
    ServerProcess(workdir, f"sqlite:///{db}", env=env).start().stop()  # creates the schema and the users
    for total in (int(r) for r in args.rows.split(",") if r.strip()):
        started = time.perf_counter()
        bulk_load(db, total)
        loaded = time.perf_counter() - started
        server = ServerProcess(workdir, f"sqlite:///{db}", env=env).start()
        try:
            anonymous, user = Client(server.port), Client(server.port)
            user.login()
            for path, logged_in in pages(total):
                client = user if logged_in else anonymous
                latencies = []
                for _ in range(args.requests):
                    status, payload, seconds = client.request("GET", path)
                    if status != 200:
                        raise SystemExit(f"{path} answered {status} {payload[:300]!r}")
                    latencies.append(seconds)
                who = "user" if logged_in else "anon"
                print(f"{total:>9,} signals  {who}  GET {path[:72]:<72} p50 {ms(statistics.median(latencies))}  "
                      f"p99 {ms(percentile(latencies, 99))}")
            print(f"          (table filled in {loaded:.0f} s)")
        finally:
            server.stop()
        aggregate_queries(db, total, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
