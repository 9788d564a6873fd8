"""pairs: the trading-signal server.  Wiring only: config, store, application, jobs, command line.

    python server.py                       serve on 127.0.0.1:5000 with SQLite in data/
    python server.py --help                every option and sub-command
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import tornado.httpserver

from handlers import api_signals, maintenance
from pairs import __version__, auth, backup, checks, demo, jobs, messages, screener, users
from pairs.config import ENV_OVERRIDES, ConfigError, Settings, command, load_settings
from pairs.db import Store, open_store
from pairs.db.urls import StoreError

log = logging.getLogger("pairs")

SHUTDOWN_GRACE_SEC = 10.0


# ---------------------------------------------------------------------------------------------------------------
# start-up pieces shared by the server and the sub-commands


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def prepare_users(settings: Settings, store: Store) -> None:
    created = store.write_sync(users.ensure_defaults_tx, settings,
                               lambda pw: auth.hash_password(pw, settings.bcrypt_rounds))
    if created:
        log.info("created default users: %s", ", ".join(created))
    for name in users.default_password_users(settings):
        hint = " (or set DB_ADMIN_PASS before the first start)" if name == settings.admin_username else ""
        log.warning("!!! user %r still has the default password: change it now with `%s`%s", name,
                    command(f"reset-password {name}"), hint)
    if settings.webhook_passphrase == "webhook":
        log.warning("!!! the webhook passphrase is the published default 'webhook': set WEBHOOK_PASSPHRASE or "
                    "[SECRET] WEBHOOK_PASSPHRASE in config.ini")


# ---------------------------------------------------------------------------------------------------------------
# serve


class InFlight:
    """Counts requests being handled, so that a shutdown can wait for them."""

    def __init__(self) -> None:
        self.count = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def started(self) -> None:
        self.count += 1
        self.idle.clear()

    def finished(self) -> None:
        self.count -= 1
        if self.count <= 0:
            self.count = 0
            self.idle.set()


async def serve(settings: Settings) -> None:
    from handlers.app import make_app  # the HTTP layer is only needed here

    store = open_store(settings)
    prepare_users(settings, store)
    app = make_app(settings, store)
    in_flight = InFlight()
    app.ctx.extras["in_flight"] = in_flight
    # No handler holds more than the cap: pairs' own handlers stream the body and refuse more (handlers/base.py),
    # Tornado's (static files) stop at it
    server = tornado.httpserver.HTTPServer(app, max_body_size=settings.body_limit, idle_connection_timeout=75)
    try:
        server.listen(settings.port, settings.host)
    except OSError as exc:
        store.close()
        raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}; "
                          "choose another --port or stop the program that uses it") from None
    for start in STARTUP_HOOKS:
        start(app.ctx)
    loop_module = type(asyncio.get_running_loop()).__module__.split(".")[0]
    log.info("pairs %s listening on http://%s:%d/ (event loop: %s)", __version__, settings.host, settings.port,
             loop_module)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    log.info("shutting down: no new connections, waiting for %d request(s) in flight", in_flight.count)
    server.stop()
    try:
        await asyncio.wait_for(in_flight.idle.wait(), SHUTDOWN_GRACE_SEC)
    except TimeoutError:
        log.warning("%d request(s) still running after %.0f s; closing anyway", in_flight.count, SHUTDOWN_GRACE_SEC)
    for stop_hook in SHUTDOWN_HOOKS:
        stop_hook(app.ctx)
    await server.close_all_connections()
    app.ctx.executor.shutdown(wait=False, cancel_futures=True)
    store.close()
    log.info("stopped cleanly")


# Jobs and other long-lived services register here: called with the application's Context.
STARTUP_HOOKS: list[Callable[[Any], None]] = []
SHUTDOWN_HOOKS: list[Callable[[Any], None]] = []


# ---------------------------------------------------------------------------------------------------------------
# sub-commands


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ; nothing was changed")
    if not password:
        raise ConfigError("an empty password is not allowed; nothing was changed")
    if auth.password_too_long(password):
        raise ConfigError("the password is longer than 72 bytes (bcrypt's limit); nothing was changed")
    if len(password) < auth.PASSWORD_MIN:  # the API keeps the original's rule (any non-empty password): README
        raise ConfigError(f"{messages.PASSWORD_TOO_SHORT}; nothing was changed")
    return password


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    if not auth.username_ok(args.username):
        raise ConfigError(f"{messages.BAD_USERNAME} Nothing was created.")
    password = _read_password(args)
    store = open_store(settings)
    try:
        if users.find(args.username):
            print(f"user {args.username!r} already exists; use reset-password to change its password",
                  file=sys.stderr)
            return 1
        store.write_sync(users.create_tx, args.username, auth.hash_password(password, settings.bcrypt_rounds),
                         args.admin)
    finally:
        store.close()
    print(f"created {'admin ' if args.admin else ''}user {args.username!r}")
    return 0


def cmd_reset_password(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args)
    store = open_store(settings)
    try:
        changed = store.write_sync(users.set_password_tx, args.username,
                                   auth.hash_password(password, settings.bcrypt_rounds))
    finally:
        store.close()
    if not changed:
        print(f"no user {args.username!r}; create it with create-user", file=sys.stderr)
        return 1
    print(f"password of {args.username!r} changed")
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """``make demo``: serve a fresh data/demo.db on the data-demo/ prices, filled with a day of trading."""
    demo.remove_demo_database(settings.data_dir)
    settings = dataclasses.replace(settings, database_url=demo.demo_database_url(settings.data_dir),
                                   price_source=f"csv:{demo.DEMO_PRICES}")
    STARTUP_HOOKS.append(start_demo)
    event_loop_runner(settings.event_loop)(serve(settings))
    return 0


async def run_demo(ctx: Any, base_url: str) -> list[int]:
    """demo.run in the executor against this server; its price runs go through the server's own job control."""
    loop = asyncio.get_running_loop()
    control = maintenance.job_control(ctx)

    def prices() -> None:
        for job in (jobs.PRICES, jobs.WATCHLIST):
            asyncio.run_coroutine_threadsafe(control.prices(job, gate=False), loop).result()

    s = ctx.settings
    return await ctx.run(demo.run, base_url, s.admin_username, s.admin_password, s.webhook_passphrase, prices,
                         None, log.info)


def start_demo(ctx: Any) -> None:
    host = "127.0.0.1" if ctx.settings.host in ("", "0.0.0.0", "::") else ctx.settings.host
    task = asyncio.get_running_loop().create_task(run_demo(ctx, f"http://{host}:{ctx.settings.port}"))
    ctx.extras["demo"] = task  # keep a reference: a task nobody holds may be collected before it ends

    def report(done: asyncio.Task) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.error("demo failed: %s; the server keeps running with what was stored so far", done.exception())
    task.add_done_callback(report)


def build_parser(prog: str = "server.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="pairs: trading-signal server (TradingView webhooks, the v4 REST API, the dashboard).",
        epilog=f"Environment: {', '.join(ENV_OVERRIDES)} override config.ini.",
    )
    parser.add_argument("--version", action="version", version=f"pairs {__version__}")
    parser.add_argument("--config", metavar="PATH", help="an original-style config.ini (default: ./config.ini "
                        "when it exists)")
    parser.add_argument("--database-url", metavar="URL", help="sqlite:///path.db or "
                        "postgresql://user:pass@host:5432/db (also DATABASE_URL_SQLALCHEMY); default: SQLite in data/")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 5000)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("serve", help="run the server (the default)")
    for name, func, text in (("create-user", cmd_create_user, "create a user"),
                             ("reset-password", cmd_reset_password, "set a user's password")):
        p = sub.add_parser(name, help=text)
        p.add_argument("username")
        p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        if name == "create-user":
            p.add_argument("--admin", action="store_true", help="give the user the admin flag")
        p.set_defaults(func=func)
    p = sub.add_parser("demo", help="serve a demo: a fresh data/demo.db on the data-demo/ prices with a day of "
                       "signals, orders and fills (make demo)")
    p.set_defaults(func=cmd_demo)
    for register in COMMAND_REGISTRARS:
        register(sub)
    return parser


# Other modules add sub-commands here: a function that takes the sub-parsers object.
COMMAND_REGISTRARS: list[Callable[[Any], None]] = []
COMMAND_REGISTRARS += [checks.register_commands, backup.register_commands]

# Background jobs: started with the server (handlers/maintenance.py), one-off runs from the command line.
STARTUP_HOOKS.append(maintenance.start_jobs)
SHUTDOWN_HOOKS.append(maintenance.stop_jobs)
COMMAND_REGISTRARS.append(jobs.register_commands)
COMMAND_REGISTRARS.append(screener.register_commands)  # the pair screener (issue 12)
# The delivery log keeps [SERVER] DELIVERY_LOG_DAYS days (handlers/api_signals.py).
STARTUP_HOOKS.append(api_signals.start_delivery_log_purge)
SHUTDOWN_HOOKS.append(api_signals.stop_delivery_log_purge)


def settings_from_args(args: argparse.Namespace) -> Settings:
    if args.database_url is not None and not args.database_url.strip():  # never fall back silently
        raise ConfigError("database URL given with --database-url is empty; use sqlite:///path/to/file.db or "
                          "postgresql://user:password@host:5432/dbname")
    config = args.config
    if config is None and os.path.isfile("config.ini"):
        config = "config.ini"
    return load_settings(config, database_url=args.database_url, host=args.host, port=args.port,
                         log_level=args.log_level)


def event_loop_runner(choice: str) -> Callable[[Coroutine[Any, Any, None]], None]:
    """``asyncio.run`` on uvloop (libuv: about a fifth more webhooks per second at 32 clients, bench/webhooks.py) when
    it is installed and not switched off with ``[SERVER] EVENT_LOOP = asyncio``; Tornado runs on either."""
    if choice not in checks.EVENT_LOOPS:
        raise ConfigError(f"[SERVER] EVENT_LOOP {choice!r} is unknown; use one of {', '.join(checks.EVENT_LOOPS)}")
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise ConfigError("[SERVER] EVENT_LOOP is uvloop but uvloop is not installed: "
                                  "`pip install -r requirements.txt`, or set EVENT_LOOP = auto") from None
        else:
            return uvloop.run
    return asyncio.run


def main(argv: list[str] | None = None, prog: str = "server.py") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        settings = settings_from_args(args)
        func = getattr(args, "func", None)
        if func is not checks.cmd_check_config:  # check-config reports every finding itself
            errors = checks.startup_errors(settings)
            if errors:
                raise ConfigError("; ".join(errors))
        configure_logging(settings.log_level)
        if func is not None:
            return func(settings, args)
        event_loop_runner(settings.event_loop)(serve(settings))
        return 0
    except (ConfigError, StoreError) as exc:
        print(f"pairs: {exc}", file=sys.stderr)
        return 2


def console() -> int:
    """The ``pairs`` command that ``pip install .`` creates (pyproject.toml): ``python server.py`` by another name."""
    return main(prog="pairs")


if __name__ == "__main__":
    sys.exit(main())
