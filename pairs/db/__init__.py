"""The database: URLs and faults (``urls``), the models (``models``), start-up migrations (``migrate``), the
writer (``writer``) and the values kept in the ``settings`` table (``settings``).

What almost every caller needs is importable from here; anything else from its module.
"""

from pairs.db.models import (
    Account,
    DeliveryLog,
    Finding,
    JobRun,
    Pair,
    PriceBar,
    RevokedToken,
    ScreenerResult,
    ScreenerRun,
    Setting,
    Signal,
    SimpleSession,
    Ticker,
    User,
    utcnow,
)
from pairs.db.writer import Store, open_store

__all__ = [
    "Account", "DeliveryLog", "Finding", "JobRun", "Pair", "PriceBar", "RevokedToken", "ScreenerResult",
    "ScreenerRun", "Setting", "Signal", "SimpleSession", "Store", "Ticker", "User", "open_store", "utcnow",
]
