"""Continuity findings (pairs/continuity.py): the list for a logged-in user, the review mark for an admin."""

from __future__ import annotations

from handlers.base import BaseHandler, message
from pairs import continuity, messages
from pairs.args import Arg
from pairs.db import utcnow
from pairs.instruments import parse_rowid

REVIEW_ARGS = (Arg("reviewed", "bool", default=True, description="false opens the finding again"),)


class FindingListHandler(BaseHandler):
    def get(self, number: str) -> None:
        limit = self.count(number)
        self.send({"findings": continuity.latest_findings(limit), "open": continuity.open_count()})


class FindingItemHandler(BaseHandler):
    async def put(self, finding_id: str) -> None:
        body = self.arguments()
        number = parse_rowid(finding_id)
        row = None if number is None else await self.ctx.store.write(
            continuity.set_reviewed_tx, number, body["reviewed"], self.current_user.username, utcnow())
        if row is None:
            raise message(404, messages.NOT_FOUND)
        self.send(continuity.finding_json(row))
