"""How long hostile bodies hold the IOLoop of a real ``python server.py`` (issue 9, SPEC A.2).

    python bench/hostile.py                  # every family, 5 bodies each, at the 64 KiB cap
    python bench/hostile.py --help

Each family of body is sent to ``POST /v4/webhook`` at the body cap (no passphrase needed: the server parses the
body, answers, then records the request in the delivery log with the passphrase redacted, all on its one IOLoop).
Meanwhile a probe sends ``OPTIONS /healthz`` (answered on the IOLoop itself: no thread, no database) one after
another on its own keep-alive connection; it waits as long as the IOLoop is held, so the slowest probe answer
during a family is its worst stall (plus the probe's own round trip, shown as the baseline).  Each family is measured in several runs: a stall that
the body causes shows in every run, a pause of the machine (other processes) only in some, so the best run's worst
stall is the figure for the body, and the worst run's is shown next to it.  The client is asyncio sockets in this process; the server
is a child process, so both share the machine, and other work on it stretches every stall: run it with
``nice -n -15``.  The server's CPU time per body (measured without the probe) is the figure that load does not
skew: what one body costs the server in all, an upper bound of how long it holds the IOLoop on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_process import ServerProcess
from bench.webhooks import Connection, cpu_seconds

CAP = 64 * 1024
BOUNDARY = "hostileXyZ"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def repeat(unit: bytes, size: int, head: bytes = b"", tail: bytes = b"") -> bytes:
    """``head`` + as many ``unit`` as fit + ``tail``, at most ``size`` bytes."""
    return head + unit * max(0, (size - len(head) - len(tail)) // len(unit)) + tail


def part(name: str, value: str) -> bytes:
    return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()


def equation(size: int) -> bytes:
    """A TradingView pair alert whose ticker equation is as long as the cap allows."""
    base = {"passphrase": "webhook", "ticker": "", "order_action": "buy", "order_contracts": 1}
    room = size - len(json.dumps(base))
    leg = (room - len("-1.25*NYSE:")) // 2
    return json.dumps({**base, "ticker": "NYSE:" + "L" * (leg - 5) + "-1.25*NYSE:" + "F" * leg}).encode()


# name -> (size -> (body, Content-Type)); tests/test_delivery.py counts the redaction's steps on the same bodies
FAMILIES: dict[str, Callable[[int], tuple[bytes, str]]] = {
    "form: passphrase=...& repeated": lambda n: (repeat(b"passphrase=guess&", n),
                                                 "application/x-www-form-urlencoded"),
    "text: name=passphrase\\n repeated": lambda n: (repeat(b"name=passphrase\n", n), "text/plain"),
    "JSON: \"passphrase\" keys repeated": lambda n: (repeat(b'"passphrase": "guess", ', n, b"{"), "text/plain"),
    "JSON: escaped keys repeated": lambda n: (repeat(b'"pass\\u0070hrase":"w\\u0065bhoo",', n, b"{"),
                                              "text/plain"),
    "multipart: passphrase parts": lambda n: (repeat(part("passphrase", "guess"), n, tail=f"--{BOUNDARY}--\r\n"
                                                     .encode()), MULTIPART),
    "quotes: \"\"\"...": lambda n: (repeat(b'"', n), "text/plain"),
    "quotes: \\\"\\\"\\\"... (one literal)": lambda n: (repeat(b'\\"', n, b'"'), "text/plain"),
    "quotes: \"\\n\" literals": lambda n: (repeat(b'"\\n"', n), "text/plain"),
    "quotes: \"\\q\" literals (bad escapes)": lambda n: (repeat(b'"\\q"', n), "text/plain"),
    "backslashes": lambda n: (repeat(b"\\", n), "text/plain"),
    "JSON nested 5,000 deep (lists)": lambda n: (b"[" * 5000 + b"]" * 5000, "application/json"),
    "JSON nested 5,000 deep (objects)": lambda n: (b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json"),
    "multipart: thousands of parts": lambda n: (repeat(part("a", ""), n, tail=f"--{BOUNDARY}--\r\n".encode()),
                                                MULTIPART),
    "ticker equation, longest": lambda n: (equation(n), "application/json"),
}


async def probe(port: int, stop: asyncio.Event, latencies: list[float]) -> None:
    connection = await Connection(port).open()
    try:
        while not stop.is_set():
            _, _, seconds = await connection.request("OPTIONS", "/healthz")
            latencies.append(seconds)
    finally:
        connection.close()


async def measure(port: int, body: bytes, content_type: str, count: int) -> tuple[list[int], list[float]]:
    """Send ``count`` bodies one after another while the probe runs; the statuses and the probe's latencies."""
    stop = asyncio.Event()
    latencies: list[float] = []
    prober = asyncio.create_task(probe(port, stop, latencies))
    sender = await Connection(port).open()
    statuses = []
    try:
        await asyncio.sleep(0.05)  # the probe is running before the first body goes out
        for _ in range(count):
            status, _, _ = await sender.request("POST", "/v4/webhook", body, content_type=content_type)
            statuses.append(status)
            await asyncio.sleep(0.02)  # the delivery row is redacted after the answer: let the probe see it
        await asyncio.sleep(0.05)
    finally:
        stop.set()
        await prober
        sender.close()
    return statuses, latencies


async def send_only(port: int, body: bytes, content_type: str, count: int) -> None:
    sender = await Connection(port).open()
    try:
        for _ in range(count):
            await sender.request("POST", "/v4/webhook", body, content_type=content_type)
    finally:
        sender.close()
    await asyncio.sleep(0.05)  # the last delivery row is redacted after its answer


async def baseline(port: int, seconds: float) -> list[float]:
    stop = asyncio.Event()
    latencies: list[float] = []
    prober = asyncio.create_task(probe(port, stop, latencies))
    await asyncio.sleep(seconds)
    stop.set()
    await prober
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5, metavar="N", help="bodies sent per run (default 5)")
    parser.add_argument("--runs", type=int, default=3, metavar="N", help="runs per family (default 3)")
    parser.add_argument("--size", type=int, default=CAP, metavar="BYTES", help="body size (default the cap, 65536)")
    parser.add_argument("--workdir", help="keep the database and server log here instead of a temporary folder")
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pairs-hostile-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = {"JWT_SECRET_KEY": "bench-" + "s" * 40, "WEBHOOK_PASSPHRASE": "webhook"}
    print(f"pairs hostile-body bench: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{args.runs} runs of {args.count} bodies of at most {args.size} bytes per family")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine "
          "skews every figure below)", flush=True)
    server = ServerProcess(workdir, f"sqlite:///{workdir / 'hostile.db'}", env=env).start()
    worst_family = 0.0
    try:
        for make in FAMILIES.values():  # a fresh process's first answers pay one-off costs (first writes, caches)
            asyncio.run(send_only(server.port, *make(args.size), 1))
        quiet = asyncio.run(baseline(server.port, 1.0))
        print(f"probe alone (OPTIONS /healthz, {len(quiet)} requests): p50 {statistics.median(quiet) * 1000:.2f} ms, "
              f"max {max(quiet) * 1000:.2f} ms", flush=True)
        print(f"{'family':<42} {'bytes':>7} {'answers':<8} {'probes':>6} {'worst stall':>12} {'worst run':>10} "
              f"{'CPU/body':>9}")
        for name, make in FAMILIES.items():
            body, content_type = make(args.size)
            statuses, latencies, worsts = [], [], []
            for _ in range(args.runs):
                got, probed = asyncio.run(measure(server.port, body, content_type, args.count))
                statuses += got
                latencies += probed
                worsts.append(max(probed))
            worst = min(worsts)
            worst_family = max(worst_family, worst)
            cpu_before = cpu_seconds(server.process.pid)
            asyncio.run(send_only(server.port, body, content_type, args.count))
            cpu = (cpu_seconds(server.process.pid) - cpu_before) / args.count
            answers = ",".join(str(s) for s in sorted(set(statuses)))
            print(f"{name:<42} {len(body):>7} {answers:<8} {len(latencies):>6} {worst * 1000:>9.2f} ms "
                  f"{max(worsts) * 1000:>7.1f} ms {cpu * 1000:>6.1f} ms", flush=True)
    finally:
        server.stop()
    print(f"worst stall of all families (best run): {worst_family * 1000:.2f} ms; load average after: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; server log: {workdir / 'server.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
