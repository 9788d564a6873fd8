"""Account PNL records (SPEC §5.9 with A.4), and the v4.0 alias /v4/regpnl."""

from __future__ import annotations

from handlers.base import ApiError, BaseHandler
from pairs import instruments, live, messages
from pairs.args import Arg
from pairs.db import Account
from pairs.wire import account_json

ANONYMOUS_LIMIT = 5
PNL_ARGS = (
    Arg("passphrase", "str", required=True, help=messages.empty("passphrase")),
    Arg("rowid", "int", default=0),
    Arg("timestamp", "datetime", help=messages.DATE_HELP),
    *(Arg(k, "float") for k in ("AvailableFunds", "BuyingPower", "GrossPositionValue", "MaintMarginReq",
                                "NetLiquidation")),
    *(Arg(k, "float", default=-1) for k in ("DailyPnL", "RealizedPnL", "UnrealizedPnL")),
)


class PnlHandler(BaseHandler):
    live_topic = live.POSITIONS

    async def post(self) -> None:
        body = self.arguments()
        await self.ctx.store.write(instruments.create_account_tx, body)
        self.send({"message": messages.created("record")}, 201)

    async def put(self) -> None:
        body = self.arguments()
        row = await self.ctx.store.write(instruments.replace_account_tx, body)
        # the original answers with the request's values (defaults as the integer -1) and rowid as given, which is
        # the replaced row's (the newest record's when none was given: replace_account_tx)
        answer = {"rowid": row.rowid, "timestamp": account_json(row)["timestamp"]}
        answer.update({k: body[k] for k in instruments.ACCOUNT_VALUES})
        self.send(answer)


class PnlListHandler(BaseHandler):
    def get(self, number: str) -> None:
        rows = instruments.newest_first(Account.select(), Account, self.count(number, ANONYMOUS_LIMIT))
        self.send({"pnls": [account_json(r) for r in rows], "notoken_limit": ANONYMOUS_LIMIT})


class PnlItemHandler(BaseHandler):
    def get(self, rowid: str) -> None:
        """The record, plus ``signals``: the newest record as a one-element list (or none), which is what the v4.0
        route ``/v4/pnl/1`` answered and what the pairs-ibkr bridge still reads there (A.1.2); without the key its
        loop of fill, position and account updates stops with a KeyError."""
        row = instruments.find_account(rowid)
        newest = instruments.newest_account()
        bridge = {"signals": [account_json(newest)] if newest else []}
        if row is None:
            raise ApiError(404, {"message": messages.NOT_FOUND, **bridge})
        self.send({**account_json(row), **bridge})

    async def delete(self, rowid: str) -> None:
        await self.ctx.store.write(instruments.delete_account_tx, rowid)
        self.send({"message": messages.deleted("pnl")})
