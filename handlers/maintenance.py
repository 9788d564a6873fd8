"""The maintenance routes (SPEC §7.9 with A.5): ``/sma`` and ``/update_watchlist`` run the price job through the
server's job control (handlers/background.py) for a logged-in user, then redirect as the original: ``GET`` with a
Bearer token, ``POST`` from the dashboard (its session cookie plus the XSRF token).
"""

from __future__ import annotations

import urllib.parse

from handlers.base import BaseHandler
from pairs import jobs


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
        result = await self.ctx.jobs.prices(self.job, gate=self.gate)
        notice = jobs.run_notice(result, self.ctx.settings.price_source)
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
