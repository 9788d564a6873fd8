"""What `check-config` (pairs/cli.py) checks: is this configuration safe and usable?  Every finding in plain words.

The checks read the settings, the file system and (for an existing database) the users table; they never change
anything: no database file or folder is created, no migration runs.  An *error* is something that stops the server
or leaves it open to anyone (the published default passphrase); a *warning* is something to look at.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import tempfile
import urllib.parse
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import peewee

from pairs import jobs, market, push, stats, users
from pairs.config import DEFAULT_PASSWORD, ConfigError, Settings, command, parse_networks
from pairs.db.models import database
from pairs.db.urls import StoreError, _redact, open_database

ERROR, WARNING = "error", "warning"
DEFAULT_PASSPHRASE = "webhook"
EXAMPLE_SECRET_PREFIX = "change-me"  # the placeholders of deploy/pairs.env.example
EXAMPLE_MAIL_VALUES = {"smtp.example.com", "sender@example.com", "recipient@example.com"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")


@dataclasses.dataclass(frozen=True)
class Finding:
    level: str  # ERROR | WARNING
    text: str

    def __str__(self) -> str:
        return f"{self.level}: {self.text}"


def _error(text: str) -> Finding:
    return Finding(ERROR, text)


def _warning(text: str) -> Finding:
    return Finding(WARNING, text)


# ---------------------------------------------------------------------------------------------------------------
# one function per area; each yields its findings


def check_secrets(settings: Settings) -> Iterator[Finding]:
    secrets = {"WEBHOOK_PASSPHRASE": settings.webhook_passphrase, "DB_ADMIN_PASS": settings.admin_password,
               "JWT_SECRET_KEY": settings.jwt_secret_key}
    placeholders = {name for name, value in secrets.items() if value.startswith(EXAMPLE_SECRET_PREFIX)}
    for name in sorted(placeholders):
        yield _error(f"{name} is still the placeholder of deploy/pairs.env.example; put a secret of your own "
                     "there (`openssl rand -hex 24` makes one).")
    passphrase = settings.webhook_passphrase
    if passphrase == DEFAULT_PASSPHRASE:
        yield _error("the webhook passphrase is still the published default 'webhook': anyone can send signals. "
                     "Set WEBHOOK_PASSPHRASE in the environment file or [SECRET] WEBHOOK_PASSPHRASE in config.ini, "
                     "and use the same text in your TradingView alerts and the bridge.")
    elif len(passphrase) < 12 and "WEBHOOK_PASSPHRASE" not in placeholders:
        yield _warning(f"the webhook passphrase is only {len(passphrase)} characters long; use at least 12 "
                       "random characters (for example the output of `openssl rand -hex 16`).")
    jwt_secret = settings.jwt_secret_key
    if jwt_secret and len(jwt_secret.encode("utf-8")) < 32 and "JWT_SECRET_KEY" not in placeholders:
        yield _error("JWT_SECRET_KEY is shorter than 32 bytes, too short to sign tokens safely; use a longer one "
                     "(`openssl rand -hex 32`) or remove it to let pairs generate and keep one.")


def check_default_passwords(settings: Settings, stored_default_users: list[str] | None) -> Iterator[Finding]:
    """``stored_default_users``: users of an existing database whose password is the default; None when the
    database has no users yet (the defaults would be created from the settings at the first start)."""
    if stored_default_users is None:
        configured = [(settings.admin_username, settings.admin_password, "DB_ADMIN_PASS or [SECRET] ADMIN_PASSWORD"),
                      (settings.user1_username, settings.user1_password, "[SECRET] USER1_PASSWORD")]
        for name, password, where in configured:
            if name and password == DEFAULT_PASSWORD:
                yield _error(f"the first start would create user {name!r} with the default password "
                             f"'{DEFAULT_PASSWORD}'; set {where} before starting, or change it right after with "
                             f"`{command('reset-password ' + name)}`.")
        return
    for name in stored_default_users:
        yield _error(f"user {name!r} still has the default password '{DEFAULT_PASSWORD}'; change it with "
                     f"`{command('reset-password ' + name)}`.")


def _creatable_dir(path: Path) -> tuple[Path, bool]:
    """The nearest existing folder at or above ``path``, and whether ``path`` itself exists."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe, probe == path


def writable_dir_problem(path: Path) -> str | None:
    """None when files can be created in ``path`` (or in the folder that would be created there)."""
    existing, exists = _creatable_dir(path)
    if exists and not existing.is_dir():
        return f"{str(path)!r} is a file, not a folder"
    if not existing.is_dir():
        return f"{str(existing)!r} is not a folder, so {str(path)!r} cannot be created"
    try:  # os.access is not enough: read-only mounts, systemd sandboxes and root squash lie to it
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".pairs-check-"):
            pass
    except OSError as exc:
        where = str(path) if exists else f"{existing!s} (to create {path!s})"
        return f"cannot write in {where!r}: {exc.strerror}"
    return None


def check_data_dir(settings: Settings) -> Iterator[Finding]:
    problem = writable_dir_problem(Path(settings.data_dir).expanduser())
    if problem:
        yield _error(f"the data folder is not usable: {problem}. Set PAIRS_DATA_DIR or [SERVER] DATA_DIR to a "
                     "folder the server's user may write (the systemd unit uses /var/lib/pairs).")


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///`` URL as the store opens it, or None for other schemes."""
    if not url.lower().startswith(("sqlite://", "sqlite3://")):
        return None
    return url.split("://", 1)[1][1:].split("?", 1)[0]


def check_database_url(url: str) -> Iterator[Finding]:
    """Syntax and reachability; never creates the file or its folder."""
    shown = _redact(url)
    if not url or "://" not in url:
        yield _error(f"the database URL {shown!r} is malformed; use sqlite:////var/lib/pairs/pairs.db or "
                     "postgresql://user:password@host:5432/dbname")
        return
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    path = sqlite_path(url)
    if path is not None:
        if not url.split("://", 1)[1].startswith("/") or path in ("", "/") or ":memory:" in url:
            yield _error(f"the database URL {shown!r} names no file; use sqlite:///data/pairs.db (relative to the "
                         "working folder) or sqlite:////absolute/path/pairs.db (four slashes)")
            return
        file = Path(path).expanduser()
        if file.exists() and not os.access(file, os.R_OK | os.W_OK):
            yield _error(f"the database file {str(file)!r} exists but cannot be read and written by this user")
        problem = writable_dir_problem(file.parent)
        if problem:  # SQLite creates its -wal and -shm files next to the database
            yield _error(f"the folder of the database file {str(file)!r} is not usable: {problem}")
        return
    if scheme not in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        yield _error(f"the database URL {shown!r} has the unsupported scheme {scheme!r}; use sqlite:/// or "
                     "postgresql://")
        return
    try:
        db = open_database(url)
    except StoreError as exc:
        yield _error(str(exc))
        return
    try:
        db.connect_params.setdefault("connect_timeout", 5)
        db.connect()
        db.close()
    except peewee.PeeweeException as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        yield _error(f"cannot connect to the PostgreSQL database {shown!r}: {first_line}. Is the server running, "
                     "and are the user, password and database name right?")


def check_networks(settings: Settings) -> Iterator[Finding]:
    for text, where in ((settings.trusted_proxies, "[SERVER] TRUSTED_PROXIES"),
                        (settings.webhook_allowlist, "[SERVER] WEBHOOK_ALLOWLIST")):
        try:
            networks = parse_networks(text, where)
        except ConfigError as exc:
            yield _error(f"{exc}; list addresses or networks separated by commas, e.g. 127.0.0.1, ::1")
            continue
        if where.endswith("TRUSTED_PROXIES"):
            for net in networks:
                if net.prefixlen == 0:
                    yield _error(f"{where} trusts every address ({net}): any client could fake its address with "
                                 "X-Forwarded-For. List only your reverse proxy, usually 127.0.0.1.")
                elif not (net.is_loopback or net.is_private):
                    yield _warning(f"{where} trusts the public network {net}; make sure only your own proxy "
                                   "uses those addresses.")
    if settings.force_https and not settings.trusted_proxies.strip():
        yield _warning("[SERVER] FORCE_HTTPS is on but no TRUSTED_PROXIES is set: behind a proxy that ends TLS, "
                       "pairs cannot see that the client used HTTPS and would redirect forever.")


def check_email(settings: Settings) -> Iterator[Finding]:
    if not settings.enable_email_notifications:
        return
    problems = []
    for name, value in (("MAIL_SERVER", settings.mail_server), ("MAIL_SENDER", settings.mail_sender),
                        ("MAIL_RECIPIENT", settings.mail_recipient)):
        if not value.strip():
            problems.append(f"{name} is empty")
        elif value.strip() in EXAMPLE_MAIL_VALUES:
            problems.append(f"{name} is still the example value {value.strip()!r}")
    for name, value in (("MAIL_SENDER", settings.mail_sender), ("MAIL_RECIPIENT", settings.mail_recipient)):
        for address in filter(None, (a.strip() for a in value.split(","))):
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
                problems.append(f"{name} {address!r} is not an e-mail address")
    if not 0 < settings.mail_port < 65536:
        problems.append(f"MAIL_PORT {settings.mail_port} is not a port number")
    if bool(settings.mail_username) != bool(settings.mail_password):
        problems.append("MAIL_USERNAME and MAIL_PASSWORD must be given together")
    if settings.mail_use_tls and settings.mail_use_ssl:
        problems.append("MAIL_USE_TLS and MAIL_USE_SSL are both on; use SSL (port 465) or STARTTLS (port 587), "
                        "not both")
    for problem in problems:
        yield _error(f"[EMAIL] notifications are enabled but {problem}.")


def check_notify(settings: Settings, urls: bool = True) -> Iterator[Finding]:
    """``[NOTIFY]``: the events, and (``urls``) each URL as Apprise reads it, without sending anything."""
    try:
        push.parse_events(settings.notify_events)
    except ConfigError as exc:
        yield _error(str(exc))
    if min(settings.notify_fold_sec, settings.notify_retries, settings.notify_retry_sec,
           settings.notify_slip_limit) < 0:
        yield _error("[NOTIFY] FOLD_SEC, RETRIES, RETRY_SEC and SLIP_LIMIT must not be negative")
    if urls:
        for problem in push.url_problems(settings.notify_urls):
            yield _error(problem)


def check_server(settings: Settings) -> Iterator[Finding]:
    if not 0 < settings.port < 65536:
        yield _error(f"the port {settings.port} is not a port number (1-65535)")
    if settings.host not in ("127.0.0.1", "::1", "localhost"):
        yield _warning(f"pairs listens on {settings.host}, not only on loopback: other machines reach it without "
                       "TLS. That is fine for a bridge on your LAN; from the internet use the nginx or Caddy "
                       "site in deploy/.")
    if settings.log_level.upper() not in LOG_LEVELS:
        yield _error(f"the log level {settings.log_level!r} is unknown; use one of {', '.join(LOG_LEVELS)}")
    if settings.event_loop not in EVENT_LOOPS:
        yield _error(f"[SERVER] EVENT_LOOP {settings.event_loop!r} is unknown; use one of {', '.join(EVENT_LOOPS)}")
    elif settings.event_loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        yield _error("[SERVER] EVENT_LOOP is uvloop but uvloop is not installed: `pip install -r requirements.txt` "
                     "in the server's virtual environment, or set EVENT_LOOP = auto")
    if not 4 <= settings.bcrypt_rounds <= 31:
        yield _error(f"[SERVER] BCRYPT_ROUNDS {settings.bcrypt_rounds} is outside bcrypt's range 4-31")
    elif settings.bcrypt_rounds < 10:
        yield _warning(f"[SERVER] BCRYPT_ROUNDS {settings.bcrypt_rounds} makes stolen password hashes cheap to "
                       "crack; use 12 outside tests")
    if settings.body_limit < 1024:
        yield _error(f"[SERVER] BODY_LIMIT {settings.body_limit} bytes is too small for a webhook; use 65536")
    if settings.db_wait_ms < 0:
        yield _error(f"[SERVER] DB_WAIT_MS {settings.db_wait_ms} is negative; use 2000")
    elif settings.db_wait_ms > 2500:
        yield _warning(f"[SERVER] DB_WAIT_MS {settings.db_wait_ms} ms is longer than TradingView waits (3 s with the "
                       "network); it gives up before the 503 that would make it re-send. Use 2000")
    try:
        zoneinfo.ZoneInfo(settings.display_timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        yield _error(f"[SERVER] DISPLAY_TIMEZONE {settings.display_timezone!r} is unknown; use a name such as "
                     "US/Pacific")


def startup_errors(settings: Settings) -> list[str]:
    """The errors of ``check_server`` (port, log level, event loop, bcrypt rounds, body limit, display zone): what
    the server and every sub-command refuse to start with, wherever the value came from (a command-line option,
    the environment or the file), instead of binding a random port or logging at a level nobody chose."""
    return [finding.text for finding in (*check_server(settings), *check_notify(settings, urls=False))
            if finding.level == ERROR]


def check_jobs(settings: Settings) -> Iterator[Finding]:
    """The same parsing the jobs use at start-up, so a mistake shows here instead of in the journal."""
    rules = (
        lambda: jobs.exchange_zone(settings),
        lambda: jobs.parse_weekdays(settings.session_weekdays),
        lambda: jobs._clock(settings.session_start, "SESSION_START"),
        lambda: jobs._clock(settings.session_end, "SESSION_END"),
        lambda: market.make_price_source(settings.price_source),
    )
    for rule in rules:
        try:
            rule()
        except ConfigError as exc:
            yield _error(str(exc))


def check_research(settings: Settings) -> Iterator[Finding]:
    """The pair page's chart and the screener (issue 12)."""
    if settings.chart_days < 2:
        yield _error(f"[SMA] CHART_DAYS must be at least 2 daily closes, not {settings.chart_days}")
    if not 0 <= settings.exit_z < settings.entry_z:
        yield _error(f"[SMA] EXIT_Z ({settings.exit_z:g}) must be at least 0 and below ENTRY_Z "
                     f"({settings.entry_z:g})")
    if settings.screener_min_obs < stats.MIN_COINT_OBS:
        yield _error(f"[SCREENER] MIN_OBS must be at least {stats.MIN_COINT_OBS}, not {settings.screener_min_obs}")
    if settings.screener_window < settings.screener_min_obs:
        yield _error(f"[SCREENER] WINDOW ({settings.screener_window}) is below MIN_OBS "
                     f"({settings.screener_min_obs}): no pair could be tested")


def stored_default_password_users(settings: Settings) -> list[str] | None:
    """Users of the configured database that still have the default password; None when the database or its
    users table does not exist yet (or cannot be read: the URL check reports why)."""
    url = settings.effective_database_url
    path = sqlite_path(url)
    if path is not None and not Path(path).expanduser().is_file():
        return None  # opening it would create it
    try:
        db = open_database(url)
        if isinstance(db, peewee.PostgresqlDatabase):
            db.connect_params.setdefault("connect_timeout", 5)
        database.initialize(db)
        db.connect()
    except (StoreError, peewee.PeeweeException):
        return None
    try:
        if not db.table_exists("users") or not users.User.select().exists():
            return None
        return users.default_password_users(settings)
    except peewee.PeeweeException:
        return None
    finally:
        db.close()


def check_settings(settings: Settings) -> list[Finding]:
    """Every finding for these settings, errors first."""
    findings = [
        *check_secrets(settings),
        *check_default_passwords(settings, stored_default_password_users(settings)),
        *check_database_url(settings.effective_database_url),
        *check_data_dir(settings),
        *check_networks(settings),
        *check_email(settings),
        *check_notify(settings),
        *check_server(settings),
        *check_jobs(settings),
        *check_research(settings),
    ]
    return sorted(findings, key=lambda f: f.level != ERROR)
