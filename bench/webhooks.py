"""Webhook and signal-list performance of a real ``python server.py`` on a temporary SQLite database.

    python bench/webhooks.py                 # everything (the 1,000,000-row step takes about a minute)
    python bench/webhooks.py --rows 100000   # lists at 100,000 rows only
    python bench/webhooks.py --help

    python bench/webhooks.py --notify --rows ''   # webhooks without, then with push notifications on

Prints: sequential webhook latency (p50/p99), throughput and latency with 8 and 32 concurrent keep-alive clients
(and checks that every acknowledged signal is in the database); with ``--notify`` the same again on a fresh
database with ``[NOTIFY] URLS`` pointing at a JSON receiver this script runs on loopback and ``EVENTS`` including
``received`` (every webhook is an event, folded per ``FOLD_SEC``); then the latency of
``GET /v4/signals/status/waiting/0`` and ``GET /v4/signals/20`` with 100,000 and 1,000,000 stored signals.
The client is plain asyncio sockets in this process; the server is a child process, so both share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_process import ServerProcess
from pairs import auth

JWT_SECRET = "bench-" + "s" * 40
# ../shared/bench/limit_probe.py's body (plus order_comment, to count the stored rows of a run)
PROBE_WEBHOOK = {"passphrase": "webhook", "ticker": "NYSE:LNT-1.25*NYSE:FTS", "order_action": "buy",
                 "order_contracts": 10, "order_price": 1.5}
PAIR_WEBHOOK = {"passphrase": "webhook", "ticker": "NYSE:LNT-1.25*NYSE:FTS", "order_action": "buy",
                "order_contracts": 10, "order_price": 1.5, "mar_pos": "long", "mar_pos_size": 10,
                "pre_mar_pos": "flat", "pre_mar_pos_size": 0, "order_comment": "bench"}


class Connection:
    """One keep-alive HTTP/1.1 connection; ``request`` returns (status, body, seconds)."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = "",
                      content_type: str = "application/json") -> tuple[int, bytes, float]:
        assert self.reader and self.writer
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
                f"Content-Type: {content_type}\r\n{headers}\r\n").encode()
        started = time.perf_counter()
        self.writer.write(head + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload, time.perf_counter() - started

    def close(self) -> None:
        if self.writer:
            self.writer.close()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


# --alerts: "same" posts PAIR_WEBHOOK again and again, so every alert after the first is a duplicate of the one before
# (the continuity check's worst case: a finding written per webhook); "advancing" posts what a TradingView strategy
# sends, each client for its own pair, entering and leaving in turn (flat -> long 10, long 10 -> flat): every
# alert continues its pair's sequence, so the check reads the previous alert and writes nothing.
ALERTS = ("same", "advancing")
_steps: dict[int, int] = {}  # per client's pair: alerts sent so far, across the runs of one server


def pair_legs(number: int) -> tuple[str, str]:
    """Client ``number``'s pair in the "advancing" workload; client 0 has the bench's own LNT-FTS."""
    if number == 0:
        return "LNT", "FTS"
    letters = chr(65 + number // 26) + chr(65 + number % 26)  # letters only: a digit would read as a hedge
    return "LNT" + letters, "FTS" + letters


def webhook_body(tag: str, alerts: str = "same", number: int = 0) -> bytes:
    if alerts == "same":
        return json.dumps({**PAIR_WEBHOOK, "order_comment": tag}).encode()
    step = _steps.get(number, 0)
    _steps[number] = step + 1
    first, second = pair_legs(number)
    entering = step % 2 == 0
    return json.dumps({**PAIR_WEBHOOK, "ticker": f"NYSE:{first}-1.25*NYSE:{second}", "order_comment": tag,
                       "order_action": "buy" if entering else "sell",
                       "mar_pos": "long" if entering else "flat", "mar_pos_size": 10 if entering else 0,
                       "pre_mar_pos": "flat" if entering else "long", "pre_mar_pos_size": 0 if entering else 10}
                      ).encode()


async def register_instruments(port: int, db: Path, pairs: int = 1) -> None:
    with sqlite3.connect(db) as conn:  # a token names the account by its stamp
        stamp = conn.execute("SELECT token_stamp FROM users WHERE username = 'admin'").fetchone()[0]
    conn.close()
    token = auth.make_token(JWT_SECRET, "admin", "access", True, True, stamp=stamp)
    conn = await Connection(port).open()
    auth_header = f"Authorization: Bearer {token}\r\n"
    for first, second in map(pair_legs, range(pairs)):
        for path, body in (("/v4/ticker", {"symbol": first}), ("/v4/ticker", {"symbol": second}),
                           ("/v4/pair", {"ticker1": first, "ticker2": second, "hedge": 1.25, "status": 1,
                                         "contracts": 10})):
            status, payload, _ = await conn.request("POST", path, json.dumps(body).encode(), auth_header)
            if status != 201:
                raise SystemExit(f"setup {path} failed: {status} {payload!r}")
    conn.close()


async def sequential(port: int, count: int, alerts: str = "same") -> list[float]:
    conn = await Connection(port).open()
    latencies = []
    for number in range(count):
        status, payload, seconds = await conn.request("POST", "/v4/webhook", webhook_body(f"seq-{number}", alerts))
        if status != 200:
            raise SystemExit(f"webhook answered {status} {payload!r}")
        latencies.append(seconds)
    conn.close()
    return latencies


async def concurrent(port: int, clients: int, duration: float, tag: str,
                     alerts: str = "same") -> tuple[list[str], list[float], int]:
    """``clients`` connections posting webhooks back to back for ``duration`` s -> (acked tags, latencies, errors)."""
    acked: list[str] = []
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def client(number: int) -> None:
        nonlocal errors
        conn = await Connection(port).open()
        sent = 0
        while time.perf_counter() < deadline:
            name = f"{tag}-{number}-{sent}"
            status, _, seconds = await conn.request("POST", "/v4/webhook", webhook_body(name, alerts, number))
            sent += 1
            if status == 200:
                acked.append(name)
                latencies.append(seconds)
            else:
                errors += 1
        conn.close()

    await asyncio.gather(*(client(n) for n in range(clients)))
    return acked, latencies, errors


def wrk_run(port: int, clients: int, duration: float, tag: str, workdir: Path) -> tuple[int, float, str]:
    """wrk (C, apt-get install wrk) posting one webhook body back to back, as ../shared/bench/limit_probe.py drives
    its servers: the same client for both, so their ratio compares the servers -> (2xx answers, rate, p99)."""
    script = workdir / f"{tag}.lua"
    body = json.dumps({**PROBE_WEBHOOK, "order_comment": tag})
    script.write_text(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = {json.dumps(body)}\n")
    out = subprocess.run(["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{duration:.0f}s", "--latency", "-s",
                          str(script), f"http://127.0.0.1:{port}/v4/webhook"],
                         capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    if failed or errors:
        raise SystemExit(f"wrk saw failures: {out}")
    return requests, float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), re.search(r"99%\s+(\S+)", out).group(1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): a figure other load on the machine does not skew."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stored_comments(db: Path, prefix: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT order_comment FROM signals WHERE order_comment LIKE ?",
                                           (prefix + "%",))}


def stored_count(db: Path, comment: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM signals WHERE order_comment = ?", (comment,)).fetchone()[0]


def findings_count(db: Path) -> int | str:
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM continuity_findings").fetchone()[0]
        except sqlite3.OperationalError:  # a version of pairs before the continuity check
            return "none (no continuity check)"


def bulk_load(db: Path, total: int) -> None:
    """Top the signals table up to ``total`` rows straight through SQLite: mostly filled, a few waiting/rerouted."""
    conn = sqlite3.connect(db)
    have = conn.execute("SELECT COUNT(*) FROM signals").fetchone()[0]
    statuses = ["filled"] * 90 + ["waiting"] * 4 + ["rerouted"] * 4 + ["error"] * 2
    rng = random.Random(7)
    chunk = 50_000
    with conn:
        for start in range(have, total, chunk):
            rows = []
            for _ in range(start, min(total, start + chunk)):
                status = rng.choice(statuses)
                rows.append(("2026-11-25 10:00:00", "NYSE:LNT-1.25*NYSE:FTS", "buy", 10, 1.5, "long", 10, "flat", 0,
                             "bulk", status, "pair", "LNT", "FTS", 1.25, rng.randrange(10**6), rng.randrange(10**6)))
            conn.executemany(
                "INSERT INTO signals (timestamp, ticker, order_action, order_contracts, order_price, mar_pos, "
                "mar_pos_size, pre_mar_pos, pre_mar_pos_size, order_comment, order_status, ticker_type, ticker1, "
                "ticker2, hedge_param, order_id1, order_id2) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.execute("ANALYZE")
    conn.close()


async def list_latency(port: int, path: str, count: int) -> list[float]:
    conn = await Connection(port).open()
    latencies = []
    for _ in range(count):
        status, payload, seconds = await conn.request("GET", path)
        if status != 200:
            raise SystemExit(f"{path} answered {status} {payload!r}")
        latencies.append(seconds)
    conn.close()
    return latencies


def webhook_runs(workdir: Path, db: Path, env: dict[str, str], args: argparse.Namespace) -> None:
    """The sequential and concurrent webhook runs on a fresh server in ``workdir``."""
    server = ServerProcess(workdir, f"sqlite:///{db}", env=env).start()
    try:
        clients_list = [int(c) for c in args.clients.split(",") if c.strip()]
        asyncio.run(register_instruments(server.port, db, max(clients_list) if args.alerts == "advancing" else 1))
        latencies = asyncio.run(sequential(server.port, args.sequential, args.alerts))
        print(f"sequential webhooks ({len(latencies)}, pair equation, {args.alerts} alerts, 200 answers): "
              f"p50 {ms(percentile(latencies, 50))}  p99 {ms(percentile(latencies, 99))}  "
              f"mean {ms(statistics.fmean(latencies))}", flush=True)
        for clients in clients_list:
            tag = f"c{clients}"
            started, cpu_before = time.perf_counter(), cpu_seconds(server.process.pid)
            acked, lat, errors = asyncio.run(concurrent(server.port, clients, args.duration, tag, args.alerts))
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(server.process.pid) - cpu_before
            durable = stored_comments(db, tag + "-")
            lost = len(set(acked) - durable)
            print(f"{clients:>3} clients, {args.duration:.0f} s: {len(acked) / elapsed:,.0f} accepted webhooks/s  "
                  f"p50 {ms(percentile(lat, 50))}  p99 {ms(percentile(lat, 99))}  errors {errors}  "
                  f"acknowledged {len(acked)}, in the database {len(durable)}, lost {lost}; server CPU "
                  f"{cpu * 1000 / max(1, len(acked)):.2f} ms per webhook", flush=True)
            if args.wrk:
                tag = f"wrk{clients}"
                cpu_before = cpu_seconds(server.process.pid)
                answered, rate, p99 = wrk_run(server.port, clients, args.duration, tag, workdir)
                cpu = cpu_seconds(server.process.pid) - cpu_before
                stored = stored_count(db, tag)
                print(f"{clients:>3} clients, {args.duration:.0f} s, wrk: {rate:,.0f} webhooks/s  p99 {p99}  "
                      f"answered 200 {answered}, in the database {stored}, lost {max(0, answered - stored)}; server CPU "
                      f"{cpu * 1000 / max(1, answered):.2f} ms per webhook", flush=True)
        print(f"continuity findings written: {findings_count(db)} ({args.alerts} alerts)", flush=True)
    finally:
        server.stop()


class JsonReceiver:
    """What Apprise's ``json://`` posts to, on loopback: counts the messages, answers 200."""

    def __init__(self) -> None:
        self.count = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequential", type=int, default=2000, metavar="N",
                        help="webhooks sent one after another (default 2000)")
    parser.add_argument("--clients", default="8,32", help="concurrent keep-alive clients, comma-separated "
                        "(default 8,32)")
    parser.add_argument("--duration", type=float, default=10.0, metavar="SEC",
                        help="seconds of each concurrent run (default 10)")
    parser.add_argument("--rows", default="100000,1000000",
                        help="table sizes for the list latencies, comma-separated; empty to skip (default "
                        "100000,1000000)")
    parser.add_argument("--list-requests", type=int, default=300, metavar="N",
                        help="requests per list measurement (default 300)")
    parser.add_argument("--alerts", choices=ALERTS, default="same",
                        help="same: one alert again and again, each a duplicate finding (the default, the worst "
                        "case); advancing: each client a pair of its own, entering and leaving in turn, as a "
                        "strategy does (no finding)")
    parser.add_argument("--workdir", help="keep the database and server log here instead of a temporary folder")
    parser.add_argument("--wrk", action="store_true", help="also drive the concurrent runs with wrk and "
                        "../shared/bench/limit_probe.py's body, the client the probe uses (apt-get install wrk)")
    parser.add_argument("--notify", action="store_true", help="run the webhooks again with push notifications on "
                        "(every webhook a 'received' event to a JSON receiver on loopback) and compare")
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pairs-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "bench.db"
    if db.exists():
        raise SystemExit(f"{db} exists; use an empty --workdir")
    env = {"JWT_SECRET_KEY": JWT_SECRET, "WEBHOOK_PASSPHRASE": "webhook"}
    print(f"pairs webhook bench: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, SQLite "
          f"{sqlite3.sqlite_version} (synchronous=FULL, WAL), database {db}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine "
          "skews every figure below)", flush=True)

    webhook_runs(workdir, db, env, args)
    if args.notify:
        receiver = JsonReceiver()
        folder = workdir / "notify"
        folder.mkdir()
        url = f"json://127.0.0.1:{receiver.port}/hook"
        print(f"with notifications: every webhook is a 'received' event to {url}", flush=True)
        webhook_runs(folder, folder / "bench.db", {**env, "PAIRS_NOTIFY_URLS": url,
                                                   "PAIRS_NOTIFY_EVENTS": "received"}, args)
        with sqlite3.connect(folder / "bench.db") as conn:
            outcomes = dict(conn.execute("SELECT outcome, COUNT(*) FROM notifications GROUP BY outcome").fetchall())
            events = conn.execute("SELECT COALESCE(SUM(events), 0) FROM notifications").fetchone()[0]
        conn.close()
        print(f"notifications: {receiver.count} messages received carrying {events} events; recorded {outcomes}",
              flush=True)
        receiver.close()

    for total in (int(r) for r in args.rows.split(",") if r.strip()):
        started = time.perf_counter()
        bulk_load(db, total)
        loaded = time.perf_counter() - started
        server = ServerProcess(workdir, f"sqlite:///{db}", env=env).start()
        try:
            for path in ("/v4/signals/status/waiting/0", "/v4/signals/20"):
                lat = asyncio.run(list_latency(server.port, path, args.list_requests))
                print(f"{total:>9,} signals  GET {path:<30} p50 {ms(percentile(lat, 50))}  "
                      f"p99 {ms(percentile(lat, 99))}   (table filled in {loaded:.0f} s)", flush=True)
        finally:
            server.stop()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; server log: "
          f"{workdir / 'server.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
