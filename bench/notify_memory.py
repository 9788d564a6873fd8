"""What push notifications cost in memory: a server's RSS idle and after its first notification, without a URL and
with one (a JSON receiver this script runs on loopback; every webhook a ``received`` event).

    python bench/notify_memory.py

Apprise is imported by the channel's thread at its first message, so a server without a URL never loads it and one
with a URL loads it only when something is sent.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server_process import ServerProcess, request, rss_mb
from bench.webhooks import JsonReceiver

SETTLE_SEC = 3.0  # after the message: the channel's thread records it, then the process is measured
WAIT_SEC = 30.0


def main() -> int:
    receiver = JsonReceiver()
    runs = (("without a URL", {}),
            ("with a URL", {"PAIRS_NOTIFY_URLS": f"json://127.0.0.1:{receiver.port}/hook",
                            "PAIRS_NOTIFY_EVENTS": "received, rejected"}))
    for label, env in runs:
        workdir = Path(tempfile.mkdtemp(prefix="pairs-notify-memory-"))
        server = ServerProcess(workdir, f"sqlite:///{workdir / 'pairs.db'}",
                               env={"WEBHOOK_PASSPHRASE": "webhook", **env}).start()
        try:
            idle = rss_mb(server.process.pid)
            before = receiver.count
            status = request(server.port, "POST", "/v4/webhook", {"passphrase": "webhook", "ticker": "ZZZ",
                                                                  "order_action": "buy", "order_contracts": 1})
            deadline = time.monotonic() + WAIT_SEC
            while env and receiver.count == before and time.monotonic() < deadline:
                threading.Event().wait(0.05)  # waiting for the server's thread to send
            threading.Event().wait(SETTLE_SEC)
            print(f"{label}: idle RSS {idle:.1f} MB; after a webhook ({status}) and its notification "
                  f"{rss_mb(server.process.pid):.1f} MB; messages received {receiver.count - before}", flush=True)
        finally:
            server.stop()
    receiver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
