"""Every acknowledged webhook survives a SIGKILL of the server (SPEC A.2: never a lost signal).

A real ``python server.py`` on a temporary SQLite file gets a stream of webhooks from several keep-alive clients;
it is killed with SIGKILL in the middle of the stream, restarted on the same file, and every signal whose webhook
was answered 200/201 must be there.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
from pathlib import Path

from bench.server_process import ServerProcess
from pairs import auth
from tests.conftest import JWT_SECRET, wait_until

CLIENTS = 6
ACKED_BEFORE_KILL = 400


def stream(port: int, client: int, acked: list[str], stop: threading.Event) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        send_until_gone(connection, client, acked, stop)
    finally:
        connection.close()


def send_until_gone(connection: http.client.HTTPConnection, client: int, acked: list[str],
                    stop: threading.Event) -> None:
    number = 0
    while not stop.is_set():
        comment = f"c{client}-{number}"
        body = json.dumps({"passphrase": "webhook", "ticker": "NYSE:LNT", "order_action": "buy",
                           "order_contracts": 1, "order_comment": comment})
        try:
            connection.request("POST", "/v4/webhook", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            return  # the server is gone: this request was never acknowledged
        if response.status in (200, 201):
            acked.append(comment)
        number += 1


def test_acknowledged_webhooks_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "durable.db"
    env = {"JWT_SECRET_KEY": JWT_SECRET}
    server = ServerProcess(tmp_path, f"sqlite:///{db}", env=env).start()
    acked: list[str] = []
    stop = threading.Event()
    clients = [threading.Thread(target=stream, args=(server.port, n, acked, stop)) for n in range(CLIENTS)]
    try:
        for thread in clients:
            thread.start()
        wait_until(lambda: len(acked) >= ACKED_BEFORE_KILL, 60, "acknowledged webhooks")
        server.kill()  # SIGKILL while every client has a request in flight
        stop.set()
        for thread in clients:
            thread.join(15)
    finally:
        stop.set()
        server.kill()
    acknowledged = set(acked)
    assert len(acknowledged) >= ACKED_BEFORE_KILL

    restarted = ServerProcess(tmp_path, f"sqlite:///{db}", env=env).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", restarted.port, timeout=30)
        with sqlite3.connect(db) as conn:  # a token names the account by its stamp (A.5)
            stamp = conn.execute("SELECT token_stamp FROM users WHERE username = 'admin'").fetchone()[0]
        conn.close()
        token = auth.make_token(JWT_SECRET, "admin", "access", True, True, stamp=stamp)
        connection.request("GET", "/v4/signals/0", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        assert response.status == 200
        served = {s["order_comment"] for s in json.loads(response.read())["signals"]}
        connection.close()
    finally:
        restarted.stop()
    missing = acknowledged - served
    assert not missing, f"{len(missing)} acknowledged signals lost, e.g. {sorted(missing)[:5]}"
    with sqlite3.connect(db) as conn:
        stored = {row[0] for row in conn.execute("SELECT order_comment FROM signals")}
    assert acknowledged <= stored
    # at most the requests in flight at the kill were stored without an answer
    assert len(stored - acknowledged) <= CLIENTS
