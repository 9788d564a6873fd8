"""The life of a signal: every change is an event, and where the time and the slip went (issue 11, SPEC A.9).

Each change of a signal writes one row of ``signal_events`` in the same writer transaction as the change itself
(the ``*_tx`` functions here are called from those of ``pairs.signals`` and ``pairs.notify``), so an event never
exists without its change, nor a change without its event.  Kinds:

- ``received``: the webhook stored it (source address; the alert's ``alert_time`` and reference prices);
- ``status``: a change of the row by the bridge's echo, the setup page's editor or a fill: old -> new
  ``order_status`` and ``status_msg``, who, and the names of the other columns that changed;
- ``fill``: one leg's cumulative fill (leg, order id, price, quantity, what the leg still lacks);
- ``cancel``: the bridge cancelled the order (or the rest of it: ``partial``);
- ``warned``: an e-mail or a notification named it (``warned_tx``).

A re-sent fill that changes nothing records nothing.  Events go with their signal when it is deleted.

The aggregates of many signals (p50/p90 of each latency, the average slip of each leg) would need the events of
every signal of a range; ``signal_timings`` keeps them instead, one row per signal written with its events, so a
page's aggregates are a join of the signals it selects with that table (``aggregates``).  A signal stored before
this feature has neither.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import peewee
from peewee import fn

from pairs import fills, market
from pairs.db import DeliveryLog, Signal, SignalEvent, SignalTiming
from pairs.db.models import BaseModel, PreparedQuery, database
from pairs.fills import OrderUpdate, expected_quantity, leg_matches
from pairs.vocab import OrderStatus

WEBHOOK_ROUTE = "/v4/webhook"
DELIVERY_REACH = dt.timedelta(seconds=5)  # the delivery row is written after the answer, in whole seconds

RECEIVED = "received"
STATUS = "status"
FILL = "fill"
CANCEL = "cancel"
WARNED = "warned"

PICKED_UP = OrderStatus.CREATED  # the bridge's echo that it placed the orders: waiting -> created

# who changed a signal (a status event's ``by``)
BY_BRIDGE = "bridge"  # PUT /v4/webhook without the dashboard's session: the bridge's echo
BY_EDITOR = "editor"  # PUT /v4/webhook from the setup page's editor (with the user's name)
BY_FILL = "fill"  # PUT /v4/signal/order
BY_CANCEL = "cancel"

# reference prices of the slip per leg
FROM_ALERT = "alert"  # alert_price1 / alert_price2 of the webhook
FROM_BAR = "5m bar"  # the stored 5-minute bar closest to the alert time
BAR_REACH = dt.timedelta(minutes=15)  # a bar further from the alert than this says nothing about its price

LATENCIES = (("alert_ms", "alert → stored"), ("pickup_ms", "stored → bridge pickup"),
             ("leg1_ms", "pickup → leg 1 filled"), ("leg2_ms", "pickup → leg 2 filled"),
             ("filled_ms", "stored → fully filled"))
PERCENTILES = (50, 90)
AGGREGATE_SIGNALS = 5000  # the aggregates of a range are over its newest signals, at most this many


# ---------------------------------------------------------------------------------------------------------------
# Tables


# ---------------------------------------------------------------------------------------------------------------
# The rules (pure)


def now_ms() -> dt.datetime:
    """Naive UTC with milliseconds: the time of an event."""
    stamp = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)


def millis(later: dt.datetime, earlier: dt.datetime) -> int:
    return round((later - earlier).total_seconds() * 1000)


def received_detail(values: Mapping[str, Any], peer: str) -> dict[str, Any]:
    """What the ``received`` event keeps of a webhook: its source and the alert's own fields, when given."""
    detail: dict[str, Any] = {"peer": peer}
    if values.get("alert_time") is not None:
        detail["alert_time"] = format_ms(values["alert_time"])
    for leg in (1, 2):
        if values.get(f"alert_price{leg}") is not None:
            detail[f"alert_price{leg}"] = values[f"alert_price{leg}"]
    return detail


def status_detail(before: Mapping[str, Any], after: Mapping[str, Any], by: str) -> dict[str, Any] | None:
    """A ``status`` event's detail when the row changed (None when it did not): old and new status and message,
    who, and the other columns that changed (names only)."""
    changed = [key for key in after if after[key] != before.get(key)]
    if not changed:
        return None
    detail: dict[str, Any] = {"by": by, "old": [before.get("order_status"), before.get("status_msg")],
                              "new": [after.get("order_status"), after.get("status_msg")]}
    others = [key for key in changed if key not in ("order_status", "status_msg")]
    if others:
        detail["changed"] = others
    return detail


def fill_legs(row: Mapping[str, Any], update: OrderUpdate) -> list[int]:
    """The legs a fill message names (the rule of ``fills.apply_order_update``)."""
    return [leg for leg in (1, 2)
            if row.get(f"order_id{leg}") == update.order_id and leg_matches(row.get(f"ticker{leg}"), update.symbol)]


def leg_buys(row: Mapping[str, Any], leg: int) -> bool:
    """Whether the leg buys: leg 1 as the order; leg 2 of a pair against it when the hedge is positive."""
    buy = fills.buys(row.get("order_action"))
    return buy if leg == 1 else buy != (fills.hedge(row) > 0)


def leg_slip(buys: bool, reference: float | None, fill: float | None) -> float | None:
    """Price units in the trader's favour (positive: bought below, or sold above, the reference), as the
    signal's own slip (``fills._set_fill``)."""
    if reference is None or fill is None or not math.isfinite(reference) or not math.isfinite(fill):
        return None
    slip = round(reference - fill, 6)
    if not math.isfinite(slip):  # 1e308 - -1e308: no slip worth storing
        return None
    return (slip if buys else -slip) + 0.0


def nearest_bar(bars: Iterable[tuple[dt.datetime, float]], when: dt.datetime,
                step: dt.timedelta = dt.timedelta(minutes=5)) -> tuple[dt.datetime, float] | None:
    """The bar whose close (start + ``step``) is nearest to ``when``, within ``BAR_REACH``; an earlier one wins a
    tie (what the alert could have seen)."""
    best = None
    for start, close in bars:
        distance = abs((start + step) - when)
        if distance <= BAR_REACH and (best is None or (distance, start) < best[0]):
            best = ((distance, start), (start, close))
    return best[1] if best else None


@dataclasses.dataclass(frozen=True)
class Step:
    """A line of the timeline."""

    time: dt.datetime
    kind: str
    detail: dict[str, Any]
    gap_ms: int | None  # since the previous event


def timeline(events: Sequence[tuple[dt.datetime, str, dict[str, Any]]]) -> list[Step]:
    steps: list[Step] = []
    previous = None
    for time, kind, detail in events:
        steps.append(Step(time, kind, detail, None if previous is None else millis(time, previous)))
        previous = time
    return steps


def describe(step: Step) -> str:
    """One line for the timeline page."""
    d = step.detail
    if step.kind == RECEIVED:
        parts = [f"from {d.get('peer') or '?'}"]
        if "alert_time" in d:
            parts.append(f"alert time {d['alert_time']}")
        parts += [f"alert price {leg} {d[f'alert_price{leg}']}" for leg in (1, 2) if f"alert_price{leg}" in d]
        return ", ".join(parts)
    if step.kind == STATUS:
        old, new = d.get("old") or [None, None], d.get("new") or [None, None]
        text = f"{_status_text(old)} → {_status_text(new)} by {d.get('by')}"
        return text + (f" (also {', '.join(d['changed'])})" if d.get("changed") else "")
    if step.kind == FILL:
        remaining = d.get("remaining") or 0
        left = "complete" if remaining <= 0 else f"{remaining:g} to go"
        return f"leg {d.get('leg')} order {d.get('order_id')}: {d.get('qty')} at {d.get('price')} ({left})"
    if step.kind == CANCEL:
        return f"order {d.get('order_id')}{' (the rest)' if d.get('partial') else ''}"
    if step.kind == WARNED:
        return f"{d.get('kind')} by {d.get('channel')}"
    return json.dumps(d)


def _status_text(pair: Sequence[Any]) -> str:
    status, text = pair
    return f"{status}" + (f" ({text})" if text else "")


def format_ms(stamp: dt.datetime) -> str:
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"


def percentile_offset(count: int, percent: int) -> int:
    """Nearest rank: the 0-based position of the ``percent``-th percentile among ``count`` sorted values."""
    return max(0, math.ceil(percent * count / 100) - 1)


# ---------------------------------------------------------------------------------------------------------------
# Recording (writer transactions)


class _Insert:
    """Prepared SQL for an insert of some columns (every webhook writes an event and a timings row:
    bench/webhooks.py); peewee writes the columns in the model's order, so the values are put in it."""

    def __init__(self, model: type[BaseModel], columns: Sequence[str]):
        self.fields = [field for field in model._meta.sorted_fields if field.name in columns]
        self.query = PreparedQuery(lambda: model.insert(**dict.fromkeys(columns)))

    def execute(self, **values: Any) -> None:
        self.query.execute(field.db_value(values[field.name]) for field in self.fields)


_INSERT_EVENT = _Insert(SignalEvent, ("signal", "time", "kind", "detail"))
_INSERT_TIMING = _Insert(SignalTiming, ("signal", "stored", "alert_time", "alert_ms", "ref1", "ref2", "source1",
                                        "source2"))


def _event(rowid: int, time: dt.datetime, kind: str, detail: Mapping[str, Any]) -> None:
    _INSERT_EVENT.execute(signal=rowid, time=time, kind=kind,
                          detail=json.dumps(detail, separators=(",", ":"), default=str))


def alert_reference(values: Mapping[str, Any], leg: int) -> float | None:
    """The price the alert itself gives for a leg: ``alert_priceN``, else the v4 field ``priceN`` when the alert
    carried it (the issue's name; it also presets the signal's fill price, SPEC §5.1)."""
    given = values.get(f"alert_price{leg}")
    return given if given is not None else values.get(f"price{leg}")


def received_tx(rowid: int, detail: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """After the insert of signal ``rowid``: its ``received`` event and its timings row."""
    now = now_ms()
    _event(rowid, now, RECEIVED, detail)
    alert_time = values.get("alert_time")
    refs = [alert_reference(values, leg) for leg in (1, 2)]
    _INSERT_TIMING.execute(signal=rowid, stored=now, alert_time=alert_time,
                           alert_ms=millis(now, alert_time) if alert_time is not None else None,
                           ref1=refs[0], ref2=refs[1], source1=FROM_ALERT if refs[0] is not None else None,
                           source2=FROM_ALERT if refs[1] is not None else None)


def changed_tx(rowid: int, before: Mapping[str, Any], after: Mapping[str, Any], by: str,
               now: dt.datetime | None = None) -> None:
    """A ``status`` event when the row changed, and the pickup / fully-filled milestones."""
    detail = status_detail(before, after, by)
    if detail is None:
        return
    now = now or now_ms()
    _event(rowid, now, STATUS, detail)
    status = after.get("order_status")
    if status in (PICKED_UP, OrderStatus.FILLED) and status != before.get("order_status"):
        timing = SignalTiming.get_or_none(SignalTiming.signal == rowid)
        if timing is None:
            return
        if status == PICKED_UP and timing.pickup_ms is None:
            timing.pickup_ms = millis(now, timing.stored)
        if status == OrderStatus.FILLED and timing.filled_ms is None:
            timing.filled_ms = millis(now, timing.stored)
        timing.save()


def order_update_tx(rowid: int, before: Mapping[str, Any], after: Mapping[str, Any], update: OrderUpdate) -> None:
    """PUT /v4/signal/order changed the row: a ``cancel`` or ``fill`` event per leg, then its ``status`` event.
    (Called only when the row changed: a re-sent fill records nothing.)"""
    now = now_ms()
    if update.cancel or update.partial:
        _event(rowid, now, CANCEL, {"order_id": update.order_id, "symbol": update.symbol,
                                    "partial": update.partial, "contracts": update.order_contracts})
        changed_tx(rowid, before, after, BY_CANCEL, now)
        return
    legs = fill_legs(before, update)
    timing = SignalTiming.get_or_none(SignalTiming.signal == rowid) if legs else None
    for leg in legs:
        remaining = expected_quantity(before, leg) - float(update.filled_qty)
        _event(rowid, now, FILL, {"leg": leg, "order_id": update.order_id, "symbol": update.symbol,
                                  "price": update.price, "qty": update.filled_qty, "remaining": remaining})
        if timing is not None:
            _leg_filled(timing, after, leg, update.price, remaining <= 0, now)
    if timing is not None:
        timing.save()
    changed_tx(rowid, before, after, BY_FILL, now)


def _leg_filled(timing: SignalTiming, row: Mapping[str, Any], leg: int, price: float, complete: bool,
                now: dt.datetime) -> None:
    if complete and getattr(timing, f"leg{leg}_ms") is None and timing.pickup_ms is not None:
        setattr(timing, f"leg{leg}_ms", millis(now, timing.stored) - timing.pickup_ms)
    reference, source = reference_price(timing, row, leg)
    if reference is not None:
        setattr(timing, f"ref{leg}", reference)
        setattr(timing, f"source{leg}", source)
        setattr(timing, f"slip{leg}", leg_slip(leg_buys(row, leg), reference, price))


def reference_price(timing: SignalTiming, row: Mapping[str, Any], leg: int) -> tuple[float | None, str | None]:
    """The leg's reference price and where it came from: the alert's, else the stored 5-minute bar closest to
    the alert time (the time it was stored when the alert gave none), else (None, None)."""
    given = getattr(timing, f"ref{leg}")
    if given is not None:
        return given, getattr(timing, f"source{leg}")
    symbol = row.get(f"ticker{leg}")
    if not symbol:
        return None, None
    when = timing.alert_time or timing.stored
    bars = (market.PriceBar.select(market.PriceBar.time, market.PriceBar.close)
            .where((market.PriceBar.symbol == symbol) & (market.PriceBar.interval == market.INTRADAY)
                   & (market.PriceBar.time >= when - BAR_REACH - dt.timedelta(minutes=5))
                   & (market.PriceBar.time <= when + BAR_REACH)).tuples())
    found = nearest_bar(bars, when)
    return (found[1], FROM_BAR) if found else (None, None)


def warned_tx(rowids: Iterable[int], channel: str, kind: str) -> int:
    """A ``warned`` event for each signal an e-mail or a notification named (``channel``: ``email``, an Apprise
    scheme; ``kind``: ``stuck``, ``rejected``...).  Returns how many were recorded (deleted signals are not)."""
    now = now_ms()
    found = [row[0] for row in Signal.select(Signal.rowid).where(Signal.rowid.in_(list(rowids))).tuples()]
    for rowid in found:
        _event(rowid, now, WARNED, {"channel": channel, "kind": kind})
    return len(found)


def forget_tx(rowid: int) -> None:
    """The signal is deleted: its events and timings with it."""
    SignalEvent.delete().where(SignalEvent.signal == rowid).execute()
    SignalTiming.delete().where(SignalTiming.signal == rowid).execute()


# ---------------------------------------------------------------------------------------------------------------
# Reading


def events_of(rowid: int) -> list[tuple[dt.datetime, str, dict[str, Any]]]:
    rows = SignalEvent.select(SignalEvent.time, SignalEvent.kind, SignalEvent.detail).where(
        SignalEvent.signal == rowid).order_by(SignalEvent.id).tuples()
    return [(time, kind, json.loads(detail) if detail else {}) for time, kind, detail in rows]


def timing_of(rowid: int) -> SignalTiming | None:
    return SignalTiming.get_or_none(SignalTiming.signal == rowid)


@dataclasses.dataclass(frozen=True)
class Aggregate:
    name: str  # a column of SignalTiming
    label: str
    count: int
    percentiles: dict[int, float | None]  # milliseconds


def aggregates(selection: peewee.Expression,
               limit: int = AGGREGATE_SIGNALS) -> tuple[list[Aggregate], dict[str, Any]]:
    """p50 and p90 of each latency and the average slip of each leg over the newest ``limit`` signals that
    ``selection`` picks.

    One SQL statement: the newest signals by a backward walk of the selection's (legs, timestamp, rowid) index,
    joined to their timings; each latency numbered in its own order (NULLs last) and counted by window functions;
    the outer query keeps the value at each nearest rank (SQLite has no percentile function; this reads the same
    on PostgreSQL).  The cap keeps the cost that of ``limit`` rows however wide the range: a year of one pair in
    1,000,000 signals is 250,000 rows, whose five sorts took seconds (bench/pages.py)."""
    picked = (Signal.select(Signal.rowid.alias("picked")).where(selection)
              .order_by(Signal.timestamp.desc(), Signal.rowid.desc()).limit(limit).alias("p"))
    inner_columns: list[Any] = [picked.c.picked, SignalTiming.slip1, SignalTiming.slip2]
    for name, _ in LATENCIES:
        column = getattr(SignalTiming, name)
        inner_columns += [column, fn.ROW_NUMBER().over(order_by=[column.is_null(), column]).alias(f"{name}_rank"),
                          fn.COUNT(column).over().alias(f"{name}_count")]
    inner = (peewee.Select([picked], inner_columns)
             .join(SignalTiming, peewee.JOIN.LEFT_OUTER, on=SignalTiming.signal == picked.c.picked).alias("t"))
    outer: list[Any] = [fn.COUNT(peewee.Column(inner, "picked"))]
    for name, _ in LATENCIES:
        value, rank, count = (peewee.Column(inner, f"{name}{suffix}") for suffix in ("", "_rank", "_count"))
        outer.append(fn.MAX(count))
        for percent in PERCENTILES:
            # the nearest rank, ceil(percent * count / 100), in integer arithmetic both databases share
            wanted = (count * percent + 99) / 100
            outer.append(fn.MAX(peewee.Case(None, [(rank == wanted, value)], None)))
    slips = [peewee.Column(inner, "slip1"), peewee.Column(inner, "slip2")]
    outer += [fn.AVG(slips[0]), fn.AVG(slips[1]), fn.COUNT(slips[0]), fn.COUNT(slips[1])]
    row = peewee.Select([inner], outer).bind(database).tuples().get()
    values = iter(row)
    signals = next(values) or 0
    result = []
    for name, label in LATENCIES:
        count = next(values) or 0
        result.append(Aggregate(name, label, count, {percent: next(values) for percent in PERCENTILES}))
    slip1, slip2, n1, n2 = values
    capped = signals >= limit and (Signal.select(Signal.rowid).where(selection)  # one more: the range held more
                                   .order_by(Signal.timestamp.desc(), Signal.rowid.desc()).offset(limit).exists())
    return result, {"slip1": _float(slip1), "slip2": _float(slip2), "n1": n1, "n2": n2, "signals": signals,
                    "capped": capped}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def duration_text(ms: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``; blank for none."""
    if ms is None:
        return ""
    if abs(ms) < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if abs(seconds) < 60:
        return f"{seconds:.1f} s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(round(seconds))
    if seconds < 3600:
        return f"{sign}{seconds // 60} min {seconds % 60:02d} s"
    return f"{sign}{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@dataclasses.dataclass(frozen=True)
class LegSlip:
    leg: int
    symbol: str
    buys: bool
    fill: float | None
    reference: float | None
    source: str  # FROM_ALERT, FROM_BAR, or "no reference"
    slip: float | None


NO_REFERENCE = "no reference"


def signal_view(row: Signal) -> dict[str, Any]:
    """What the timeline page shows of one signal: its events with their gaps, its latencies, its slip per leg."""
    steps = timeline(events_of(row.rowid))
    timing = timing_of(row.rowid)
    latencies = [(label, getattr(timing, name)) for name, label in LATENCIES] if timing else []
    values = {key: getattr(row, key) for key in ("order_action", "hedge_param", "ticker1", "ticker2")}
    legs = []
    for leg in (1, 2) if row.ticker_type == "pair" else (1,):
        fill = getattr(row, f"price{leg}")
        reference, source = reference_price(timing, values, leg) if timing else (None, None)
        buys = leg_buys(values, leg)
        legs.append(LegSlip(leg, values[f"ticker{leg}"] or "", buys, fill, reference, source or NO_REFERENCE,
                            leg_slip(buys, reference, fill)))
    return {"steps": steps, "timing": timing, "latencies": latencies, "legs": legs,
            "delivery": delivery_of(steps)}


def delivery_of(steps: Sequence[Step]) -> DeliveryLog | None:
    """The delivery-log row of the webhook that stored the signal.  That row is written after the answer, in
    another transaction, so the event cannot hold its id: it is the accepted POST from the event's peer that
    was logged first at or after the event's second (the delivery log keeps whole seconds)."""
    step = next((s for s in steps if s.kind == RECEIVED), None)
    if step is None or not step.detail.get("peer"):
        return None
    second = step.time.replace(microsecond=0)
    return (DeliveryLog.select().where(
        (DeliveryLog.route == WEBHOOK_ROUTE) & (DeliveryLog.method == "POST") & (DeliveryLog.status < 300)
        & (DeliveryLog.peer == step.detail["peer"]) & (DeliveryLog.received >= second)
        & (DeliveryLog.received <= second + DELIVERY_REACH)).order_by(DeliveryLog.id).first())
