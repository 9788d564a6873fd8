"""Tickers (SPEC §5.6) and ticker positions/PNL from the broker bridge (§5.7)."""

from __future__ import annotations

from handlers.base import BaseHandler, field_error, message
from pairs import instruments, live, messages, vocab
from pairs.args import Arg
from pairs.db import Ticker
from pairs.wire import ticker_json

TICKER_ARGS = (
    Arg("symbol", "str", required=True, help=messages.empty("symbol"), max_length=40),
    Arg("sectype", "str", default="STK", max_length=20),
    Arg("xch", "str", default="SMART", max_length=40),
    Arg("prixch", "str", default="NYSE", max_length=40),
    Arg("currency", "str", default="USD", max_length=20),
    Arg("order_type", "str", default="RELATIVE", max_length=20),
    Arg("active", "int", default=vocab.Activity.PASSIVE, description=vocab.ACTIVITY_HELP),
    Arg("update_pnl", "bool", default=False),
    Arg("active_pos", "float", default=0),
    Arg("active_pnl", "float", default=0),
    Arg("active_cost", "float", default=0),
)
TICKER_PNL_ARGS = (
    Arg("passphrase", "str", required=True, help=messages.empty("passphrase")),
    Arg("symbol", "str", required=True, help=messages.empty("symbol"), max_length=40),
    Arg("active_pos", "float"),
    Arg("active_pnl", "float"),
    Arg("active_cost", "float"),
)


def check_status_value(body: dict, field: str) -> None:
    if body[field] is not None and body[field] not in vocab.VALUES:
        raise field_error(field, messages.bad_activity(field))


class TickerHandler(BaseHandler):
    def _body(self) -> dict:
        body = self.arguments()
        check_status_value(body, "active")
        return body

    async def post(self) -> None:
        body = self._body()
        await self.ctx.store.write(instruments.create_ticker_tx, body)
        self.send({"message": messages.created("ticker")}, 201)

    async def put(self) -> None:
        body = self._body()
        ticker = await self.ctx.store.write(instruments.put_ticker_tx, body)
        if ticker is None:
            self.send({"message": messages.created("ticker")}, 201)
        else:
            self.send(ticker_json(ticker))


class TickerPnlHandler(BaseHandler):
    live_topic = live.POSITIONS

    async def put(self) -> None:
        body = self.arguments()
        ticker = await self.ctx.store.write(instruments.set_ticker_pnl_tx, body["symbol"], body)
        self.send(ticker_json(ticker))


class TickerListHandler(BaseHandler):
    def get(self, number: str) -> None:
        rows = instruments.newest_first(Ticker.select(), Ticker, self.count(number))
        self.send({"tickers": [ticker_json(t) for t in rows]})


class TickerItemHandler(BaseHandler):
    def get(self, symbol: str) -> None:
        ticker = instruments.find_ticker(symbol)
        if ticker is None:
            raise message(404, messages.NOT_FOUND)
        self.send(ticker_json(ticker))

    async def delete(self, symbol: str) -> None:
        await self.ctx.store.write(instruments.delete_ticker_tx, symbol)
        self.send({"message": messages.deleted("ticker")})
