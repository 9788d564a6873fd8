"""Everything a server runs beside its requests, in one place that server.py starts and stops explicitly.

A Tornado PeriodicCallback ticks the ``schedule`` definitions of pairs/jobs.py every second (the price job, and the
e-mail check: stuck orders, a silent bridge, continuity findings); another purges the delivery log and expired token
revocations once at start, then hourly.  Each job is a plain function of pairs/ handed to the executor, so neither a
download nor an SMTP conversation ever holds up the IOLoop.  The tasks started on demand (an alert mailed at once,
a screener run, the demo's day) are kept here too, each in its own field: a task nobody holds may be collected
before it ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import peewee
import tornado.ioloop

from pairs import delivery, demo, jobs, live, market, notify, push, screener, users
from pairs.config import ConfigError
from pairs.db import utcnow

if TYPE_CHECKING:
    from handlers.app import Context

log = logging.getLogger("pairs.jobs")

TICK_MS = 1000
PURGE_EVERY_MS = 3600 * 1000


class JobControl:
    """The background jobs of one server; tests set the clock (``now``) and the price source (``ctx.price_source``)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.callback: tornado.ioloop.PeriodicCallback | None = None  # ticks the schedule
        self.scheduler = None
        self.purge_callback: tornado.ioloop.PeriodicCallback | None = None
        self.first_purge: asyncio.Future | None = None
        self.continuity_alert: asyncio.Future | None = None
        self.screener_run: asyncio.Future | None = None
        self.demo: asyncio.Task | None = None

    # ------------------------------------------------------------------------------------------- start and stop
    def start(self) -> None:
        self.start_schedule()
        self.start_purge()
        push.start(self.ctx)

    def stop(self) -> None:
        """The periodic jobs stop; a run already in the executor ends there (a late write fails, the writer said)."""
        self.stop_purge()
        self.stop_schedule()
        push.stop(self.ctx)  # what the channels hold is sent, through the writer, before it stops
        log.info("background jobs stopped")

    def start_schedule(self) -> None:
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

    def stop_schedule(self) -> None:
        if self.callback is not None:
            self.callback.stop()
            self.callback = None
        if self.scheduler is not None:
            self.scheduler.clear()

    def start_purge(self) -> None:
        self.first_purge = asyncio.ensure_future(self.purge_expired_rows())
        spawn = tornado.ioloop.IOLoop.current().spawn_callback
        self.purge_callback = tornado.ioloop.PeriodicCallback(lambda: spawn(self.purge_expired_rows), PURGE_EVERY_MS)
        self.purge_callback.start()

    def stop_purge(self) -> None:
        if self.purge_callback is not None:
            self.purge_callback.stop()
            self.purge_callback = None

    # ------------------------------------------------------------------------------------------------- the jobs
    def source(self) -> market.PriceSource:
        if self.ctx.price_source is None:
            settings = self.ctx.settings
            self.ctx.price_source = market.make_price_source(settings.price_source,
                                                             cache_dir=jobs.yfinance_cache(settings))
        return self.ctx.price_source

    async def prices(self, job: str = jobs.PRICES, gate: bool = True) -> jobs.RunOutcome | jobs.Skipped:
        """One price run in the executor; the scheduled run and ``/sma`` skip it outside the session (§8.1).
        Either what the run did, or why nothing ran: ``jobs.run_notice`` says either in one line."""
        settings = self.ctx.settings
        now = self.now()
        try:
            if gate and not jobs.in_session(now, settings):
                log.debug("%s run skipped: outside the exchange session", job)
                return jobs.Skipped(jobs.closed_notice(now, settings))
            source = self.source()
        except ConfigError as exc:  # a bad [EXCHANGE] or [SMA] value: said at every run until it is fixed
            log.error("price job cannot run: %s", exc)
            return jobs.Skipped(jobs.cannot_run_notice(exc))
        try:
            outcome = await self.ctx.run(jobs.run_price_job, self.ctx.store, source, settings, job, now)
        except Exception:  # a job failure is logged; the server and the next run go on
            log.exception("%s run failed", job)
            return jobs.Skipped(jobs.FAILED_NOTICE)
        if outcome is None:
            return jobs.Skipped(jobs.BUSY_NOTICE)
        self.ctx.live.publish(live.PRICES)
        return outcome

    async def email(self) -> jobs.RunOutcome | None:
        try:
            return await self.ctx.run(notify.run_email_job, self.ctx.store, self.ctx.settings,
                                      self.now().astimezone(dt.UTC).replace(tzinfo=None))
        except Exception:  # as above
            log.exception("e-mail check failed")
            return None

    def mail_now(self) -> None:
        """A webhook's continuity finding is mailed now, not at the next periodic check."""
        self.continuity_alert = asyncio.ensure_future(self.email())

    async def purge_delivery_log(self) -> None:
        days = self.ctx.settings.delivery_log_days
        try:
            removed = await self.ctx.store.write(delivery.purge_tx, days, utcnow())
        except peewee.PeeweeException:
            log.exception("delivery log purge failed; the next one retries")
            return
        if removed:
            log.info("delivery log: removed %d row(s) older than %d days", removed, days)

    async def purge_revocations(self) -> None:
        """Revoked token ids whose tokens expired anyway would otherwise pile up for ever."""
        try:
            removed = await self.ctx.store.write(users.purge_revocations_tx)
        except peewee.PeeweeException:
            log.exception("revoked-token purge failed; the next one retries")
            return
        if removed:
            log.info("revoked tokens: forgot %d expired one(s)", removed)

    async def purge_expired_rows(self) -> None:
        await self.purge_delivery_log()
        await self.purge_revocations()

    async def start_screener(self) -> int | None:
        """Claim the screener and run it in the executor; the job's id, or None when a run is in progress."""
        source = self.source()
        job_id = await self.ctx.run(screener.begin, self.ctx.store)
        if job_id is None:
            return None
        self.screener_run = asyncio.ensure_future(self.ctx.run(screener.run, self.ctx.store, source,
                                                               self.ctx.settings, job_id))
        self.screener_run.add_done_callback(_log_failure("screener run failed"))
        return job_id

    # ------------------------------------------------------------------------------------------------- the demo
    async def run_demo(self, base_url: str) -> list[int]:
        """demo.run in the executor against this server; its price runs go through this job control."""
        loop = asyncio.get_running_loop()

        def prices() -> None:
            for job in (jobs.PRICES, jobs.WATCHLIST):
                asyncio.run_coroutine_threadsafe(self.prices(job, gate=False), loop).result()

        s = self.ctx.settings
        return await self.ctx.run(demo.run, base_url, s.admin_username, s.admin_password, s.webhook_passphrase,
                                  prices, None, log.info)

    def start_demo(self) -> None:
        settings = self.ctx.settings
        host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
        self.demo = asyncio.get_running_loop().create_task(self.run_demo(f"http://{host}:{settings.port}"))
        self.demo.add_done_callback(_log_failure("demo failed (the server keeps running with what was stored so far)"))


def _log_failure(what: str) -> Callable[[asyncio.Future], None]:
    def report(task: asyncio.Future) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: %s", what, task.exception(), exc_info=task.exception())
    return report
