"""Background jobs inside the server, and the maintenance routes that start them (SPEC §7.9 with A.5).

``start_jobs`` / ``stop_jobs`` are the server's start-up and shut-down hooks: a Tornado PeriodicCallback ticks the
``schedule`` definitions of pairs/jobs.py every second, and each due job is handed to the executor, so neither a
download nor an SMTP conversation ever holds up the IOLoop.  ``/sma`` and ``/update_watchlist`` run the price job
for a logged-in user, then redirect as the original: ``GET`` with a Bearer token, ``POST`` from the dashboard (its
session cookie plus the XSRF token).
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

import tornado.ioloop

from handlers.base import BaseHandler
from pairs import jobs, live, market, notify
from pairs.config import ConfigError

log = logging.getLogger("pairs.jobs")

TICK_MS = 1000


class JobControl:
    """Runs the jobs of one server off the IOLoop; tests put their own price source in ``ctx.extras``."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # tests set the clock
        self.callback: tornado.ioloop.PeriodicCallback | None = None
        self.scheduler = None

    def source(self) -> market.PriceSource:
        if "price_source" not in self.ctx.extras:
            settings = self.ctx.settings
            self.ctx.extras["price_source"] = market.make_price_source(settings.price_source,
                                                                       cache_dir=jobs.yfinance_cache(settings))
        return self.ctx.extras["price_source"]

    async def prices(self, job: str = jobs.PRICES, gate: bool = True) -> jobs.RunOutcome | None:
        """One price run in the executor; the scheduled run and ``/sma`` skip it outside the session (§8.1)."""
        settings = self.ctx.settings
        now = self.now()
        try:
            if gate and not jobs.in_session(now, settings):
                log.debug("%s run skipped: outside the exchange session", job)
                return None
            source = self.source()
        except ConfigError as exc:  # a bad [EXCHANGE] or [SMA] value: said at every run until it is fixed
            log.error("price job cannot run: %s", exc)
            return None
        try:
            outcome = await self.ctx.run(jobs.run_price_job, self.ctx.store, source, settings, job, now)
        except Exception:  # a job failure is logged; the server and the next run go on
            log.exception("%s run failed", job)
            return None
        if outcome is not None:
            self.ctx.live.publish(live.PRICES)
        return outcome

    async def email(self) -> jobs.RunOutcome | None:
        try:
            return await self.ctx.run(notify.run_email_job, self.ctx.store, self.ctx.settings,
                                      self.now().astimezone(dt.UTC).replace(tzinfo=None))
        except Exception:  # as above
            log.exception("e-mail check failed")
            return None

    def start(self) -> None:
        spawn = tornado.ioloop.IOLoop.current().spawn_callback
        self.scheduler = jobs.build_schedule(self.ctx.settings, prices=lambda: spawn(self.prices),
                                             email=lambda: spawn(self.email))
        if not self.scheduler.jobs:
            return
        if self.ctx.settings.enable_sma_calc:
            try:
                self.source()
            except ConfigError as exc:
                log.error("!!! the price job will not run: %s", exc)
        self.callback = tornado.ioloop.PeriodicCallback(self.scheduler.run_pending, TICK_MS)
        self.callback.start()
        log.info("background jobs: %s", "; ".join(f"{', '.join(sorted(job.tags))} every {job.interval} {job.unit}"
                                                  for job in self.scheduler.jobs))

    def stop(self) -> None:
        if self.callback is not None:
            self.callback.stop()
            self.callback = None
        if self.scheduler is not None:
            self.scheduler.clear()


def job_control(ctx: Any) -> JobControl:
    return ctx.extras.setdefault("jobs", JobControl(ctx))


def start_jobs(ctx: Any) -> None:
    job_control(ctx).start()


def stop_jobs(ctx: Any) -> None:
    job_control(ctx).stop()


class RunNowHandler(BaseHandler):
    """A price run now for a logged-in user, then a page (SPEC §7.9 with A.5).

    ``GET`` is the original's route, kept for scripts and bookmarks that send a Bearer token.  A GET carries no
    XSRF token, so one authenticated only by the dashboard's session cookie (which SameSite=Lax still sends on a
    link from another site) shows the page without running anything; the page's button POSTs with the token.
    """

    job = jobs.PRICES
    gate = True
    page = "/positions"

    async def get(self) -> None:
        if self.current_user.via == "token":
            await self._run_and_show()
            return
        self.redirect(self.page)

    async def post(self) -> None:  # with the session cookie, BaseHandler.check_xsrf_cookie has checked the token
        await self._run_and_show()

    async def _run_and_show(self) -> None:
        """The run, then the page with a one-line notice of what it did, or why it did nothing."""
        control = job_control(self.ctx)
        settings = self.ctx.settings
        now = control.now()
        if self.gate and not jobs.in_session(now, settings):
            notice = jobs.closed_notice(now, settings)
        else:
            outcome = await control.prices(self.job, gate=self.gate)
            notice = (jobs.run_notice(outcome, settings.price_source) if outcome is not None
                      else "Not updated: a run of this job is already under way, or it failed (see the log).")
        self.redirect(self.page + "?" + urllib.parse.urlencode({"msg": notice}))

    async def head(self) -> None:  # a HEAD never runs anything
        self.redirect(self.page)


class SmaHandler(RunNowHandler):
    """``/sma``: the active pairs' price run now (inside the session), then the positions page."""


class UpdateWatchlistHandler(RunNowHandler):
    """``/update_watchlist``: the watchlist pairs' price run now (no gate), then the watchlist page."""

    job = jobs.WATCHLIST
    gate = False
    page = "/watchlist"
