"""Pair research (issue 12, SPEC A.8): the screener's API routes and pages, and the page of one pair."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import Any

import tornado.web

from handlers.base import BaseHandler, message
from handlers.maintenance import job_control
from handlers.pages import PageHandler
from pairs import dashboard, instruments, messages, research, screener
from pairs.args import Arg

log = logging.getLogger("pairs.screener")

SCREENER_GET_ARGS = (Arg("top", "int", default=100, description="how many pairs, best first; 0 means all"),)
SCREENER_PAGE_ROWS = 200


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
        top = self.arguments()["top"]
        self.send(screener_state(top))

    async def post(self) -> None:
        job_id = await start_screener(self.ctx)
        if job_id is None:
            raise message(409, messages.SCREENER_BUSY)
        self.send({"message": messages.SCREENER_STARTED, "job": job_id}, 202)


class ScreenerPageHandler(PageHandler):
    """SCREENER: the latest run's best pairs, a "Run now" button (admins) with live progress, "Add to watchlist"."""

    def get(self) -> None:
        user = self.current_user
        state = screener_state(SCREENER_PAGE_ROWS)
        registered = research.registered_names()
        rows = [{**p, "name": f"{p['ticker1']}-{p['ticker2']}",
                 "registered": f"{p['ticker1']}-{p['ticker2']}" in registered,
                 "add_hedge": round(p["hedge"], research.ADD_HEDGE_DECIMALS)} for p in state["pairs"]]
        self.page("screener.html", "/screener", title="SCREENER", run=state["run"], running=state["running"],
                  rows=rows, can_run=user.is_admin, contracts=research.ADD_CONTRACTS,
                  pvalue_warn=research.PVALUE_WARN, settings=self.ctx.settings)


class PairPageHandler(PageHandler):
    """One pair: the large chart and the statistics for everyone; its signals and slips for a logged-in user."""

    async def get(self, name: str) -> None:
        pair = instruments.find_pair(name)
        if pair is None:
            raise tornado.web.HTTPError(404)
        user = self.current_user
        settings = self.ctx.settings
        chart = research.pair_page_chart(pair, settings.chart_days, settings.entry_z, settings.exit_z,
                                         with_signals=user is not None, window=settings.sma_window)
        now = self.now()
        signals, slips = [], {}
        if user is not None:
            signals = [dashboard.signal_row(s, now, self.zone) for s in research.recent_signals(pair.name)]
            # every signal of the pair: off the IOLoop, as the LIST page does
            slips = await self.ctx.run(self.ctx.store.read_in_thread, research.all_time_slips, pair.name, now)
        self.page("pair.html", "", title=f"PAIR {pair.name}", pair=pair, chart=chart,
                  stats=research.statistics_rows(pair, self.zone), signals=signals, slips=slips,
                  list_url="/list?" + urllib.parse.urlencode({"tradetype": "pair", "ticker_webhook": pair.name}),
                  settings=settings)
