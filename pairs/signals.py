"""Signals: webhook insert, full replacement, order/fill updates, lists (SPEC §5.1–5.5, §6 with A.4).

Functions named ``*_tx`` change rows: run them through ``Store.write`` so that each one is a single serialized
step of the writer thread (the classification reads, the read-modify-write of a fill, the insert).

Every list is O(limit) on a table of millions of rows: each query is an equality on an indexed column followed by
``ORDER BY rowid DESC LIMIT n``, which both SQLite and PostgreSQL answer by walking the index backwards
(``Signal.Meta.indexes``; tests/test_signals_indexes.py checks the query plans).
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterable
from typing import Any, NamedTuple

import peewee

from pairs import continuity, equation, lifecycle
from pairs.db import Pair, Signal, Ticker, utcnow
from pairs.db.models import PreparedQuery, database
from pairs.db.writer import Writer
from pairs.errors import NotFound
from pairs.fills import OrderUpdate, apply_order_update, leg_matches, settles
from pairs.instruments import parse_rowid
from pairs.vocab import WAITING_LIST, OrderStatus
from pairs.wire import SIGNAL_KEYS, format_timestamp

# The columns a webhook body may set (all but rowid); timestamp is handled on its own (A.4).
SIGNAL_COLUMNS = tuple(k for k in SIGNAL_KEYS if k not in ("rowid", "timestamp"))

CREATED = "created"
PROBLEMATIC = "problematic"
UNKNOWN_OR_PASSIVE = "unknown_or_passive"


class TickerRow(NamedTuple):
    sectype: str | None
    currency: str | None
    active: int | None


class PairRow(NamedTuple):
    hedge: float | None
    status: int | None


_TICKER_BY_SYMBOL = PreparedQuery(
    lambda: Ticker.select(Ticker.sectype, Ticker.currency, Ticker.active).where(Ticker.symbol == ""))
_PAIR_BY_NAME = PreparedQuery(lambda: Pair.select(Pair.hedge, Pair.status).where(Pair.name == ""))
INSERT_COLUMNS = ("timestamp", *SIGNAL_COLUMNS)
_INSERT_SIGNAL = PreparedQuery(lambda: Signal.insert(**{key: None for key in INSERT_COLUMNS}))
_INSERT_FIELDS = tuple(Signal._meta.fields[key] for key in INSERT_COLUMNS)


def lookup_ticker(symbol: str) -> TickerRow | None:
    found = _TICKER_BY_SYMBOL.execute((symbol,)).fetchone()
    return TickerRow(*found) if found else None


def lookup_pair(name: str) -> PairRow | None:
    found = _PAIR_BY_NAME.execute((name,)).fetchone()
    return PairRow(*found) if found else None


@dataclasses.dataclass(frozen=True)
class Classified:
    record: dict[str, Any]
    ticker_ok: bool
    active_ok: bool

    @property
    def outcome(self) -> str:
        if not self.ticker_ok:
            return PROBLEMATIC
        return CREATED if self.active_ok else UNKNOWN_OR_PASSIVE


def classify(values: dict[str, Any]) -> Classified:
    """§5.1 steps 3–5: the record from the body, the equation parsed (§6.1), the status checked (§6.2)."""
    record = {key: values.get(key) for key in SIGNAL_COLUMNS}
    parsed = equation.parse_equation(record["ticker"], lookup_ticker)
    record.update(parsed.fields)
    if not parsed.ok:
        record.update(order_status=OrderStatus.ERROR, status_msg=parsed.failure)
    active_ok = True
    if not values.get("bypass_ticker_status"):
        check = equation.check_status(record["ticker_type"], record["ticker1"], record["ticker2"],
                                      record["hedge_param"], lookup_ticker, lookup_pair, parsed.registered_symbol1)
        active_ok = check.ok
        if not check.ok:
            record.update(order_status=check.order_status, status_msg=check.status_msg)
    return Classified(record, parsed.ok, active_ok)


class Inserted(NamedTuple):
    outcome: str  # CREATED, PROBLEMATIC, ...
    findings: int  # continuity findings written (pairs.continuity)
    rowid: int
    record: dict[str, Any]  # the columns stored (the notifications read them: pairs.push)


@Writer.alone_on_sqlite  # reads, then INSERTs: a failure after the first is undone by the writer (its batch again)
def insert_signal_tx(values: dict[str, Any], duplicate_window_sec: int,
                     received: dict[str, Any] | None = None) -> Inserted:
    """POST /v4/webhook: the row is always stored, and checked for a missed or repeated alert before it
    (``[SERVER] DUPLICATE_WINDOW_SEC``); ``received``: its ``received`` event's detail (pairs.lifecycle)."""
    classified = classify(values)
    row = {**classified.record, "timestamp": values.get("timestamp") or utcnow()}
    plan = continuity.plan_tx(row)
    cursor = _INSERT_SIGNAL.execute(field.db_value(row[field.name]) for field in _INSERT_FIELDS)
    rowid = cursor.lastrowid if isinstance(database.obj, peewee.SqliteDatabase) else cursor.fetchone()[0]
    lifecycle.received_tx(rowid, received or {}, values)
    findings = continuity.record_tx(plan, rowid, duplicate_window_sec) if plan is not None else 0
    return Inserted(classified.outcome, findings, rowid, row)


def replace_signal_tx(values: dict[str, Any], by: str = lifecycle.BY_BRIDGE) -> Signal:
    """PUT /v4/webhook: every column from the body, except that an omitted or null timestamp keeps the stored one.
    ``by``: who, for the ``status`` event."""
    row = find_signal(values.get("rowid"))
    if row is None:
        raise NotFound()
    after = classify(values).record
    if values.get("timestamp") is not None:
        after = {**after, "timestamp": values["timestamp"]}
    lifecycle.changed_tx(row.rowid, {key: getattr(row, key) for key in after}, after, by)
    for key, value in after.items():
        setattr(row, key, value)
    row.save()
    return row


def find_order_signal(order_id: int, symbol: str) -> Signal | None:
    """The newest signal with this broker order id on either leg whose legs include ``symbol`` (§5.3).

    When no leg has that exact name, an FX or crypto leg whose base currency it is (``USD`` for ``USD.CAD``): the
    bridge names those fills by IB's ``contract.symbol``, which the original never matched (``fills.leg_matches``).
    Two indexed lookups (order_id1, order_id2) instead of one OR, so each stays an index search.
    """
    found: list[Signal] = []
    for id_column in (Signal.order_id1, Signal.order_id2):
        row = (Signal.select().where((id_column == order_id) & ((Signal.ticker1 == symbol) |
                                                                (Signal.ticker2 == symbol)))
               .order_by(Signal.rowid.desc()).first())
        if row is not None:
            found.append(row)
    if not found and symbol and "." not in symbol:
        prefix = symbol + "."
        for id_column in (Signal.order_id1, Signal.order_id2):
            rows = (Signal.select().where((id_column == order_id) & (Signal.ticker1.startswith(prefix) |
                                                                     Signal.ticker2.startswith(prefix)))
                    .order_by(Signal.rowid.desc()))
            # LIKE is case-blind: the exact rule decides
            row = next((r for r in rows if leg_matches(r.ticker1, symbol) or leg_matches(r.ticker2, symbol)), None)
            if row is not None:
                found.append(row)
    return max(found, key=lambda r: r.rowid) if found else None


class OrderUpdated(NamedTuple):
    row: Signal
    settled: bool  # this update made the signal filled or part.filled (the ``filled`` notification, pairs.push)


def update_order_tx(update: OrderUpdate) -> OrderUpdated:
    """PUT /v4/signal/order: read, apply §6.5, write — one step of the writer, so concurrent legs serialize."""
    row = find_order_signal(update.order_id, update.symbol)
    if row is None:
        raise NotFound()
    before = {key: getattr(row, key) for key in SIGNAL_COLUMNS}
    after = apply_order_update(before, update)
    changed = [key for key in SIGNAL_COLUMNS if after[key] != before[key]]
    if changed:
        for key in changed:
            setattr(row, key, after[key])
        row.save(only=[Signal._meta.fields[key] for key in changed])
        lifecycle.order_update_tx(row.rowid, before, after, update)
    return OrderUpdated(row, settles(before, after))


def find_signal(rowid: Any) -> Signal | None:
    number = parse_rowid(rowid)
    return None if number is None else Signal.get_or_none(Signal.rowid == number)


def delete_signal_tx(rowid: Any) -> None:
    number = parse_rowid(rowid)
    if number is None or not Signal.delete().where(Signal.rowid == number).execute():
        raise NotFound()
    lifecycle.forget_tx(number)
    continuity.forget_tx(number)


# ---------------------------------------------------------------------------------------------------------------
# Lists (§5.4): newest first; limit 0 means all.  Prepared SQL and plain tuples: building the query and a model
# per row cost ten times more than the indexed read itself (bench/webhooks.py).

ALL_ROWS = 2**62  # LIMIT for "0 = all": one statement serves both cases on SQLite and PostgreSQL


def _list_query(condition: Any = None) -> PreparedQuery:
    def build() -> peewee.Query:
        query = Signal.select(*(Signal._meta.fields[key] for key in SIGNAL_KEYS))
        if condition is not None:
            query = query.where(condition())
        return query.order_by(Signal.rowid.desc()).limit(1)
    return PreparedQuery(build)


_LATEST = _list_query()
_BY_STATUS = _list_query(lambda: Signal.order_status == "")


# The §5.4 ticker rule, for the API's ticker list and the LIST page alike: ``A-B`` selects the pair's signals (any
# ticker_type), anything else the single signals of its first part.


def _ticker_rule(name: str) -> tuple[bool, tuple[str, str]]:
    """(whether ``name`` selects a pair, the two values its condition compares)."""
    parts = name.split("-")
    if len(parts) == 2:
        return True, (parts[0], parts[1])
    return False, (parts[0], "single")


def _pair_condition(ticker1: str, ticker2: str) -> peewee.Expression:
    return (Signal.ticker1 == ticker1) & (Signal.ticker2 == ticker2)


def _single_condition(ticker1: str, ticker_type: str) -> peewee.Expression:
    return (Signal.ticker1 == ticker1) & (Signal.ticker_type == ticker_type)


def selection(name: str) -> peewee.Expression:
    """The signals ``name`` selects, as a condition for the pages' own queries (history, average slips)."""
    is_pair, values = _ticker_rule(name)
    return (_pair_condition if is_pair else _single_condition)(*values)


_BY_PAIR = _list_query(lambda: _pair_condition("", ""))
_BY_SINGLE = _list_query(lambda: _single_condition("", ""))


def _rows(query: PreparedQuery, *params: Any, limit: int) -> list[dict[str, Any]]:
    """Signals as their JSON objects (SPEC §2.1 key order); ``params`` fill the condition's placeholders."""
    out = []
    for values in query.execute((*params, limit or ALL_ROWS)).fetchall():
        row = dict(zip(SIGNAL_KEYS, values))
        row["timestamp"] = format_timestamp(row["timestamp"])
        out.append(row)
    return out


def latest_signals(limit: int) -> list[dict[str, Any]]:
    return _rows(_LATEST, limit=limit)


def signals_with_status(status: str, limit: int) -> list[dict[str, Any]]:
    """Exact status; ``waiting`` means waiting or rerouted.

    Not ``IN (...)``: SQLite would collect and sort every matching row.  One backward index walk per status,
    merged here, reads at most ``limit`` rows of each.
    """
    statuses = WAITING_LIST if status == OrderStatus.WAITING else (status,)
    runs = [_rows(_BY_STATUS, s, limit=limit) for s in statuses]
    merged: Iterable[dict[str, Any]] = (heapq.merge(*runs, key=lambda r: -r["rowid"]) if len(runs) > 1
                                        else runs[0])
    rows = list(merged)
    return rows[:limit] if limit else rows


def signals_for_ticker(name: str, limit: int) -> list[dict[str, Any]]:
    """``A-B`` -> the pair's signals (any ticker_type); anything else -> single signals of its first part."""
    is_pair, values = _ticker_rule(name)
    return _rows(_BY_PAIR if is_pair else _BY_SINGLE, *values, limit=limit)
