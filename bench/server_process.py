"""Run ``python server.py`` as a child process on a temporary database (used by bench/ and the durability test).

Run as a script, it prints what a server process costs at rest: the time from start to the first answer, and the
resident memory once it has answered a page and a webhook (and whether pandas got loaded on the way).

    python bench/server_process.py             # 5 starts
    python bench/server_process.py --starts 9
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Jobs off (no downloads, no mail), cheap bcrypt: the process only serves the API.
CONFIG = """[SMA]
ENABLE_SMA_CALC = False
[EMAIL]
ENABLE_EMAIL_NOTIFICATIONS = False
[SERVER]
BCRYPT_ROUNDS = 4
LOG_LEVEL = WARNING
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``start()`` returns once the port accepts connections; ``kill()`` is SIGKILL, ``stop()`` SIGTERM."""

    def __init__(self, workdir: Path, database_url: str, port: int | None = None, env: dict[str, str] | None = None):
        self.workdir = Path(workdir)
        self.database_url = database_url
        self.port = port or free_port()
        self.env = {**os.environ, "PAIRS_DATA_DIR": str(self.workdir), **(env or {})}
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0, poll_sec: float = 0.05) -> ServerProcess:
        config = self.workdir / "config.ini"
        config.write_text(CONFIG)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(PROJECT_DIR / "server.py"), "--config", str(config), "--database-url",
                 self.database_url, "--port", str(self.port)],
                cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log_path.read_text()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"server did not listen within {timeout} s: {self.log_path.read_text()}")
            threading.Event().wait(poll_sec)  # waiting for another process to bind its port
        return self

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


# ---------------------------------------------------------------------------------------------------------------
# python bench/server_process.py: start time and memory at rest

WEBHOOK = {"passphrase": "webhook", "ticker": "NYSE:KO", "order_action": "buy", "order_contracts": 1}
HEAVY = ("pandas", "numpy", "yfinance", "statsmodels", "scipy")


def request(port: int, method: str, path: str, body: dict | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None,
                     {"Content-Type": "application/json"} if body is not None else {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far: the part of a start that other work on the machine does not skew."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def heavy_loaded(pid: int) -> list[str]:
    """Which of the heavy libraries have a shared object mapped into the process (their compiled parts)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return [name for name in HEAVY if f"/site-packages/{name}/" in maps]


def one_start(workdir: Path) -> dict:
    server = ServerProcess(workdir, f"sqlite:///{workdir / 'pairs.db'}", env={"WEBHOOK_PASSPHRASE": "webhook"})
    started = time.perf_counter()
    server.start(poll_sec=0.002)
    status = request(server.port, "GET", "/healthz")
    first_answer = time.perf_counter() - started
    try:
        if status != 200:
            raise RuntimeError(f"/healthz answered {status}")
        pid = server.process.pid
        start_cpu = cpu_seconds(pid)
        at_start = rss_mb(pid)
        request(server.port, "GET", "/dashboard")
        after_page = rss_mb(pid)
        request(server.port, "POST", "/v4/webhook", WEBHOOK)
        after_webhook = rss_mb(pid)
        return {"first_answer": first_answer, "start_cpu": start_cpu, "at_start": at_start, "after_page": after_page,
                "after_webhook": after_webhook, "heavy": heavy_loaded(pid)}
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=5, help="server starts to take the median of (default 5)")
    args = parser.parse_args()
    print(f"server process bench: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    runs = []
    for number in range(args.starts):
        with tempfile.TemporaryDirectory(prefix="pairs-start-") as tmp:
            runs.append(one_start(Path(tmp)))
        print(f"  start {number + 1}: first answer after {runs[-1]['first_answer']:.2f} s, RSS "
              f"{runs[-1]['after_page']:.1f} MB after a page view", flush=True)

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(f"start to first answer (GET /healthz, fresh database): median {median('first_answer'):.2f} s "
          f"(min {min(r['first_answer'] for r in runs):.2f}, max {max(r['first_answer'] for r in runs):.2f}); "
          f"the server's CPU time until then: median {median('start_cpu'):.2f} s")
    print(f"resident memory (VmRSS), median: {median('at_start'):.1f} MB after start-up, "
          f"{median('after_page'):.1f} MB after GET /dashboard, {median('after_webhook'):.1f} MB after a webhook")
    loaded = sorted({name for run in runs for name in run["heavy"]})
    print(f"heavy libraries loaded: {', '.join(loaded) if loaded else 'none'}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
