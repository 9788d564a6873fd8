"""Run ``python server.py`` as a child process on a temporary database (used by bench/ and the durability test)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
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

    def start(self, timeout: float = 30.0) -> ServerProcess:
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
            threading.Event().wait(0.05)  # waiting for another process to bind its port
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
