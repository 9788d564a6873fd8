"""Per-request plumbing shared by every route: errors, JSON, arguments, identity, headers, delivery log."""

from __future__ import annotations

import dataclasses
import enum
import functools
import ipaddress
import json
import logging
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import peewee
import tornado.httputil
import tornado.web

from pairs import auth, bridge, delivery, messages, users
from pairs.args import Arg, ArgError, BodyError, capped, parse_args, parse_body, parse_count
from pairs.db import utcnow
from pairs.db.urls import DatabaseUnavailable
from pairs.errors import NotFound, Rejected

log = logging.getLogger("pairs.http")

SESSION_COOKIE = "pairs_session"
SESSION_COOKIE_DAYS = 31  # the signature's age limit; the session row has its own expiry
RETRY_AFTER_SEC = 1  # a 503 for a database that is locked or away: TradingView re-sends on any 5xx anyway


class ApiError(tornado.web.HTTPError):
    """An answer with a JSON body; raised anywhere in a handler."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None, compact: bool = False):
        super().__init__(status)
        self.body = body
        self.headers = headers or {}
        self.compact = compact


def message(status: int, text: Any) -> ApiError:
    return ApiError(status, {"message": text})


def field_error(field: str, text: str) -> ApiError:
    return ApiError(400, {"message": {field: text}})


def token_error(error: auth.TokenError) -> ApiError:
    """JWT errors look like Flask's jsonify: compact, keys sorted (SPEC §3.2)."""
    return ApiError(401, {"error": error.error, "message": error.message}, compact=True)


def dumps(body: Any, compact: bool = False) -> str:
    if compact:
        return json.dumps(body, separators=(",", ":"), sort_keys=True, allow_nan=False) + "\n"
    return json.dumps(body, allow_nan=False) + "\n"


@dataclasses.dataclass(frozen=True)
class Identity:
    username: str
    is_admin: bool
    fresh: bool
    via: str  # "token" | "cookie"
    claims: dict[str, Any] = dataclasses.field(default_factory=dict)


class Access(enum.StrEnum):
    """Who may call a route: the ``access`` of its row in handlers/routes.py, enforced by BaseHandler."""

    PUBLIC = "public"  # anyone
    OPTIONAL_TOKEN = "optional"  # anyone; a token (or the session) lifts the anonymous caps; a bad token is a 401
    PASSPHRASE = "passphrase"  # the webhook passphrase, checked after the arguments (SPEC §3.3): ``arguments()``
    TOKEN = "token"  # an access token, or the dashboard's session cookie (with the XSRF token on a write)
    FRESH_TOKEN = "fresh"  # the same, from a login within its ``expire`` minutes
    ADMIN = "admin"  # a fresh token of an admin
    REFRESH_TOKEN = "refresh"  # a refresh token (Bearer only)
    SESSION = "session"  # a page: anyone, a logged-in user sees more; a form post needs the XSRF token
    LOGIN = "login"  # a page for a logged-in user only: the others are sent to the login form
    ADMIN_PAGE = "admin-page"  # the same for an admin: another user gets the 401 of ADMIN


# what ``identity()`` must find for each token level
_TOKEN_LEVELS: dict[Access, dict[str, Any]] = {
    Access.OPTIONAL_TOKEN: {"required": False}, Access.TOKEN: {}, Access.FRESH_TOKEN: {"fresh": True},
    Access.ADMIN: {"fresh": True, "admin": True}, Access.REFRESH_TOKEN: {"kind": "refresh"},
}


@tornado.web.stream_request_body
class BaseHandler(tornado.web.RequestHandler):
    """JSON API handler.  Page handlers subclass it and override ``write_error``.

    Each request knows its row of handlers/routes.py (``self.route``, given by the URL rule): ``arguments()`` parses
    its argument table, and its ``access`` is enforced before the method runs.

    The body is streamed (``stream_request_body``): ``prepare`` refuses a declared length over the cap before a byte
    of the body is read, ``data_received`` keeps at most the cap of a chunked one and answers 413 as soon as it is
    over, and every HTTP method of a subclass first puts the body where Tornado would have (``_read_body``), then
    checks the XSRF token, which may be a form field of that body, then the row's access (``_admit``): the order of
    SPEC §3.3, CSRF before the token.
    """

    # Write routes name what they change (pairs.live): open dashboard pages hear of each successful write.
    live_topic: str | None = None
    # A shutdown waits for the requests in flight; a stream that never ends by itself opts out (handlers/live.py).
    counts_in_flight = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("get", "post", "put", "patch", "delete", "head"):
            method = cls.__dict__.get(name)
            if method is not None:
                setattr(cls, name, _admitted(method))

    def initialize(self, rows: Mapping[str, Any] | None = None, passphrase_route: bool = False) -> None:
        """``rows``: the URL rule's rows by method (HEAD is served by GET's); ``passphrase_route``: a rule with a
        passphrase row, where no cookie authenticates, so no XSRF token is needed (A.5), and every request is
        logged (pairs.delivery)."""
        method = self.request.method
        self.route = (rows or {}).get("GET" if method == "HEAD" else method)
        self.passphrase_route = passphrase_route
        self._received = bytearray()
        self._size = 0  # bytes received (or declared, when refused unread)
        self._body_read = False
        self._answer: Any = None
        if self.counts_in_flight:
            self._counted = self.ctx.in_flight
            self._counted.started()

    @property
    def ctx(self):  # the application's shared state: settings, store, secrets, throttle
        return self.application.ctx

    # ----------------------------------------------------------------------------------------------- headers
    def set_default_headers(self) -> None:
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "strict-origin-when-cross-origin")
        self.set_header(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        if self._scheme() == "https":  # also behind a trusted TLS-terminating proxy
            self.set_header("Strict-Transport-Security", "max-age=31556926; includeSubDomains")
        origin = self.request.headers.get("Origin")
        if self.request.path.startswith("/v4/"):
            allowed = self.ctx.cors_origins
            if "*" in allowed:
                self.set_header("Access-Control-Allow-Origin", origin or "*")
            elif origin and origin in allowed:
                self.set_header("Access-Control-Allow-Origin", origin)
            if origin:
                self.add_header("Vary", "Origin")

    def options(self, *args: Any) -> None:
        """CORS preflight for every route."""
        self.set_header("Access-Control-Allow-Methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT")
        requested = self.request.headers.get("Access-Control-Request-Headers")
        if requested:
            self.set_header("Access-Control-Allow-Headers", requested)
        self.set_header("Access-Control-Max-Age", "600")
        self.set_status(204)
        self.finish()

    async def head(self, *args: Any) -> None:
        getter = getattr(self, "get", None)
        if getter is None:
            raise tornado.web.HTTPError(405)
        result = getter(*args)
        if result is not None:
            await result

    # ----------------------------------------------------------------------------------------------- request
    @property
    def peer(self) -> str:
        """The client's address: the socket's, or X-Forwarded-For's when the socket is a trusted proxy (A.5)."""
        if not hasattr(self, "_peer"):
            self._peer = resolve_peer(self.request, self.ctx.trusted_proxies)
        return self._peer

    def prepare(self) -> Any:
        self._started = time.monotonic()
        if not self._xsrf_in_body():  # first, as Tornado does; a form's token is checked once the body is in
            self._check_xsrf()
        if self.ctx.settings.force_https and self._scheme() != "https":
            url = "https://" + self.request.host + self.request.uri
            self.set_status(308)
            self.set_header("Location", url)
            self.finish(dumps({"message": messages.HTTPS_REQUIRED}))
            return None
        limit = self.ctx.settings.body_limit
        declared = _declared_length(self.request.headers)
        connection = self.request.connection
        if declared is not None and declared > limit:
            self._size = declared
            if connection is not None:  # the connection closes after the answer; until then Tornado reads and drops,
                connection.set_max_body_size(declared)  # instead of adding its own bare 400 behind ours
            raise message(413, messages.BODY_TOO_LARGE.format(limit=limit))
        if declared is None and connection is not None:
            connection.set_max_body_size(sys.maxsize)  # chunked: data_received keeps the cap and answers 413 first
        return None

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        self._size += len(chunk)
        limit = self.ctx.settings.body_limit
        if self._size > limit:
            self._received.clear()
            self.send({"message": messages.BODY_TOO_LARGE.format(limit=limit)}, 413)
            return
        self._received += chunk

    def _read_body(self) -> None:
        """The body, complete: into ``request.body`` and, for a form, its arguments (as Tornado does unstreamed);
        then a form's XSRF check, which Tornado would have made before ``prepare`` (``xsrf_cookies`` is off in the
        application: BaseHandler checks the token itself)."""
        if self._body_read:
            return
        self._body_read = True
        self.request.body = bytes(self._received)
        self._received = bytearray()
        request = self.request
        try:
            tornado.httputil.parse_body_arguments(request.headers.get("Content-Type", ""), request.body,
                                                  request.body_arguments, request.files, request.headers)
        except tornado.httputil.HTTPInputError:
            raise message(400, messages.BAD_REQUEST) from None
        for name, values in request.body_arguments.items():
            request.arguments.setdefault(name, []).extend(values)
        if self._xsrf_in_body():
            self._check_xsrf()

    def _xsrf_in_body(self) -> bool:
        """A form may carry the XSRF token as its ``_xsrf`` field: it is checked after the body was read."""
        content_type = self.request.headers.get("Content-Type", "")
        return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))

    def _check_xsrf(self) -> None:
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            self.check_xsrf_cookie()

    def set_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        """Every cookie (the session's and Tornado's ``_xsrf``) is Secure under HTTPS, also behind a trusted
        TLS-terminating proxy (A.5)."""
        if self._scheme() == "https":
            kwargs["secure"] = True
        super().set_cookie(name, value, *args, **kwargs)

    def _scheme(self) -> str:
        if self.request.protocol == "https":
            return "https"
        if self.request.remote_ip and _in_networks(self.request.remote_ip, self.ctx.trusted_proxies):
            return self.request.headers.get("X-Forwarded-Proto", "http").split(",")[0].strip().lower()
        return "http"

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        """Path segments: invalid UTF-8 or a NUL (which PostgreSQL cannot even compare) is a 400."""
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise message(400, messages.BAD_REQUEST) from None
        if "\x00" in text:
            raise message(400, messages.BAD_REQUEST)
        return text

    def values(self) -> dict[str, Any]:
        """Query string < form or JSON body (JSON wins, SPEC §3.1); raises 400 for an unusable body."""
        if not hasattr(self, "_values"):
            merged: dict[str, Any] = {}
            try:
                # invalid UTF-8 is refused, not replaced: a mangled value must not be stored
                for key, raw in self.request.query_arguments.items():
                    merged[key] = [v.decode("utf-8") for v in raw]
                body = parse_body(self.request.body, self.request.headers.get("Content-Type", ""))
                if self.request.headers.get("Content-Type", "").startswith("multipart/"):
                    for key, raw in self.request.body_arguments.items():
                        merged[key] = [v.decode("utf-8") for v in raw]
            except UnicodeDecodeError:
                raise message(400, messages.BAD_REQUEST) from None
            except BodyError as exc:
                answer = {"message": str(exc)}
                if exc.detail:
                    answer["detail"] = exc.detail
                raise ApiError(400, answer) from None
            merged.update(body)
            self._values = merged
            self._parsed = body  # the delivery row's redaction reads it instead of parsing the body again
        return self._values

    def args(self, spec: Sequence[Arg]) -> dict[str, Any]:
        try:
            return parse_args(spec, self.values())
        except ArgError as exc:
            raise field_error(exc.field, exc.message) from None

    def arguments(self) -> dict[str, Any]:
        """The row's argument table, parsed; on a passphrase route the passphrase is checked next, so a bad argument
        is a 400 before a wrong passphrase is a 401 (SPEC §3.3), answered as the row says the original did."""
        values = self.args(self.route.args)
        if self.route.access is Access.PASSPHRASE:
            status, nested = self.route.wrong_passphrase
            self.check_passphrase(values["passphrase"], status, nested)
        return values

    def count(self, text: str, anonymous_limit: int | None = None, field: str = "number_of_items") -> int:
        """A list's size from its path segment: 0 = all, the anonymous cap applied when not logged in.

        A bad token is answered (401) before a bad count (400): the JWT check comes first (SPEC §3.3).
        """
        anonymous = anonymous_limit is not None and self.identity(required=False) is None
        try:
            number = parse_count(text, field)
        except ArgError as exc:
            raise field_error(exc.field, exc.message) from None
        return capped(number, anonymous_limit) if anonymous else number

    # ----------------------------------------------------------------------------------------------- identity
    def _admit(self) -> None:
        """The row's access, enforced once the request is in and its XSRF token checked, before the method runs.

        A passphrase is checked by ``arguments()``, after the arguments; a page left to anyone reads its user when it
        needs one (``current_user``), so a bad token there is a 401 only where the page looks.
        """
        route = self.route
        if route is None:  # no row names this method: not served (tests/test_openapi.py keeps rows and methods equal)
            raise tornado.web.HTTPError(405)
        if route.access in (Access.LOGIN, Access.ADMIN_PAGE):
            if self.current_user is None:
                self.redirect("/login?" + urllib.parse.urlencode({"next": self.request.uri}))
            elif route.access is Access.ADMIN_PAGE and not self.current_user.is_admin:
                raise message(401, messages.NOT_ADMIN)
            return
        level = _TOKEN_LEVELS.get(route.access)
        if level is not None:
            self.current_user = self.identity(**level)

    def identity(self, required: bool = True, fresh: bool = False, admin: bool = False,
                 kind: str = "access") -> Identity | None:
        """Who is calling: a Bearer token, else the dashboard's session cookie (SPEC §3.5 with A.5).

        ``required=False`` is the original's "optional JWT": no header means anonymous, a bad token is still 401.
        """
        cache_key = (kind,)
        cache = self.__dict__.setdefault("_identities", {})
        if cache_key not in cache:
            cache[cache_key] = self._resolve_identity(kind)
        who = cache[cache_key]
        if who is None:
            if required:
                raise token_error(auth.TokenError(*auth.TOKEN_MISSING))
            return None
        if fresh and not who.fresh:
            raise token_error(auth.TokenError(*auth.TOKEN_NOT_FRESH))
        if admin and not who.is_admin:
            raise message(401, messages.NOT_ADMIN)
        return who

    def _resolve_identity(self, kind: str) -> Identity | None:
        header = self.request.headers.get("Authorization")
        if header is not None:
            token = auth.bearer_token(header)
            if token is None:
                return None
            try:
                claims = auth.decode_token(self.ctx.jwt_secret, token, kind)
                if users.is_revoked(claims):
                    raise auth.TokenError(*auth.TOKEN_REVOKED)
                user = users.token_account(claims)
                if user is None:  # a deleted user, a changed password, or another account of that name (A.5)
                    raise auth.TokenError(*auth.TOKEN_INVALID)
            except auth.TokenError as exc:
                raise token_error(exc) from None
            return Identity(user.username, bool(user.is_admin), auth.is_fresh(claims), "token", claims)
        if kind != "access" or self.passphrase_route:
            return None
        found = self.session_user()
        if found is None:
            return None
        return Identity(found.username, bool(found.is_admin), True, "cookie")

    def session_id(self) -> str | None:
        """The dashboard session this request's signed cookie names, if any (not checked against the table)."""
        session = self.get_signed_cookie(SESSION_COOKIE, max_age_days=SESSION_COOKIE_DAYS)
        return session.decode("utf-8", "replace") if session else None

    def session_user(self) -> Any:
        """The user of the request's live dashboard session, or None."""
        session = self.session_id()
        return users.session_user(session) if session else None

    def check_xsrf_cookie(self) -> None:
        """XSRF applies only where the browser's session cookie authenticates the request (A.5)."""
        if self.passphrase_route or "Authorization" in self.request.headers:
            return
        if not self.get_cookie(SESSION_COOKIE):
            return
        try:
            super().check_xsrf_cookie()
        except tornado.web.HTTPError:
            raise message(403, messages.CSRF_FAILED) from None

    def check_passphrase(self, given: Any, status: int = 401, nested: bool = False) -> None:
        if not auth.passphrase_ok(self.ctx.settings.webhook_passphrase, given):
            text = {"passphrase": messages.WRONG_PASSPHRASE} if nested else messages.WRONG_PASSPHRASE
            raise message(status, text)

    # ----------------------------------------------------------------------------------------------- answers
    def send(self, body: Any, status: int = 200, compact: bool = False) -> None:
        self._answer = body  # its message goes to the delivery log
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(dumps(body, compact))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.clear_header("Content-Type")
        if isinstance(exc, DatabaseUnavailable):  # logged by log_exception
            exc, status_code = self.unavailable(), 503
        if isinstance(exc, ApiError):
            for name, value in exc.headers.items():
                self.set_header(name, value)
            self.send(exc.body, status_code, exc.compact)
            return
        if isinstance(exc, (Rejected, NotFound)):
            self.send({"message": str(exc)}, exc.status)
            return
        texts = {404: messages.URL_NOT_FOUND, 405: messages.METHOD_NOT_ALLOWED, 403: messages.CSRF_FAILED,
                 400: messages.BAD_REQUEST}
        text = texts.get(status_code) or (messages.INTERNAL_ERROR if status_code >= 500 else self._reason)
        self.send({"message": text}, status_code)

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, (ApiError, Rejected, NotFound)):
            return
        if isinstance(value, DatabaseUnavailable):  # expected and explained: one line, no traceback
            self.log_db_error(value)
            return
        super().log_exception(typ, value, tb)

    def unavailable(self, **extra: Any) -> ApiError:
        return ApiError(503, {"message": messages.DB_UNAVAILABLE, **extra},
                        headers={"Retry-After": str(RETRY_AFTER_SEC)})

    def db_error(self, exc: peewee.PeeweeException, text: str, **extra: Any) -> ApiError:
        """The answer to a failed database operation, its cause logged once: 503 when the database is locked,
        unreachable or full (try again), else the original's 500 with ``text`` (a bug)."""
        self.log_db_error(exc)
        if isinstance(exc, DatabaseUnavailable):
            return self.unavailable(**extra)
        return ApiError(500, {"message": text, **extra})

    def log_db_error(self, exc: BaseException) -> None:
        where = f"{self.request.method} {self.request.path}"
        if isinstance(exc, DatabaseUnavailable):
            log.error("%s answered 503: %s", where, exc)
        else:
            log.error("%s answered 500: database error", where, exc_info=exc)

    # ----------------------------------------------------------------------------------------------- log
    def on_finish(self) -> None:
        counter = getattr(self, "_counted", None)
        if counter is not None:
            self._counted = None
            counter.finished()
        if self.live_topic and self.request.method not in ("GET", "HEAD", "OPTIONS") and self.get_status() < 300:
            self.ctx.live.publish(self.live_topic)
        request = self.request
        if self.passphrase_route:  # the body only when it was read (not when refused for its size, or before it came)
            self.ctx.store.writer.submit_unawaited(delivery.record_tx, delivery.entry(
                peer=self.peer, method=request.method, route=request.path,
                content_type=request.headers.get("Content-Type"), size=self._size, status=self.get_status(),
                body=request.body if self._body_read else None, answer=self._answer,
                configured=self.ctx.settings.webhook_passphrase,
                carried=getattr(self, "_values", {}).get("passphrase"), parsed=getattr(self, "_parsed", None)))
        anonymous = not (request.headers.get("Authorization") or self.get_cookie(SESSION_COOKIE))
        if bridge.shows_bridge_alive(request.method, request.path, anonymous, self.get_status(),
                                     self.application.route_table.bridge_writes):
            self._remember_bridge()

    def _remember_bridge(self) -> None:
        """"Bridge last seen" (dashboard header, /healthz, the silent-bridge alarm): every accepted write of the
        bridge, its 10-second poll at most once a minute. Queued like the delivery row, after the answer went out."""
        now = utcnow()
        last = self.ctx.bridge_last_seen
        if self.request.method == "GET" and last is not None and now - last < bridge.POLL_RESOLUTION:
            return
        self.ctx.bridge_last_seen = now
        self.ctx.store.writer.submit_unawaited(bridge.remember_tx, now)


def _admitted(method: Callable[..., Any]) -> Callable[..., Any]:
    """The method, run once the body is in and the row's access is met (a page may have redirected instead)."""

    @functools.wraps(method)
    def run(self: BaseHandler, *args: Any, **kwargs: Any) -> Any:
        self._read_body()
        self._admit()
        if self._finished:
            return None
        return method(self, *args, **kwargs)

    return run


def _declared_length(headers: tornado.httputil.HTTPHeaders) -> int | None:
    """The Content-Length; None for a chunked body or none (an unreadable one Tornado has refused already)."""
    text = headers.get("Content-Length")
    if text is None:
        return None
    try:
        return int(text.split(",")[0])
    except ValueError:
        return None


def _in_networks(address: str, networks: Sequence[Any]) -> bool:
    if not networks:  # the default (no proxy, no allowlist): no address to parse on every request
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def resolve_peer(request: Any, trusted: Sequence[Any]) -> str:
    """The socket peer; behind a trusted proxy, the right-most X-Forwarded-For entry that is not a trusted proxy.

    X-Forwarded-For is the one source (A.5): when every entry is a trusted proxy, the client is the left-most of
    them (or the socket peer without the header); X-Real-Ip and the like are never believed.
    """
    peer = request.remote_ip or ""
    if not trusted or not _in_networks(peer, trusted):
        return peer
    forwarded = request.headers.get("X-Forwarded-For", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in_networks(hop, trusted):
            return hop
    return hops[0] if hops else peer


class NotFoundHandler(BaseHandler):
    """Unknown URLs and methods answer JSON (A.1)."""

    def prepare(self) -> None:
        raise message(404, messages.URL_NOT_FOUND)

    def check_xsrf_cookie(self) -> None:
        return
