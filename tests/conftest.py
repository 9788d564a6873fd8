"""Shared fixtures: a real SQLite file per test, a real PostgreSQL server when one can be had, the real HTTP stack.

Every test that takes ``store`` (or ``app``, ``api``) runs once on SQLite and once on PostgreSQL.  PostgreSQL comes
from ``TEST_PG_URL`` or from a throwaway cluster started here with Debian's binaries; when neither is possible the
PostgreSQL runs are skipped, unless ``--require-postgres`` (as in CI) turns that into a failure.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import hypothesis
import peewee
import pytest

from pairs import auth, users
from pairs.config import load_settings
from pairs.db import Store

JWT_SECRET = "test-secret-" + "x" * 40


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pairs")
    group.addoption("--require-postgres", action="store_true", help="fail instead of skipping PostgreSQL tests")
    group.addoption("--require-browser", action="store_true", help="fail instead of skipping browser tests")
    group.addoption("--require-all", action="store_true", help="fail instead of skipping anything that needs an "
                    "external program (PostgreSQL, Chromium, nginx, ...)")


def require(config: pytest.Config, what: str) -> bool:
    return bool(config.getoption("--require-all") or config.getoption(f"--require-{what}", default=False))


def unavailable(config: pytest.Config, what: str, reason: str) -> None:
    """Skip, or fail when the run asked for everything to be there."""
    if require(config, what):
        pytest.fail(f"{what} is required for this run but unavailable: {reason}")
    pytest.skip(reason)


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    """initdb + pg_ctl in a temporary folder, trust auth on 127.0.0.1, fsync off; stopped and removed at the end."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("no PostgreSQL server binaries (apt-get install postgresql)")
        self.bin = Path(bins[-1]).parent
        self.dir = tempfile.mkdtemp(prefix="pairs-pg-", dir="/tmp")
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *cmd: str) -> None:
        runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin") or "runuser"
        full = [runuser, "-u", "postgres", "--", *cmd] if self.as_postgres else list(cmd)
        subprocess.run(full, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self) -> str:
        self._run(str(self.bin / "initdb"), "-D", self.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")
        self.start_server()
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start_server(self) -> None:
        """Start the initialised cluster (again, after ``pg_ctl("stop", ...)`` in a test of database faults)."""
        options = (f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        self.pg_ctl("-o", options, "start")

    def pg_ctl(self, *args: str) -> None:
        """``pg_ctl ARGS`` on this cluster, waiting for it to finish (``restart -m fast``, ``stop -m fast``)."""
        self._run(str(self.bin / "pg_ctl"), "-D", self.dir, "-l", f"{self.dir}/log", "-w", "-t", "60", *args)

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", self.dir, "-m", "immediate", "-w", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_admin_url(request: pytest.FixtureRequest):
    """A URL to a PostgreSQL database we may create databases with; None when there is none."""
    url = os.environ.get("TEST_PG_URL")
    if url:
        yield url
        return
    try:
        server = ThrowawayPostgres()
        url = server.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        yield f"unavailable: {exc} {detail.decode(errors='replace')[:300]}"
        return
    try:
        yield url
    finally:
        server.stop()


_pg_counter = iter(range(10**6))


def fresh_pg_database(admin_url: str) -> str:
    """A new empty database on the server of ``admin_url``; returns its URL."""
    parts = urllib.parse.urlsplit(admin_url)
    name = f"pairs_test_{os.getpid()}_{next(_pg_counter)}"
    admin = peewee.PostgresqlDatabase(parts.path.lstrip("/") or "postgres", host=parts.hostname, port=parts.port,
                                      user=parts.username, password=parts.password)
    admin.connect()
    try:
        admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/pairs.db"
    admin_url = request.getfixturevalue("pg_admin_url")
    if admin_url.startswith("unavailable:"):
        unavailable(request.config, "postgres", f"PostgreSQL {admin_url}")
    return fresh_pg_database(admin_url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """For tests that are about SQLite itself."""
    return f"sqlite:///{tmp_path}/pairs.db"


# ---------------------------------------------------------------------------------------------------------------
# The server


@pytest.fixture
def settings(tmp_path: Path, db_url: str):
    return load_settings(None, environ={}, data_dir=str(tmp_path), database_url=db_url, bcrypt_rounds=4,
                         jwt_secret_key=JWT_SECRET, webhook_passphrase="webhook")


@pytest.fixture
def store(settings):
    store = Store(settings.effective_database_url)
    store.open()
    store.write_sync(users.ensure_defaults_tx, settings, lambda pw: auth.hash_password(pw, 4))
    yield store
    store.close()


@pytest.fixture
def app(settings, store):
    from handlers.app import make_app

    application = make_app(settings, store)
    yield application
    application.ctx.executor.shutdown(wait=True)


def make_token(username: str = "admin", is_admin: bool = True, fresh: bool | float = True, kind: str = "access",
               secret: str = JWT_SECRET) -> str:
    """A token as the server mints it, for the stored user of that name when a test database is open."""
    return auth.make_token(secret, username, kind, is_admin, fresh, stamp=stored_stamp(username))


def stored_stamp(username: str) -> str | None:
    """The user's token stamp; None at collection time, when no database is open yet (such tokens are refused)."""
    try:
        user = users.find(username)
    except (AttributeError, peewee.PeeweeException):  # the uninitialised database proxy, or no table
        return None
    return user.token_stamp if user else None


class Api:
    """HTTP client for tests: ``await api.post(path, {...}, token=...)`` -> Reply(code, json, headers, text)."""

    def __init__(self, http_client, base_url: str):
        self.http = http_client
        self.base = base_url

    async def call(self, method: str, path: str, body: Any = None, token: str | None = None,
                   headers: dict[str, str] | None = None, raw: bytes | str | None = None,
                   content_type: str = "application/json") -> Reply:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        data = None
        if raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None or method in ("POST", "PUT", "PATCH"):
            hdrs.setdefault("Content-Type", content_type)
        response = await self.http.fetch(self.base + path, method=method, body=data if data is not None else (
            b"" if method in ("POST", "PUT", "PATCH") else None), headers=hdrs, raise_error=False,
            allow_nonstandard_methods=True, follow_redirects=False)
        return Reply(response)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("POST", path, body, **kw)

    async def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("PUT", path, body, **kw)

    async def delete(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.call("DELETE", path, body, **kw)


class Reply:
    def __init__(self, response: Any):
        self.code = response.code
        self.headers = response.headers
        self.text = response.body.decode("utf-8", "replace") if response.body else ""
        try:
            self.json = json.loads(self.text) if self.text else None
        except ValueError:
            self.json = None

    def __repr__(self) -> str:
        return f"<Reply {self.code} {self.text[:200]!r}>"


@pytest.fixture
def api(app, http_client, base_url) -> Api:
    return Api(http_client, base_url)


@pytest.fixture
def admin_token(store) -> str:
    return make_token("admin", True, True)


@pytest.fixture
def user_token(store) -> str:
    return make_token("user1", False, True)


def wait_until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll for something another process does (a server starting); fails with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        threading.Event().wait(0.05)  # polling another process, not hiding a race


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def chromium(request: pytest.FixtureRequest):
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(request.config, "browser", f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable(request.config, "browser", "the playwright package is not installed")
    return async_playwright


# ---------------------------------------------------------------------------------------------------------------
# Hypothesis (tests/test_properties.py): the same examples on every run, bounded, no timing assertion (a loaded CI
# machine must not fail a property for being slow), no example database written into the checkout.
# HYPOTHESIS_PROFILE=explore looks further, with fresh random examples, when hunting a bug by hand.

hypothesis.settings.register_profile("ci", derandomize=True, max_examples=150, deadline=None, database=None,
                                     print_blob=True)
hypothesis.settings.register_profile("explore", max_examples=5000, deadline=None, database=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
