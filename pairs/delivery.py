"""The delivery log's retention (SPEC A.2): rows older than ``[SERVER] DELIVERY_LOG_DAYS`` days are deleted.

Recording is done by ``handlers.base.BaseHandler`` for every passphrase route.
"""

from __future__ import annotations

import datetime as dt

from pairs.store import DeliveryLog


def purge_tx(days: int, now: dt.datetime) -> int:
    """Delete the rows received more than ``days`` days before ``now`` (naive UTC); returns how many."""
    if days <= 0:
        return 0  # 0 or less: keep everything
    return DeliveryLog.delete().where(DeliveryLog.received < now - dt.timedelta(days=days)).execute()
