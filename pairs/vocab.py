"""The stored values the code names once: a ticker's ``active`` and a pair's ``status`` (``Activity``), a signal's
``order_status`` (``OrderStatus``) and the ``status_msg`` texts the server writes (``StatusMessage``), SPEC §2, §6.7.

The wire and the tables keep the original's values: an ``IntEnum`` is the integer in JSON and in SQL, a ``StrEnum``
the string, so only the code gains the names.
"""

from __future__ import annotations

import enum
from typing import Any

import peewee

from pairs import messages


class Activity(enum.IntEnum):
    """A ticker's ``active`` and a pair's ``status``: one scale for both."""

    ACTIVE = 1
    PASSIVE = 0  # the default of a new ticker or pair
    WATCHLIST = -1  # prices and statistics on the WATCHLIST page; its signals are stored as canceled

    @classmethod
    def shown(cls, value: Any) -> Activity:
        """What a page shows for a stored value: NULL, or a value the API refuses (an old database's), is passive,
        as it is not tradable."""
        try:
            return cls(value)
        except ValueError:
            return cls.PASSIVE

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def short(self) -> str:
        """The legends' and the dots' word: ``watch`` for the watchlist."""
        return "watch" if self is Activity.WATCHLIST else self.label

    @property
    def dot(self) -> str:
        """The CSS class of the coloured dot (``st1``, ``st0``, ``st-1``)."""
        return f"st{self.value}"


VALUES = tuple(Activity)  # the values the API accepts, in the order the pages offer them
ACTIVITY_HELP = ", ".join(f"{a.value} {a.label}" for a in Activity)  # "1 active, 0 passive, -1 watchlist"


def is_tradable(value: Any) -> bool:
    """Whether a ticker's ``active`` or a pair's ``status`` lets its signals trade: exactly ACTIVE.  Watchlist (-1,
    A.4), passive, NULL and a value the API refuses are not; one rule for the webhook check, the mutual exclusion
    and the pages."""
    return value == Activity.ACTIVE


def tradable(column: peewee.Field) -> peewee.Expression:
    """``is_tradable`` as a SQL condition on an ``active`` or ``status`` column."""
    return column == Activity.ACTIVE


class OrderStatus(enum.StrEnum):
    """A signal's ``order_status`` (SPEC §6.7).  The server writes WAITING, ERROR, CANCELED, LEG_FILLED, PART_FILLED
    and FILLED; the bridge and the setup page may write any of them, or any other text."""

    WAITING = "waiting"  # the webhook's default
    REROUTED = "rerouted"
    CREATED = "created"
    CANCELED = "canceled"
    FILLED = "filled"
    PART_FILLED = "part.filled"
    CRITICAL_ERROR = "critical err"
    ERROR = "error"
    LEG_FILLED = "filled(...)"  # one leg of a pair reported its fill


# the setup page's status select, in its order (§6.7: the UI offers these, not filled(...))
EDITABLE = tuple(status for status in OrderStatus if status is not OrderStatus.LEG_FILLED)
# "waiting" in a status list means both (§5.4): what the bridge still has to place
WAITING_LIST = (OrderStatus.WAITING, OrderStatus.REROUTED)
# what the stuck-signal e-mail reports when it is old enough (§6.7 "needs attention")
NEEDS_ATTENTION = (*WAITING_LIST, OrderStatus.ERROR, OrderStatus.CRITICAL_ERROR)


class StatusMessage(enum.StrEnum):
    """The fixed ``status_msg`` texts the server writes (SPEC §6.7); the remainders are built below."""

    PROBLEMATIC_TICKER = messages.PROBLEMATIC_TICKER
    CURRENCY_MISMATCH = "currency mismatch!"
    UNKNOWN_TICKER = "unknown ticker"
    PASSIVE_TICKER = "passive ticker"
    WRONG_HEDGE = "wrong hedge"
    MULTIPLE_ACTIVE_ORDERS = "multiple active orders"
    NONE = ""  # a filled signal's


SINGLE_REMAINDER = "remained: "  # a single ticker's remainder once it settles (§6.6)


def remainder_label(symbol: Any) -> str:
    """``remained(T): ``: the start of the message that shows leg T's remainder."""
    return f"remained({symbol}): "


def canceled_amount(amount: Any) -> str:
    """A partial cancel's message: how many contracts were canceled."""
    return f"canceled amount: {amount}"
