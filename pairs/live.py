"""Live updates (issue 13): the kinds of change an open dashboard page hears about, and who is listening.

Handlers publish a topic after a write they answered with success; the price job publishes when a run ends.  The
event stream (handlers/live.py) passes the topic on to each open page, which then fetches itself again, so a page
shows exactly what its viewer may see.  Runs on the IOLoop only: no locking.
"""

from __future__ import annotations

from collections.abc import Callable

SIGNALS = "signals"  # a signal was stored, echoed, filled, canceled, edited or deleted
POSITIONS = "positions"  # the bridge pushed ticker positions or the account PNL
PRICES = "prices"  # a price run ended (new act_price, SMA, std, z-score)
TOPICS = (SIGNALS, POSITIONS, PRICES)

Listener = Callable[[str], None]


class Broadcaster:
    def __init__(self) -> None:
        self._listeners: set[Listener] = set()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Adds ``listener``; returns the function that removes it again."""
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    def publish(self, topic: str) -> None:
        for listener in list(self._listeners):
            listener(topic)

    def __len__(self) -> int:
        return len(self._listeners)
