"""Operations: the health check, the API's description, and the structured request log.

``GET /healthz`` answers without authentication, for a load balancer, a monitoring probe or ``curl`` on the Pi:
200 when the database answers on the connections the server uses (the IOLoop's, the writer's, an executor
thread's), 503 when one does not, and what is known about the background jobs and the broker bridge.  ``log_request`` replaces Tornado's access log with one ``key=value`` line per request that
never contains a passphrase, a password, a token or an Authorization header.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import urllib.parse
from typing import Any

import peewee
import tornado.web

from handlers.base import BaseHandler
from handlers.openapi import build_document
from pairs import __version__, bridge, jobs
from pairs.db import Store, utcnow
from pairs.db.urls import DatabaseUnavailable, db_fault
from pairs.wire import format_timestamp

access_log = logging.getLogger("pairs.access")
log = logging.getLogger("pairs.http")

def _plain(value: Any) -> Any:
    return format_timestamp(value) if isinstance(value, dt.datetime) else value


def price_job_outcome(run: dict[str, Any]) -> str:
    if run["finished"] is None:
        return "running"
    if run["failed"]:
        return "partial" if run["updated"] else "failed"
    return "ok"


def last_price_job() -> dict[str, Any] | None:
    """The newest run of the price job with its outcome, or None before the first run."""
    runs = jobs.last_runs(1, jobs.PRICES)
    if not runs:
        return None
    run = {key: _plain(value) for key, value in runs[0].items()}
    return {**run, "outcome": price_job_outcome(run)}


def _jobs_and_bridge() -> dict[str, Any]:
    return {"price_job": last_price_job(), "bridge": {"last_seen": _plain(bridge.last_seen())}}


async def health_report(store: Store, run: Any) -> tuple[int, dict[str, Any]]:
    """(status, body).  Each connection the server uses answers a round trip, each reconnecting once when the
    server closed it: the IOLoop's (every API read), the writer's (every write; on SQLite it also takes the
    write lock, so a lock held by another process longer than DB_WAIT_MS is a 503), an executor thread's (jobs,
    slow pages; ``run`` is the executor)."""
    body: dict[str, Any] = {"status": "ok", "version": __version__, "time": format_timestamp(utcnow())}
    backend = "sqlite" if store.is_sqlite else "postgresql"
    try:
        store.probe()
        await store.write(store.probe)  # runs on the writer's thread, so on its connection
        body["database"] = {"ok": True, "backend": backend}
        body.update(await run(store.read_in_thread, _jobs_and_bridge))
        return 200, body
    except peewee.PeeweeException as exc:
        body["status"] = "unavailable"
        error = exc.error if isinstance(exc, DatabaseUnavailable) else exc
        body["database"] = {"ok": False, "error": type(getattr(error, "orig", None) or error).__name__,
                            "cause": db_fault(exc)}
        body["price_job"] = None
        body["bridge"] = {"last_seen": None}
        if isinstance(exc, DatabaseUnavailable):
            log.warning("healthz: %s", exc)
        else:
            log.error("healthz: database error", exc_info=exc)
        return 503, body


class HealthHandler(BaseHandler):
    async def get(self) -> None:
        status, body = await health_report(self.ctx.store, self.ctx.run)
        self.set_header("Cache-Control", "no-store")
        self.send(body, status)


class OpenApiHandler(BaseHandler):
    def get(self) -> None:
        if "openapi" not in self.ctx.extras:  # the routes do not change while the server runs
            self.ctx.extras["openapi"] = build_document(self.application.route_table.rows)
        self.set_header("Cache-Control", "no-cache")
        self.send(self.ctx.extras["openapi"])


class DocsHandler(BaseHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.render("docs.html", version=__version__)


# ---------------------------------------------------------------------------------------------------------------
# The request log

SECRET_NAMES = re.compile(r"pass|token|secret|auth|key|_xsrf|csrf", re.IGNORECASE)
QUIET_PATHS = ("/healthz",)  # probes every few seconds: logged at DEBUG


def redacted_query(query: str) -> str:
    """The query string with the value of every secret-looking parameter replaced by ``***``."""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return urllib.parse.urlencode([(k, "***" if SECRET_NAMES.search(k) else v) for k, v in pairs], safe="*/:,")


def _logfmt(value: Any) -> str:
    text = str(value)
    if not text or re.search(r'[\s"=]', text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def request_fields(handler: tornado.web.RequestHandler) -> dict[str, Any]:
    request = handler.request
    peer = handler.peer if isinstance(handler, BaseHandler) else request.remote_ip
    fields: dict[str, Any] = {
        "method": request.method,
        "route": request.path,
        "status": handler.get_status(),
        "duration_ms": round(request.request_time() * 1000.0, 2),
        "peer": peer,
    }
    if request.query:
        fields["query"] = redacted_query(request.query)
    return fields


def log_request(handler: tornado.web.RequestHandler) -> None:
    """The Application's ``log_function``: one ``key=value`` line per request, secrets never included (the body,
    the headers and the cookies are not logged at all; secret-looking query parameters are masked)."""
    fields = request_fields(handler)
    status = fields["status"]
    if status >= 500:
        level = logging.ERROR
    elif status >= 400:
        level = logging.WARNING
    elif fields["route"] in QUIET_PATHS:
        level = logging.DEBUG
    else:
        level = logging.INFO
    if access_log.isEnabledFor(level):
        access_log.log(level, " ".join(f"{k}={_logfmt(v)}" for k, v in fields.items()))
