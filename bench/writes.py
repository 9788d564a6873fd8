"""Throughput of the single writer through a real ``python server.py``: account-PNL POSTs and ticker-PNL PUTs
with 1, 8 and 32 concurrent clients, then reads while 32 clients write.  Prints figures; asserts nothing.

    .venv/bin/python bench/writes.py [--requests 2000] [--database-url postgresql://...]

Every acknowledged POST is counted back in the database at the end (lost writes would show as a difference).
The client is Tornado's HTTP client in this process; the server is a child process, so both share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import tornado.httpclient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_process import ServerProcess


async def run(url: str, requests: int, clients: int, make) -> tuple[float, list[float], int]:
    http = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=clients)
    latencies: list[float] = []
    failures = 0
    queue = iter(range(requests))

    async def worker() -> None:
        nonlocal failures
        for i in queue:
            method, path, body = make(i)
            start = time.perf_counter()
            reply = await http.fetch(url + path, method=method, body=body and json.dumps(body),
                                     headers={"Content-Type": "application/json"}, raise_error=False)
            latencies.append(time.perf_counter() - start)
            failures += reply.code >= 300

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    http.close()
    return elapsed, latencies, failures


def report(name: str, elapsed: float, latencies: list[float], failures: int) -> None:
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"{name:<44} {len(latencies) / elapsed:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   "
          f"failures {failures}")


async def main_async(args: argparse.Namespace, url: str) -> int:
    pnl = lambda i: ("POST", "/v4/pnl", {"passphrase": "webhook", "NetLiquidation": i})
    push = lambda i: ("PUT", "/v4/ticker/pnl", {"passphrase": "webhook", "symbol": f"T{i % 20}",
                                                "active_pos": i, "active_pnl": i, "active_cost": i})
    read = lambda i: ("GET", "/v4/ticker/T1", None)
    http = tornado.httpclient.AsyncHTTPClient(force_instance=True)
    login = await http.fetch(url + "/v4/login", method="POST",
                             body=json.dumps({"username": "admin", "password": "password"}))
    token = json.loads(login.body)["access_token"]
    for i in range(20):
        await http.fetch(url + "/v4/ticker", method="POST", body=json.dumps({"symbol": f"T{i}"}),
                         headers={"Authorization": f"Bearer {token}"})
    posted = 0
    for clients in (1, 8, 32):
        result = await run(url, args.requests, clients, pnl)
        posted += args.requests - result[2]
        report(f"POST /v4/pnl, {clients} clients", *result)
    for clients in (1, 32):
        report(f"PUT /v4/ticker/pnl, {clients} clients", *await run(url, args.requests, clients, push))
    writes, reads = await asyncio.gather(run(url, args.requests, 32, push), run(url, args.requests, 8, read))
    report("PUT /v4/ticker/pnl, 32 clients, with reads", *writes)
    report("GET /v4/ticker/T1, 8 clients, during writes", *reads)
    count = await http.fetch(url + "/v4/pnls/0", headers={"Authorization": f"Bearer {token}"})
    stored = len(json.loads(count.body)["pnls"])
    http.close()
    print(f"acknowledged POSTs {posted}, rows stored {stored}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pairs-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/pairs.db"
        server = ServerProcess(Path(tmp), url).start()
        try:
            print(f"database {url.split('@')[-1]}")
            return asyncio.run(main_async(args, server.url))
        finally:
            server.stop()
            if server.process:
                server.process.wait(30)


if __name__ == "__main__":
    sys.exit(main())
