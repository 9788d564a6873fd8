"""`python server.py` as a real process: restarts keep tokens and revocations, SIGTERM finishes what is in flight,
and the command line (help, sub-commands, database URLs)."""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import _free_port, fresh_pg_database, unavailable, wait_until

from pairs import auth
from pairs.db import Store, User

SERVER = str(Path(__file__).resolve().parent.parent / "server.py")


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRS_") and k not in (
        "DATABASE_URL_SQLALCHEMY", "WEBHOOK_PASSPHRASE", "DB_ADMIN_PASS", "JWT_SECRET_KEY")}
    env.update(PAIRS_DATA_DIR=str(tmp_path / "data"), PAIRS_BCRYPT_ROUNDS="4", PYTHONUNBUFFERED="1")
    return env


class ServerProcess:
    """server.py in a subprocess on a free port; its log lines are collected as they come."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None,
                 launcher: tuple[str, ...] = (sys.executable, SERVER)):
        self.port = _free_port()
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [*launcher, "--port", str(self.port), *args], cwd=tmp_path,
            env=env or base_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_until(lambda: self.logged("listening on") or self.proc.poll() is not None, 30, "the server to start")
        assert self.proc.poll() is None, "\n".join(self.lines)

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def logged(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, json.loads(data) if data else None

    def wait(self) -> int:
        code = self.proc.wait(30)
        self._reader.join(10)
        self.proc.stderr.close()
        return code

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        if not self.proc.stderr.closed:
            self.wait()


@pytest.fixture
def servers():
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.kill()


@pytest.fixture(params=["sqlite", "postgresql"])
def server_db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/pairs.db"
    admin_url = request.getfixturevalue("pg_admin_url")
    if admin_url.startswith("unavailable:"):
        unavailable(request.config, "postgres", f"PostgreSQL {admin_url}")
    return fresh_pg_database(admin_url)


def test_tokens_and_revocations_survive_a_restart(tmp_path, servers, server_db):
    env = base_env(tmp_path)
    if server_db.startswith("postgresql"):
        env["DATABASE_URL_SQLALCHEMY"] = server_db  # the original's variable
        args: tuple[str, ...] = ()
    else:
        args = ("--database-url", server_db)
    first = ServerProcess(tmp_path, *args, env=env)
    servers.append(first)
    # A.5: default users on the empty table, and a loud warning while their default password is in use
    assert first.logged("created default users: admin, user1")
    for name in ("admin", "user1"):
        assert first.logged(f"WARNING pairs: !!! user '{name}' still has the default password"), first.lines
    status, kept = first.request("POST", "/v4/login", {"username": "admin", "password": "password", "expire": 30})
    assert status == 200
    status, gone = first.request("POST", "/v4/login", {"username": "admin", "password": "password"})
    assert first.request("POST", "/v4/logout", {"refresh_token": gone["refresh_token"]},
                         token=gone["access_token"])[0] == 200
    assert first.stop() == 0
    assert first.logged("stopped cleanly")

    second = ServerProcess(tmp_path, *args, env=env)
    servers.append(second)
    assert second.logged("!!! user 'admin' still has the default password")  # at every start
    assert not second.logged("created default users")
    assert second.request("POST", "/v4/ticker", {"symbol": "AFTER"}, token=kept["access_token"]) == (
        201, {"message": "'ticker' created successfully."})
    assert second.request("POST", "/v4/refresh", token=kept["refresh_token"])[0] == 200
    revoked = {"error": "token_revoked", "message": "The token has been revoked."}
    assert second.request("POST", "/v4/ticker", {"symbol": "NO"}, token=gone["access_token"]) == (401, revoked)
    assert second.request("POST", "/v4/refresh", token=gone["refresh_token"]) == (401, revoked)
    assert second.stop() == 0


def test_a_password_change_ends_the_old_tokens_also_after_a_restart(tmp_path, servers, server_db):
    """Issue 9 item 4: by the API (PUT /v4/user) and by `reset-password` while the server runs."""
    args = ("--database-url", server_db)
    first = ServerProcess(tmp_path, *args)
    servers.append(first)
    admin = first.request("POST", "/v4/login", {"username": "admin", "password": "password", "expire": 30})[1]
    user1 = first.request("POST", "/v4/login", {"username": "user1", "password": "password"})[1]
    assert first.request("PUT", "/v4/user", {"username": "user1", "password": "new user1 pw"},
                         token=admin["access_token"])[0] == 200
    result = run_cli(tmp_path, *args, "reset-password", "admin", "--password-stdin", stdin="new admin pw\n")
    assert result.returncode == 0, result.stderr
    invalid = (401, {"error": "token_invalid", "message": "The token is invalid."})

    def old_tokens_refused(server: ServerProcess) -> None:
        for tokens in (admin, user1):
            assert server.request("GET", "/v4/pnls/0", token=tokens["access_token"]) == invalid
            assert server.request("POST", "/v4/refresh", token=tokens["refresh_token"]) == invalid

    old_tokens_refused(first)
    assert first.stop() == 0
    server = ServerProcess(tmp_path, *args)
    servers.append(server)
    old_tokens_refused(server)
    assert server.request("POST", "/v4/login", {"username": "admin", "password": "new admin pw"})[0] == 200
    assert server.request("POST", "/v4/login", {"username": "user1", "password": "new user1 pw"})[0] == 200
    assert server.stop() == 0


@pytest.mark.parametrize("event_loop", ["auto", "asyncio"])  # auto: uvloop, which requirements.txt installs
def test_sigterm_finishes_the_request_in_flight(tmp_path, servers, event_loop):
    db_file = tmp_path / "pairs.db"
    config = tmp_path / "config.ini"
    config.write_text("[SERVER]\nDB_WAIT_MS = 60000\n")  # the write waits for the lock until the test releases it
    server = ServerProcess(tmp_path, "--config", str(config), "--database-url", f"sqlite:///{db_file}",
                           "--log-level", "DEBUG", env={**base_env(tmp_path), "PAIRS_EVENT_LOOP": event_loop})
    servers.append(server)
    assert server.logged(f"(event loop: {'uvloop' if event_loop == 'auto' else 'asyncio'})")
    # /healthz goes through the writer: the writes queued at start-up (the delivery-log purge) are done, so the
    # lock below holds up the request's write, not theirs
    assert server.request("GET", "/healthz")[0] == 200
    # hold SQLite's write lock, so the next write waits in the writer thread with its request in flight
    blocker = sqlite3.connect(db_file, timeout=30, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    answers: list = []
    client = threading.Thread(target=lambda: answers.append(server.request(
        "POST", "/v4/pnl", {"passphrase": "webhook", "NetLiquidation": 42})))
    client.start()
    wait_until(lambda: server.logged("write pairs.instruments.create_account_tx"), 20, "the write to reach the writer")
    server.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: server.logged("waiting for 1 request(s) in flight"), 20, "the shutdown to start")
    assert server.proc.poll() is None  # still waiting for that request
    blocker.execute("ROLLBACK")
    blocker.close()
    client.join(30)
    assert answers == [(201, {"message": "'record' created successfully."})]
    assert server.wait() == 0
    assert server.logged("stopped cleanly")
    with sqlite3.connect(db_file) as conn:
        assert conn.execute('SELECT "NetLiquidation" FROM account').fetchall() == [(42.0,)]
    conn.close()
    # no new connection is accepted any more
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


HEAVY = ("pandas", "numpy", "yfinance", "statsmodels", "scipy")
# `python server.py ARGS` as it is, except that at exit it says which of the heavy libraries it imported
REPORTS_HEAVY = f"""import atexit, runpy, sys
sys.path.insert(0, {str(Path(SERVER).parent)!r})
atexit.register(lambda: print("heavy modules:", sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr))
runpy.run_path({SERVER!r}, run_name="__main__")
"""


def get_page(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return response.status, text


def test_webhooks_and_pages_import_no_pandas(tmp_path, servers):
    """pandas, numpy, yfinance and statsmodels are the price job's: start-up, a webhook and the pages (a chart
    included) never import them, so the server idles at about half the memory (issue 10)."""
    db = tmp_path / "pairs.db"
    server = ServerProcess(tmp_path, "--database-url", f"sqlite:///{db}", launcher=(sys.executable, "-c", REPORTS_HEAVY))
    servers.append(server)
    status, tokens = server.request("POST", "/v4/login", {"username": "admin", "password": "password", "expire": 30})
    assert status == 200
    token = tokens["access_token"]
    for path, body, thing in (("/v4/ticker", {"symbol": "KO"}, "ticker"), ("/v4/ticker", {"symbol": "PEP"}, "ticker"),
                              ("/v4/pair", {"ticker1": "KO", "ticker2": "PEP", "hedge": 0.4, "status": 1,
                                            "contracts": 10}, "pair")):
        reply = server.request("POST", path, body, token=token)
        assert reply == (201, {"message": f"'{thing}' created successfully."}), reply
    with sqlite3.connect(db) as conn:  # what a price job stored: the positions page draws the chart from it
        conn.executemany("INSERT INTO price_bars (symbol, interval, time, close) VALUES (?, '1d', ?, ?)",
                         [(symbol, f"2026-01-{day:02d} 00:00:00", close + day % 3) for day in range(1, 31)
                          for symbol, close in (("KO", 60.0), ("PEP", 150.0))])
    conn.close()
    assert server.request("POST", "/v4/webhook", {"passphrase": "webhook", "ticker": "NYSE:KO-0.4*NYSE:PEP",
                                                  "order_action": "buy", "order_contracts": 1}) == (
        200, {"message": "'signal' created successfully."})
    status, positions = get_page(server.port, "/positions")
    chart = json.loads(html.unescape(re.search(r'data-chart="([^"]*)"', positions).group(1)))
    assert status == 200 and chart["points"][-1]["sma"] is not None  # a chart with its SMA
    for page in ("/dashboard", "/watchlist", "/pair/KO-PEP", "/list?tradetype=pair&ticker=KO-PEP"):
        assert get_page(server.port, page)[0] == 200, page
    assert server.stop() == 0
    assert server.logged("heavy modules: []"), server.lines[-3:]


# ---------------------------------------------------------------------------------------------------------------
# command line


def run_cli(tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, SERVER, *args], cwd=tmp_path, env=env or base_env(tmp_path),
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_help_documents_options_and_sub_commands(tmp_path):
    result = run_cli(tmp_path, "--help")
    assert result.returncode == 0
    for text in ("--host", "--port", "--config", "--database-url", "--log-level", "create-user", "reset-password",
                 "serve", "DATABASE_URL_SQLALCHEMY", "WEBHOOK_PASSPHRASE", "DB_ADMIN_PASS", "postgresql://"):
        assert text in result.stdout, text
    epilog = " ".join(result.stdout.split("Environment:", 1)[1].split())  # argparse wraps lines
    for name in ("JWT_SECRET_KEY", "PAIRS_DATA_DIR", "PAIRS_PORT", "PAIRS_PRICE_SOURCE", "PAIRS_EVENT_LOOP"):
        assert name in epilog, name
    sub = run_cli(tmp_path, "create-user", "--help")
    assert sub.returncode == 0 and "--password-stdin" in sub.stdout and "--admin" in sub.stdout


def stored_user(url: str, username: str) -> User | None:
    store = Store(url)
    store.open()
    try:
        return User.get_or_none(User.username == username)
    finally:
        store.close()


def test_create_user_and_reset_password(tmp_path, server_db):
    url = ("--database-url", server_db)
    result = run_cli(tmp_path, *url, "create-user", "carol", "--admin", "--password-stdin", stdin="first pw\n")
    assert (result.returncode, result.stdout.strip()) == (0, "created admin user 'carol'"), result.stderr
    user = stored_user(server_db, "carol")
    assert user.is_admin == 1 and auth.check_password(user.password, "first pw") and auth.is_hashed(user.password)
    result = run_cli(tmp_path, *url, "create-user", "carol", "--password-stdin", stdin="another pw\n")
    assert result.returncode == 1 and "already exists" in result.stderr
    result = run_cli(tmp_path, *url, "reset-password", "carol", "--password-stdin", stdin="second pw\n")
    assert (result.returncode, result.stdout.strip()) == (0, "password of 'carol' changed")
    assert auth.check_password(stored_user(server_db, "carol").password, "second pw")
    result = run_cli(tmp_path, *url, "reset-password", "nobody", "--password-stdin", stdin="password\n")
    assert result.returncode == 1 and "no user 'nobody'" in result.stderr
    for bad, text in (("x" * 73 + "\n", "longer than 72 bytes"), ("\n", "empty password"),
                      ("1234567\n", "shorter than 8 characters")):
        result = run_cli(tmp_path, *url, "reset-password", "carol", "--password-stdin", stdin=bad)
        assert result.returncode != 0 and text in result.stderr
    assert auth.check_password(stored_user(server_db, "carol").password, "second pw")


@pytest.mark.parametrize("username, password, text", [
    ("", "long enough", "a username is 1 to 64 printable characters"),
    (" admin", "long enough", "a username is 1 to 64 printable characters"),
    ("x" * 65, "long enough", "a username is 1 to 64 printable characters"),
    ("dave", "short", "shorter than 8 characters"),
])
def test_create_user_refuses_odd_usernames_and_short_passwords(tmp_path, username, password, text):
    """Issue 9 item 8 (the CLI only: the API keeps accepting the original's short passwords)."""
    url = f"sqlite:///{tmp_path}/pairs.db"
    result = run_cli(tmp_path, "--database-url", url, "create-user", "--password-stdin", "--", username,
                     stdin=password + "\n")
    assert result.returncode != 0 and text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("url", [
    "nonsense", "sqlite://", "sqlite:///", "sqlite:///:memory:", "mysql://u@h/db", "postgresql://host/",
    "postgresql://host:notaport/db", "",
])
def test_a_malformed_database_url_stops_with_a_message(tmp_path, url):
    result = run_cli(tmp_path, "--database-url", url, "--port", str(_free_port()))
    assert result.returncode == 2
    assert result.stderr.startswith("pairs: database URL"), result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("**/*.db"))


@pytest.mark.parametrize("args, env, text", [
    (("--port", "99999"), {}, "pairs: the port 99999 is not a port number (1-65535)"),
    (("--port", "0"), {}, "pairs: the port 0 is not a port number (1-65535)"),
    (("--log-level", "LOUD"), {}, "pairs: the log level 'LOUD' is unknown; use one of DEBUG, INFO, WARNING, ERROR, "
                                  "CRITICAL"),
    ((), {"PAIRS_PORT": "70000"}, "pairs: the port 70000 is not a port number (1-65535)"),
    (("create-user", "x", "--password-stdin"), {"PAIRS_LOG_LEVEL": "LOUD"}, "pairs: the log level 'LOUD' is unknown"),
])
def test_bad_options_stop_with_the_rule_check_config_applies(tmp_path, args, env, text):
    """`serve` and the sub-commands refuse what check-config calls an error, from an option or the environment."""
    result = run_cli(tmp_path, "--database-url", f"sqlite:///{tmp_path}/pairs.db", *args, stdin="a password\n",
                     env={**base_env(tmp_path), **env})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(text), result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stderr
    assert not list(tmp_path.glob("**/*.db"))


def test_a_malformed_database_url_in_the_environment_stops_too(tmp_path):
    env = {**base_env(tmp_path), "DATABASE_URL_SQLALCHEMY": "postgres:/nohost"}
    result = run_cli(tmp_path, "--port", str(_free_port()), env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("pairs: database URL"), result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("**/*.db"))


def test_an_unreachable_postgresql_server_is_a_clear_error(tmp_path):
    result = run_cli(tmp_path, "--database-url", f"postgresql://nobody@127.0.0.1:{_free_port()}/db",
                     "--port", str(_free_port()))
    assert result.returncode == 2
    assert result.stderr.startswith("pairs: cannot open the database postgresql://"), result.stderr
    assert "Traceback" not in result.stderr
