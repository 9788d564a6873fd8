"""Signals (SPEC §5.1–5.5): TradingView webhooks, the bridge's echo and fill updates, lists, single signals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import peewee
import tornado.ioloop

from handlers import maintenance
from handlers.base import BaseHandler, _in_networks, message
from pairs import delivery, live, messages, signals, users, vocab
from pairs.args import Arg
from pairs.db import utcnow
from pairs.fills import OrderUpdate
from pairs.wire import signal_json

log = logging.getLogger("pairs.signals")

ANONYMOUS_LIMIT = 5
ANONYMOUS_WAITING_LIMIT = 20  # the bridge polls the waiting list anonymously (SPEC §5.4, Appendix A)

WEBHOOK_ARGS = (
    Arg("passphrase", "str", required=True, help=messages.empty("passphrase")),
    Arg("rowid", "int", default=0),
    Arg("timestamp", "datetime", help=messages.DATE_HELP),
    Arg("ticker", "str", required=True, help=messages.empty("ticker")),
    Arg("order_action", "str", required=True, help=messages.empty("order_action")),
    Arg("order_contracts", "int", required=True, help=messages.empty("order_contracts")),
    Arg("order_price", "float"),
    Arg("mar_pos", "str"),
    Arg("mar_pos_size", "int"),
    Arg("pre_mar_pos", "str"),
    Arg("pre_mar_pos_size", "int"),
    Arg("order_comment", "str", default=""),
    Arg("order_status", "str", default=vocab.OrderStatus.WAITING),
    Arg("ticker_type", "str"),
    Arg("ticker1", "str"),
    Arg("ticker2", "str"),
    Arg("hedge_param", "float"),
    Arg("order_id1", "int"),
    Arg("order_id2", "int"),
    Arg("price1", "float"),
    Arg("price2", "float"),
    Arg("fill_price", "float"),
    Arg("slip", "float"),
    Arg("error_msg", "str"),
    Arg("status_msg", "str"),
    Arg("bypass_ticker_status", "bool", default=False),
)

ORDER_ARGS = (
    Arg("passphrase", "str", required=True, help=messages.empty("passphrase")),
    Arg("order_id", "int", required=True),
    Arg("symbol", "str", required=True),
    Arg("price", "float", required=True),
    Arg("filled_qty", "float", required=True),
    Arg("cancel", "bool", default=False),
    Arg("partial", "bool", default=False),
    Arg("order_contracts", "int"),
)

WEBHOOK_ANSWERS = {
    signals.CREATED: (200, messages.created("signal")),
    signals.PROBLEMATIC: (201, messages.WEBHOOK_PROBLEMATIC),
    signals.UNKNOWN_OR_PASSIVE: (201, messages.WEBHOOK_UNKNOWN),
}


async def _stored(handler: BaseHandler, write: Awaitable[Any], failure: str) -> Any:
    """A database error is a 500 with the original's text, or a 503 when the database is away (nothing stored);
    a refused or missing row was raised by the tx."""
    try:
        return await write
    except peewee.PeeweeException as exc:
        raise handler.db_error(exc, failure) from None


class WebhookHandler(BaseHandler):
    """POST: TradingView's alert (and the bridge's sync signals).  PUT: the bridge's full echo of a signal."""

    live_topic = live.SIGNALS

    def prepare(self) -> None:
        super().prepare()
        networks = self.ctx.webhook_networks
        if not self._finished and networks and not _in_networks(self.peer, networks):
            raise message(403, messages.SOURCE_NOT_ALLOWED)

    async def post(self) -> None:
        body = self.arguments()
        inserted = await _stored(self, self.ctx.store.write(signals.insert_signal_tx, body,
                                                            self.ctx.settings.duplicate_window_sec),
                                 messages.INSERT_FAILED)
        status, text = WEBHOOK_ANSWERS[inserted.outcome]
        self.send({"message": text}, status)
        if inserted.findings and self.ctx.settings.enable_email_notifications:
            # mailed now, not at the next periodic check; the check runs in the executor (kept for the tests)
            self.ctx.extras["continuity_alert"] = asyncio.ensure_future(maintenance.job_control(self.ctx).email())

    async def put(self) -> None:
        body = self.arguments()
        row = await _stored(self, self.ctx.store.write(signals.replace_signal_tx, body), messages.UPDATE_FAILED)
        self.send(signal_json(row, with_timestamp=False))


class SignalItemHandler(BaseHandler):
    live_topic = live.SIGNALS

    def get(self, rowid: str) -> None:
        try:
            row = signals.find_signal(rowid)
        except peewee.PeeweeException as exc:
            raise self.db_error(exc, messages.GET_FAILED) from None
        if row is None:
            raise message(404, messages.NOT_FOUND)
        self.send(signal_json(row))

    async def delete(self, rowid: str) -> None:
        await _stored(self, self.ctx.store.write(signals.delete_signal_tx, rowid), messages.DELETE_FAILED)
        self.send({"message": messages.deleted("signal")})


class OrderHandler(SignalItemHandler):
    """PUT /v4/signal/order (and v4.0's /v4/signal/updateorder).  Other methods fall through to the rowid route,
    as in the original: ``GET /v4/signal/order`` is a 404 ``item not found.`` (under the rows of SignalItemHandler)."""

    async def put(self, _route: str) -> None:
        body = self.arguments()
        update = OrderUpdate(body["order_id"], body["symbol"], body["price"], body["filled_qty"], body["cancel"],
                             body["partial"], body["order_contracts"])
        row = await _stored(self, self.ctx.store.write(signals.update_order_tx, update), messages.UPDATE_FAILED)
        self.send(signal_json(row, with_timestamp=False))


def _list(handler: BaseHandler, rows: Callable[[], list]) -> list[dict[str, Any]]:
    """A database fault is the original's 500 and text (503 when the database is away), plus an empty
    ``signals``: the bridge reads that key of every waiting-list answer it gets, and a KeyError there ends its
    polling for good (A.1.2)."""
    try:
        return rows()
    except peewee.PeeweeException as exc:
        raise handler.db_error(exc, messages.GET_FAILED, signals=[]) from None


class SignalListHandler(BaseHandler):
    def get(self, number: str) -> None:
        limit = self.count(number, ANONYMOUS_LIMIT)
        self.send({"signals": _list(self, lambda: signals.latest_signals(limit)), "notoken_limit": ANONYMOUS_LIMIT})


class SignalStatusListHandler(BaseHandler):
    def get(self, status: str, number: str) -> None:
        limit = self.count(number, ANONYMOUS_WAITING_LIMIT if status == vocab.OrderStatus.WAITING else ANONYMOUS_LIMIT)
        self.send({"signals": _list(self, lambda: signals.signals_with_status(status, limit))})


class SignalTickerListHandler(BaseHandler):
    def get(self, name: str, number: str) -> None:
        limit = self.count(number, ANONYMOUS_LIMIT)
        self.send({"signals": _list(self, lambda: signals.signals_for_ticker(name, limit))})


# ---------------------------------------------------------------------------------------------------------------
# Delivery-log retention, and expired token revocations: once at start, then hourly (server.py registers these
# hooks).

PURGE_EVERY_MS = 3600 * 1000


async def purge_delivery_log(ctx: Any) -> None:
    try:
        removed = await ctx.store.write(delivery.purge_tx, ctx.settings.delivery_log_days, utcnow())
    except peewee.PeeweeException:
        log.exception("delivery log purge failed; the next one retries")
        return
    if removed:
        log.info("delivery log: removed %d row(s) older than %d days", removed, ctx.settings.delivery_log_days)


async def purge_revocations(ctx: Any) -> None:
    """Revoked token ids whose tokens expired anyway would otherwise pile up for ever."""
    try:
        removed = await ctx.store.write(users.purge_revocations_tx)
    except peewee.PeeweeException:
        log.exception("revoked-token purge failed; the next one retries")
        return
    if removed:
        log.info("revoked tokens: forgot %d expired one(s)", removed)


async def purge_expired_rows(ctx: Any) -> None:
    await purge_delivery_log(ctx)
    await purge_revocations(ctx)


def start_delivery_log_purge(ctx: Any) -> None:
    ctx.extras["delivery_log_first_purge"] = asyncio.ensure_future(purge_expired_rows(ctx))
    spawn = tornado.ioloop.IOLoop.current().spawn_callback
    callback = tornado.ioloop.PeriodicCallback(lambda: spawn(purge_expired_rows, ctx), PURGE_EVERY_MS)
    callback.start()
    ctx.extras["delivery_log_purge"] = callback


def stop_delivery_log_purge(ctx: Any) -> None:
    callback = ctx.extras.pop("delivery_log_purge", None)
    if callback is not None:
        callback.stop()
