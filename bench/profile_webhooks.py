"""Where the server's CPU goes per webhook: py-spy samples a real ``python server.py`` under concurrent webhooks.

    pip install py-spy                               # anywhere: it is a program, not a library of the project
    python bench/profile_webhooks.py                 # 32 clients for 15 s, top 20 frames per thread
    python bench/profile_webhooks.py --py-spy /tmp/pyspy/bin/py-spy --clients 8 --top 30

The load is bench/webhooks.py's (the pair equation ``NYSE:LNT-1.25*NYSE:FTS`` over keep-alive connections).
py-spy records every thread that is running (not waiting) 200 times a second; the output lists, for the IOLoop's
thread and for the store's writer thread, the share of samples in which a function is on the stack (inclusive) and
at its top (self).  Sampling slows the server a little: use bench/webhooks.py for throughput figures.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_process import ServerProcess
from bench.webhooks import ALERTS, JWT_SECRET, concurrent, register_instruments

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*)\)$")


def short(frame: str) -> str:
    """``post (handlers/api_signals.py:88)`` as py-spy writes it, with site-packages paths cut to the package."""
    match = FRAME.match(frame)
    if not match:
        return frame
    where = re.sub(r"^.*site-packages/", "", match["file"])
    return f"{match['function']} ({where})"


def summarize(raw: Path, top: int) -> None:
    threads: dict[str, dict[str, collections.Counter]] = {}
    totals: collections.Counter = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        thread, frames = frames[0], [short(f) for f in frames[1:]]
        count = int(count_text)
        totals[thread] += count
        per = threads.setdefault(thread, {"inclusive": collections.Counter(), "self": collections.Counter()})
        for frame in set(frames):
            per["inclusive"][frame] += count
        if frames:
            per["self"][frames[-1]] += count
    everything = sum(totals.values()) or 1
    for thread, samples in totals.most_common():
        if samples < everything * 0.02:
            continue
        print(f"\n{thread}: {samples} samples ({samples / everything:.0%} of all)")
        for kind in ("inclusive", "self"):
            print(f"  top {top} by {kind} samples:")
            for frame, count in threads[thread][kind].most_common(top):
                print(f"    {count / samples:6.1%}  {frame}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="the py-spy program (default: on PATH)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive clients (default 32)")
    parser.add_argument("--duration", type=float, default=15.0, metavar="SEC", help="seconds sampled (default 15)")
    parser.add_argument("--top", type=int, default=20, help="frames listed per thread and kind (default 20)")
    parser.add_argument("--raw", help="keep py-spy's raw output (collapsed stacks) in this file")
    parser.add_argument("--alerts", choices=ALERTS, default="same", help="bench/webhooks.py's workload (default same)")
    parser.add_argument("--gil", action="store_true", help="only the samples of the thread holding the GIL: the "
                        "Python work that the IOLoop and the writer take turns at, without the writer's waits for "
                        "the disk")
    args = parser.parse_args()
    if not args.py_spy:
        raise SystemExit("py-spy not found: pip install py-spy, or give --py-spy PATH")
    workdir = Path(tempfile.mkdtemp(prefix="pairs-profile-"))
    raw = Path(args.raw) if args.raw else workdir / "profile.txt"
    print(f"profile: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{args.clients} clients for {args.duration:.0f} s", flush=True)
    server = ServerProcess(workdir, f"sqlite:///{workdir / 'bench.db'}",
                           env={"JWT_SECRET_KEY": JWT_SECRET, "WEBHOOK_PASSPHRASE": "webhook"}).start()
    try:
        asyncio.run(register_instruments(server.port, workdir / 'bench.db',
                                         args.clients if args.alerts == "advancing" else 1))
        asyncio.run(concurrent(server.port, args.clients, 2.0, "warm", args.alerts))
        spy = subprocess.Popen([args.py_spy, "record", "--pid", str(server.process.pid), "--duration",
                                str(int(args.duration)), "--rate", "200", "--format", "raw", "--function",
                                "--threads", "--nonblocking", *(["--gil"] if args.gil else []), "--output", str(raw)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        acked, _, errors = asyncio.run(concurrent(server.port, args.clients, args.duration, "profile", args.alerts))
        _, spy_errors = spy.communicate(timeout=60)
        if spy.returncode != 0:
            raise SystemExit(f"py-spy failed: {spy_errors}")
    finally:
        server.stop()
    print(f"{len(acked):,} webhooks acknowledged while sampling ({len(acked) / args.duration:,.0f}/s, slowed by "
          f"the sampling), {errors} errors; raw stacks in {raw}")
    summarize(raw, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
