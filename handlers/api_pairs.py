"""Pairs (SPEC §5.8 with A.4)."""

from __future__ import annotations

from handlers.api_tickers import check_status_value
from handlers.base import BaseHandler, message
from pairs import instruments, messages, vocab
from pairs.args import Arg
from pairs.db import Pair
from pairs.wire import pair_json

_LEGS = (
    Arg("name", "str", max_length=81, description="ignored on POST (always ticker1-ticker2); selects the pair on PUT"),
    Arg("ticker1", "str", required=True, help=messages.empty("ticker1"), max_length=51),
    Arg("ticker2", "str", required=True, help=messages.empty("ticker2"), max_length=51),
    Arg("hedge", "float", required=True, help=messages.empty("hedge")),
    Arg("status", "int", default=vocab.Activity.PASSIVE, description=vocab.ACTIVITY_HELP),
    Arg("notes", "str"),
    Arg("contracts", "int", required=True, help=messages.empty("contracts")),
)
PAIR_POST_ARGS = (*_LEGS, *(Arg(k, "float", default=0) for k in instruments.PAIR_COMPUTED))
PAIR_PUT_ARGS = (*_LEGS, *(Arg(k, "float", description="omitted: the stored value stays") for k in
                           instruments.PAIR_COMPUTED))


class PairHandler(BaseHandler):
    def _body(self) -> dict:
        body = self.arguments()
        check_status_value(body, "status")
        return body

    async def post(self) -> None:
        await self.ctx.store.write(instruments.create_pair_tx, self._body())
        self.send({"message": messages.created("pair")}, 201)

    async def put(self) -> None:
        pair = await self.ctx.store.write(instruments.update_pair_tx, self._body())
        self.send(pair_json(pair))


class PairListHandler(BaseHandler):
    def get(self, number: str) -> None:
        rows = instruments.newest_first(Pair.select(), Pair, self.count(number))
        self.send({"pairs": [pair_json(p) for p in rows]})


class PairItemHandler(BaseHandler):
    def get(self, name: str) -> None:
        pair = instruments.find_pair(name)
        if pair is None:
            raise message(404, messages.NOT_FOUND_PAIR)
        self.send(pair_json(pair))

    async def delete(self, name: str) -> None:
        await self.ctx.store.write(instruments.delete_pair_tx, name)
        self.send({"message": messages.deleted("pair")})
