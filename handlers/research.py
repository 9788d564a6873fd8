"""Pair research (issue 12, SPEC A.8): the screener's API routes and pages, and the page of one pair."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

import tornado.web

from handlers.base import BaseHandler, message
from handlers.pages import PageHandler
from pairs import dashboard, instruments, lifecycle, messages, research, screener
from pairs.args import Arg

SCREENER_GET_ARGS = (Arg("top", "int", default=100, description="how many pairs, best first; 0 means all"),)
SCREENER_PAGE_ROWS = 200


def screener_state(top: int) -> dict[str, Any]:
    """The latest run's best pairs, plus the run in progress (null when none)."""
    state = screener.running()
    return {**screener.latest(max(top, 0)), "running": state.as_json() if state else None}


class ScreenerApiHandler(BaseHandler):
    def get(self) -> None:
        top = self.arguments()["top"]
        self.send(screener_state(top))

    async def post(self) -> None:
        job_id = await self.ctx.jobs.start_screener()
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
        signals, slips, timings = [], {}, None
        if user is not None:
            signals = dashboard.signal_rows(list(research.recent_signals(pair.name)), now, self.zone)
            # every signal of the pair: off the IOLoop, as the LIST page does
            slips = await self.ctx.run(self.ctx.store.read_in_thread, research.all_time_slips, pair.name, now)
            timings = await self.ctx.run(self.ctx.store.read_in_thread, dashboard.latency_aggregates, pair.name,
                                         dt.datetime(1970, 1, 1), now + dt.timedelta(days=1))
        self.page("pair.html", "", title=f"PAIR {pair.name}", pair=pair, chart=chart,
                  stats=research.statistics_rows(pair, self.zone), signals=signals, slips=slips,
                  list_url="/list?" + urllib.parse.urlencode({"tradetype": "pair", "ticker_webhook": pair.name}),
                  settings=settings, timings=timings, duration=lifecycle.duration_text)
