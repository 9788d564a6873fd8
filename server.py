"""pairs: the trading-signal server.  Wiring only: open the store, build the Application, serve, start and stop the
background jobs.  The command line (every sub-command, ``serve`` the default) is pairs/cli.py.

    python server.py                       serve on 127.0.0.1:5000 with SQLite in data/
    python server.py --help                every option and sub-command
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import tornado.httpserver

from handlers.app import make_app
from pairs import __version__, auth, checks, users
from pairs.config import ConfigError, Settings, command
from pairs.db import Store, open_store

log = logging.getLogger("pairs")

SHUTDOWN_GRACE_SEC = 10.0


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


async def serve(settings: Settings, demo_day: bool = False) -> None:
    """Listen, start the background jobs (and the demo's day), then at SIGTERM or SIGINT stop in this order: no new
    connections, the requests in flight end (or the grace runs out), the jobs stop, the writer stops."""
    store = open_store(settings)
    prepare_users(settings, store)
    app = make_app(settings, store)
    in_flight = app.ctx.in_flight
    # No handler holds more than the cap: pairs' own handlers stream the body and refuse more (handlers/base.py),
    # Tornado's (static files) stop at it
    server = tornado.httpserver.HTTPServer(app, max_body_size=settings.body_limit, idle_connection_timeout=75)
    try:
        server.listen(settings.port, settings.host)
    except OSError as exc:
        store.close()
        raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}; "
                          "choose another --port or stop the program that uses it") from None
    app.ctx.jobs.start()
    if demo_day:
        app.ctx.jobs.start_demo()
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
    app.ctx.jobs.stop()
    await server.close_all_connections()
    app.ctx.executor.shutdown(wait=False, cancel_futures=True)
    store.close()
    log.info("stopped cleanly")


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


def run(settings: Settings, demo_day: bool = False) -> None:
    """Serve until SIGTERM or SIGINT on the configured event loop."""
    event_loop_runner(settings.event_loop)(serve(settings, demo_day))


if __name__ == "__main__":
    from pairs.cli import main

    sys.exit(main())
