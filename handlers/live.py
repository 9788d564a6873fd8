"""``GET /events``: server-sent events that tell open dashboard pages to refresh themselves (issue 13).

Each event names a topic of ``pairs.live`` and carries no data, so an anonymous viewer learns nothing but that
something changed; its page then fetches itself with its own cookies and shows what that viewer may see.  A comment
line every ``HEARTBEAT_SEC`` keeps proxies from closing an idle stream; the browser's EventSource reconnects by
itself after ``retry`` milliseconds when the connection drops.
"""

from __future__ import annotations

import asyncio

import tornado.ioloop
import tornado.iostream

from handlers.base import BaseHandler
from pairs import live

HEARTBEAT_SEC = 25
RETRY_MS = 3000


class EventStreamHandler(BaseHandler):
    counts_in_flight = False  # a stream never ends by itself; a shutdown closes it with its connection

    async def get(self) -> None:
        wanted = {t for t in self.get_query_argument("topics", ",".join(live.TOPICS)).split(",") if t in live.TOPICS}
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # nginx: pass each event on at once
        self._closed = asyncio.Event()
        self._send(f"retry: {RETRY_MS}\n\n")

        def announce(topic: str) -> None:
            if topic in wanted:
                self._send(f"event: {topic}\ndata: {{}}\n\n")

        unsubscribe = self.ctx.live.subscribe(announce)
        heartbeat = tornado.ioloop.PeriodicCallback(lambda: self._send(": ping\n\n"), HEARTBEAT_SEC * 1000)
        heartbeat.start()
        try:
            await self._closed.wait()
        finally:
            heartbeat.stop()
            unsubscribe()

    def _send(self, text: str) -> None:
        if self._closed.is_set():
            return
        self.write(text)
        self.flush().add_done_callback(self._flushed)

    def _flushed(self, future: asyncio.Future) -> None:
        if future.exception() is not None:  # the client went away while we wrote
            self._closed.set()

    def on_connection_close(self) -> None:
        self._closed.set()
