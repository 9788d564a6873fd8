"""What webhooks and the bridge's poll see while the database goes away, on a real ``python server.py``.

    python bench/faults.py                          # every fault (about a minute; needs root for the tmpfs)
    python bench/faults.py --faults sqlite-lock-1s,pg-restart

For each fault a fresh server gets a stream of webhooks from 4 keep-alive clients (each about 20 a second) and the
bridge's poll of ``GET /v4/signals/status/waiting/0`` (5 a second); after 1 s the fault is injected, and the stream
runs on for 2 s after the fault ended.  Faults:

- ``pg-restart``: PostgreSQL ``pg_ctl restart -m fast`` (a throwaway cluster; the fault ends when pg_ctl returns);
- ``pg-stop-5s``: PostgreSQL stopped for 5 s, then started;
- ``sqlite-lock-1s``, ``sqlite-lock-5s``: another process holds SQLite's write lock (``BEGIN IMMEDIATE``);
- ``disk-full-5s``: the SQLite file's filesystem (a 64 MB tmpfs) is full for 5 s.

Prints per fault: answers by class (2xx, 503, other 5xx), acknowledged webhooks missing from the database, the
longest answer, and the time from the fault's end to the first 2xx.  Targets (issue 15): 0 lost, 0 other 5xx,
recovery under 1 s, every webhook 2xx under a 1 s lock.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_process import ServerProcess
from tests.conftest import ThrowawayPostgres

CLIENTS = 4
SEND_PAUSE_SEC = 0.05  # per client: about 20 webhooks a second each
POLL_PAUSE_SEC = 0.2
BEFORE_SEC = 1.0
AFTER_SEC = 2.0
WAITING = "/v4/signals/status/waiting/0"


@dataclasses.dataclass
class Answer:
    kind: str  # "webhook" | "poll"
    status: int  # 0: no answer (connection failed)
    sent: float
    answered: float
    comment: str = ""


class Stream:
    """Webhook clients and a bridge poller against ``port``, recording every answer until ``stop()``."""

    def __init__(self, port: int):
        self.port = port
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._webhooks, args=(n,)) for n in range(CLIENTS)]
        self._threads.append(threading.Thread(target=self._polls))

    def start(self) -> Stream:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _request(self, connection: http.client.HTTPConnection, method: str, path: str, body: str | None,
                 kind: str, comment: str = "") -> http.client.HTTPConnection:
        sent = time.monotonic()
        try:
            connection.request(method, path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.answers.append(Answer(kind, status, sent, time.monotonic(), comment))
        return connection

    def _webhooks(self, client: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        number = 0
        while not self._stop.wait(SEND_PAUSE_SEC):
            comment = f"c{client}-{number}"
            body = json.dumps({"passphrase": "webhook", "ticker": "NYSE:LNT", "order_action": "buy",
                               "order_contracts": 1, "order_comment": comment})
            connection = self._request(connection, "POST", "/v4/webhook", body, "webhook", comment)
            number += 1
        connection.close()

    def _polls(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.wait(POLL_PAUSE_SEC):
            connection = self._request(connection, "GET", WAITING, None, "poll")
        connection.close()


# ---------------------------------------------------------------------------------------------------------------
# Databases and faults


class Postgres:
    def __init__(self) -> None:
        self.cluster = ThrowawayPostgres()
        self.url = self.cluster.start()

    def stored(self, comments: set[str]) -> set[str]:
        import psycopg

        with psycopg.connect(self.url.replace("postgresql://", "postgresql://", 1)) as conn:
            rows = conn.execute("SELECT order_comment FROM signals").fetchall()
        return {row[0] for row in rows} & comments

    def close(self) -> None:
        self.cluster.stop()


class Sqlite:
    def __init__(self, folder: Path):
        self.path = folder / "pairs.db"
        self.url = f"sqlite:///{self.path}"

    def stored(self, comments: set[str]) -> set[str]:
        with sqlite3.connect(self.path) as conn:
            rows = conn.execute("SELECT order_comment FROM signals").fetchall()
        return {row[0] for row in rows} & comments

    def close(self) -> None:
        pass


def pg_restart(db: Postgres) -> None:
    db.cluster.pg_ctl("restart", "-m", "fast")


def pg_stop(seconds: float) -> Callable[[Postgres], None]:
    def fault(db: Postgres) -> None:
        db.cluster.pg_ctl("stop", "-m", "fast")
        time.sleep(seconds)
        db.cluster.start_server()
    return fault


LOCK_SCRIPT = ("import sqlite3, sys, time\n"
               "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
               "c.execute('BEGIN IMMEDIATE')\n"
               "time.sleep(float(sys.argv[2]))\n"
               "c.execute('ROLLBACK')\n")


def sqlite_lock(seconds: float) -> Callable[[Sqlite], None]:
    def fault(db: Sqlite) -> None:
        subprocess.run([sys.executable, "-c", LOCK_SCRIPT, str(db.path), str(seconds)], check=True)
    return fault


def disk_full(seconds: float) -> Callable[[Sqlite], None]:
    def fault(db: Sqlite) -> None:
        with sqlite3.connect(db.path, timeout=30) as conn:  # the write-ahead log keeps no spare room either
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        filler = db.path.parent / "filler"
        with open(filler, "wb", buffering=0) as out:
            try:
                while True:
                    out.write(b"\0" * (1 << 20))
            except OSError:
                pass
        time.sleep(seconds)
        filler.unlink()
    return fault


class Tmpfs:
    def __init__(self, folder: Path, size: str = "64m"):
        self.folder = folder
        folder.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.folder)], check=False)


FAULTS = {
    "pg-restart": ("postgresql", pg_restart),
    "pg-stop-5s": ("postgresql", pg_stop(5.0)),
    "sqlite-lock-1s": ("sqlite", sqlite_lock(1.0)),
    "sqlite-lock-5s": ("sqlite", sqlite_lock(5.0)),
    "disk-full-5s": ("tmpfs", disk_full(5.0)),
}


# ---------------------------------------------------------------------------------------------------------------
# A run


@dataclasses.dataclass
class Result:
    fault: str
    webhooks: dict[str, int]
    polls: dict[str, int]
    lost: int
    longest_ms: float
    recovery_ms: float | None


def classes(answers: list[Answer]) -> dict[str, int]:
    counts = {"2xx": 0, "503": 0, "other 5xx": 0, "other": 0}
    for answer in answers:
        if 200 <= answer.status < 300:
            counts["2xx"] += 1
        elif answer.status == 503:
            counts["503"] += 1
        elif answer.status >= 500:
            counts["other 5xx"] += 1
        else:
            counts["other"] += 1
    return counts


def run(name: str, workdir: Path) -> Result:
    kind, inject = FAULTS[name]
    tmpfs = Tmpfs(workdir / "disk") if kind == "tmpfs" else None
    db: Postgres | Sqlite = Postgres() if kind == "postgresql" else Sqlite(tmpfs.folder if tmpfs else workdir)
    server = ServerProcess(workdir, db.url, env={"JWT_SECRET_KEY": "bench-" + "s" * 40}).start()
    try:
        stream = Stream(server.port).start()
        time.sleep(BEFORE_SEC)
        inject(db)
        ended = time.monotonic()
        time.sleep(AFTER_SEC)
        stream.stop()
    finally:
        server.stop()
    try:
        hooks = [a for a in stream.answers if a.kind == "webhook"]
        acked = {a.comment for a in hooks if 200 <= a.status < 300}
        lost = len(acked - db.stored(acked))
    finally:
        db.close()
        if tmpfs:
            tmpfs.close()
    after = sorted(a.answered for a in stream.answers if 200 <= a.status < 300 and a.answered >= ended)
    return Result(name, classes(hooks), classes([a for a in stream.answers if a.kind == "poll"]), lost,
                  max(a.answered - a.sent for a in stream.answers) * 1000,
                  (after[0] - ended) * 1000 if after else None)


def table(results: list[Result]) -> str:
    lines = ["| fault | webhooks 2xx / 503 / other 5xx | lost | polls 2xx / 503 / other 5xx | longest answer | "
             "first 2xx after the fault |", "|---|---|---|---|---|---|"]
    for r in results:
        recovery = "none" if r.recovery_ms is None else f"{r.recovery_ms:.0f} ms"
        lines.append(f"| {r.fault} | {r.webhooks['2xx']} / {r.webhooks['503']} / {r.webhooks['other 5xx']} | "
                     f"{r.lost} | {r.polls['2xx']} / {r.polls['503']} / {r.polls['other 5xx']} | "
                     f"{r.longest_ms:.0f} ms | {recovery} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, from {', '.join(FAULTS)}")
    args = parser.parse_args()
    names = [n.strip() for n in args.faults.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(unknown)}")
    results = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix="pairs-faults-") as folder:
            results.append(run(name, Path(folder)))
            print(f"{name}: done", file=sys.stderr, flush=True)
    print(table(results))
    failed = [r.fault for r in results if r.lost or r.webhooks["other 5xx"] or r.polls["other 5xx"]
              or r.recovery_ms is None or r.recovery_ms >= 1000
              or (r.fault == "sqlite-lock-1s" and r.webhooks["503"])]
    if failed:
        print(f"targets missed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
