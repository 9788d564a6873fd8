"""Signals (SPEC §5.1–5.5): TradingView webhooks, the bridge's echo and fill updates, lists, single signals."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import peewee

from handlers.base import BaseHandler, _in_networks, message
from pairs import lifecycle, live, messages, notify, push, signals, vocab
from pairs.args import Arg
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

# POST only, never stored in the signal: the alert's own time and leg prices, for its timeline (pairs.lifecycle)
ALERT_ARGS = (
    Arg("alert_time", "datetime", help=messages.ALERT_TIME_HELP,
        description="the alert's time, ISO 8601 (TradingView's {{timenow}}): alert -> stored latency"),
    Arg("alert_price1", "float", description="leg 1's price when the alert fired: the reference of its slip"),
    Arg("alert_price2", "float", description="leg 2's price when the alert fired: the reference of its slip"),
)
WEBHOOK_POST_ARGS = WEBHOOK_ARGS + ALERT_ARGS

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
                                                            self.ctx.settings.duplicate_window_sec,
                                                            lifecycle.received_detail(body, self.peer)),
                                 messages.INSERT_FAILED)
        status, text = WEBHOOK_ANSWERS[inserted.outcome]
        self.send({"message": text}, status)
        push.signal_stored(self.ctx.store, self.ctx.settings, inserted.rowid, inserted.record,
                           inserted.outcome != signals.CREATED)
        if inserted.findings and notify.findings_wanted(self.ctx.store, self.ctx.settings):
            self.ctx.jobs.mail_now()

    async def put(self) -> None:
        body = self.arguments()
        row = await _stored(self, self.ctx.store.write(signals.replace_signal_tx, body, self._changed_by()),
                            messages.UPDATE_FAILED)
        self.send(signal_json(row, with_timestamp=False))

    def _changed_by(self) -> str:
        """The setup page's editor sends the dashboard's session cookie along; the bridge has none."""
        user = self.session_user()
        return f"{lifecycle.BY_EDITOR} {user.username}" if user else lifecycle.BY_BRIDGE


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
        updated = await _stored(self, self.ctx.store.write(signals.update_order_tx, update), messages.UPDATE_FAILED)
        self.send(signal_json(updated.row, with_timestamp=False))
        if updated.settled:
            push.fill_applied(self.ctx.store, self.ctx.settings, updated.row)


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


