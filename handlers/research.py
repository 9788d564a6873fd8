"""Pair research (issue 12, SPEC A.7): the screener's API routes and pages, and the page of one pair."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from handlers.base import BaseHandler, message
from handlers.maintenance import job_control
from pairs import messages, screener
from pairs.args import Arg

log = logging.getLogger("pairs.screener")

SCREENER_GET_ARGS = (Arg("top", "int", default=100, description="how many pairs, best first; 0 means all"),)


def screener_state(top: int) -> dict[str, Any]:
    """The latest run's best pairs, plus the run in progress (null when none)."""
    state = screener.running()
    return {**screener.latest(max(top, 0)), "running": state.as_json() if state else None}


async def start_screener(ctx: Any) -> int | None:
    """Claim the screener and run it in the executor; the job's id, or None when a run is in progress."""
    source = job_control(ctx).source()
    job_id = await ctx.run(screener.begin, ctx.store)
    if job_id is None:
        return None
    task = asyncio.ensure_future(ctx.run(screener.run, ctx.store, source, ctx.settings, job_id))
    task.add_done_callback(_log_failure)
    ctx.extras["screener_run"] = task  # a reference, so the task is not collected while it runs
    return job_id


def _log_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("screener run failed", exc_info=task.exception())


class ScreenerApiHandler(BaseHandler):
    def get(self) -> None:
        self.identity()
        top = self.args(SCREENER_GET_ARGS)["top"]
        self.send(screener_state(top))

    async def post(self) -> None:
        self.identity(fresh=True, admin=True)
        job_id = await start_screener(self.ctx)
        if job_id is None:
            raise message(409, messages.SCREENER_BUSY)
        self.send({"message": messages.SCREENER_STARTED, "job": job_id}, 202)


ROUTES = [
    (r"/v4/screener", ScreenerApiHandler),
]
