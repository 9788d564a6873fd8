"""The broker bridge (pairs-ibkr, SPEC A.1.2): which requests are its own, and when it was last seen.

"Last seen" feeds the dashboard's header, ``/healthz`` and the silent-bridge alarm of ``pairs.notify``; it is one
settings row, so reading it costs one lookup whatever the size of the delivery log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from pairs.args import parse_timestamp
from pairs.db.settings import get_setting, set_setting_tx
from pairs.wire import format_timestamp

# GET, every 10 s: a status of one route's path, so not a row of handlers/routes.py
POLLS = ("/v4/signals/status/waiting/", "/v4/signals/status/rerouted/")
POLL_RESOLUTION = dt.timedelta(minutes=1)  # a poll is written at most once a minute
SEEN_KEY = "bridge_last_seen"  # settings row: when the bridge last polled or wrote (naive UTC)


def is_bridge_request(method: str, path: str, anonymous: bool, writes: Collection[tuple[str, str]]) -> bool:
    """Its writes (``writes``: the (method, path) of the requests only the bridge makes, old route names included:
    the rows of handlers/routes.py marked ``by_bridge``) and its poll of the waiting (or rerouted) list; never a
    request that carries a token or the dashboard's cookie (the signal editor's PUT is a person, not the bridge)."""
    if not anonymous:
        return False
    if method == "GET":
        return path.startswith(POLLS)
    return (method, path) in writes


def shows_bridge_alive(method: str, path: str, anonymous: bool, status: int,
                       writes: Collection[tuple[str, str]]) -> bool:
    """A bridge request the server accepted (2xx): a refused one (wrong passphrase, empty body) may come from
    anyone, and counting it would hide the silent-bridge alarm and make /healthz lie."""
    return 200 <= status < 300 and is_bridge_request(method, path, anonymous, writes)


def last_seen() -> dt.datetime | None:
    """When the bridge last polled or wrote to us (naive UTC); None if it never did."""
    seen = get_setting(SEEN_KEY)
    return parse_timestamp(seen) if seen else None


def remember_tx(when: dt.datetime) -> None:
    set_setting_tx(SEEN_KEY, format_timestamp(when))
