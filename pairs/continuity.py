"""Continuity of a strategy's alerts: find the missed and the duplicated ones (issue 16, SPEC A.7).

Every TradingView strategy alert says where the position was before its order and where it is after
(``pre_mar_pos``/``pre_mar_pos_size`` and ``mar_pos``/``mar_pos_size``).  For one instrument (a single ticker, or a
pair by its legs) one alert's "before" must be the previous alert's "after":

- continuity ok: nothing is recorded;
- a **gap**: the previous "after" differs from this "before" (an alert went missing in between);
- a **duplicate**: the same order again (action, contracts and the four position fields) within
  ``[SERVER] DUPLICATE_WINDOW_SEC`` of the previous one.  It is not also a gap, and it leaves the sequence: the
  alert after it is checked against the first of the two.

"Previous" means by the signals' timestamps (ties by rowid), not by arrival: an alert that arrives late is checked
against its true neighbours, and the alert after it is checked again.  Signals without the four position fields
(made by hand), the bridge's sync signals (their positions are the broker's) and signals whose legs are not
registered are not part of any sequence.

``check`` and ``replay`` are the rule, pure.  ``record_tx`` applies it to one new signal inside the writer's
transaction of its insert: one indexed read of the previous signal (a rowid probe of this table joined in), plus
the successors' re-check when the signal arrived out of order.  Findings change no signal: the wire, the statuses
and every list the bridge reads stay as they are.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

import peewee

from pairs.db import Finding, Signal, utcnow
from pairs.db.models import PreparedQuery, database
from pairs.db.urls import db_fault
from pairs.wire import format_timestamp

log = logging.getLogger("pairs.continuity")

GAP = "gap"
DUPLICATE = "duplicate"
SYNC_COMMENT = "due to sync"  # the end of the pairs-ibkr bridge's order_comment on its leg-2 sync signals
RECHECK_MAX = 100  # successors re-checked after a late alert: the run of duplicates behind it, in practice 1 or 2

Position = tuple[str, int]


# ---------------------------------------------------------------------------------------------------------------
# The rule (pure)


@dataclasses.dataclass(frozen=True)
class Alert:
    """What the rule reads of a signal."""

    rowid: int
    timestamp: dt.datetime
    action: str | None
    contracts: int | None
    pos: str | None
    pos_size: int | None
    pre_pos: str | None
    pre_pos_size: int | None

    @property
    def tracked(self) -> bool:
        """All four position fields are there: a strategy alert, not a hand-made or a sync signal."""
        return (_word(self.pos) != "" and _word(self.pre_pos) != "" and self.pos_size is not None
                and self.pre_pos_size is not None)

    @property
    def before(self) -> Position:
        return _word(self.pre_pos), int(self.pre_pos_size or 0)

    @property
    def after(self) -> Position:
        return _word(self.pos), int(self.pos_size or 0)

    @property
    def order(self) -> tuple[Any, ...]:
        return _word(self.action), self.contracts, self.before, self.after


def _word(text: str | None) -> str:
    return (text or "").strip().lower()


@dataclasses.dataclass(frozen=True)
class Verdict:
    kind: str  # GAP or DUPLICATE
    previous: int  # rowid of the alert this one was checked against
    expected: Position  # the previous alert's "after"
    actual: Position  # this alert's "before"


def check(alert: Alert, previous: Alert | None, window_sec: int) -> Verdict | None:
    """``alert`` against the alert before it in its sequence (never a duplicate itself); None when continuous."""
    if previous is None:
        return None
    seconds = (alert.timestamp - previous.timestamp).total_seconds()
    if alert.order == previous.order and 0 <= seconds <= window_sec:
        return Verdict(DUPLICATE, previous.rowid, previous.after, alert.before)
    if alert.before != previous.after:
        return Verdict(GAP, previous.rowid, previous.after, alert.before)
    return None


def replay(alerts: Iterable[Alert], window_sec: int) -> dict[int, Verdict]:
    """The findings of one instrument's whole history, by rowid: what recording alert by alert must arrive at,
    whatever the order of arrival."""
    found: dict[int, Verdict] = {}
    previous: Alert | None = None
    for alert in sorted((a for a in alerts if a.tracked), key=lambda a: (a.timestamp, a.rowid)):
        verdict = check(alert, previous, window_sec)
        if verdict is not None:
            found[alert.rowid] = verdict
        if verdict is None or verdict.kind != DUPLICATE:
            previous = alert
    return found


def position_text(position: Position) -> str:
    return f"{position[0]} {position[1]}"


def sequence_name(record: dict[str, Any]) -> str | None:
    """The instrument a signal belongs to: ``LNT`` (single) or ``LNT-FTS`` (pair); None when it has no
    registered legs, or is the bridge's sync signal (its position fields are the broker's, not a strategy's), so
    it belongs to no sequence."""
    kind, first, second = record.get("ticker_type"), record.get("ticker1"), record.get("ticker2")
    if not first or (record.get("order_comment") or "").lower().endswith(SYNC_COMMENT):
        return None
    if kind == "single":
        return first
    if kind == "pair" and second:
        return f"{first}-{second}"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Findings


FINDING_KEYS = ("id", "signal_rowid", "previous_rowid", "kind", "name", "expected_pos", "expected_size",
                "actual_pos", "actual_size", "found", "reviewed", "reviewed_by", "reviewed_at")


def finding_json(row: Finding) -> dict[str, Any]:
    return {"id": row.id, "signal_rowid": row.signal, "previous_rowid": row.previous, "kind": row.kind,
            "name": row.name, "expected_pos": row.expected_pos, "expected_size": row.expected_size,
            "actual_pos": row.actual_pos, "actual_size": row.actual_size, "found": format_timestamp(row.found),
            "reviewed": bool(row.reviewed), "reviewed_by": row.reviewed_by,
            "reviewed_at": format_timestamp(row.reviewed_at) if row.reviewed_at else None}


def describe(row: Finding) -> str:
    """One line for a tooltip or an e-mail."""
    expected = position_text((row.expected_pos, row.expected_size))
    actual = position_text((row.actual_pos, row.actual_size))
    if row.kind == DUPLICATE:
        return (f"duplicate of #{row.previous}: the same order again; expected {expected} before it, "
                f"the alert says {actual}")
    return f"gap after #{row.previous}: expected {expected} before this order, the alert says {actual}"


# ---------------------------------------------------------------------------------------------------------------
# Recording (writer transactions)

_ALERT_COLUMNS = (Signal.rowid, Signal.timestamp, Signal.order_action, Signal.order_contracts, Signal.mar_pos,
                  Signal.mar_pos_size, Signal.pre_mar_pos, Signal.pre_mar_pos_size)
# the first of a duplicate pair, when the row found is the second: a probe of the findings' (signal_rowid, kind)
# index, then of the signals' primary key
_DUPLICATE = Finding.alias("dup")
_FIRST = Signal.alias("first")
_FIRST_COLUMNS = tuple(getattr(_FIRST, column.name) for column in _ALERT_COLUMNS)


def _in_sequence(ticker1: str, ticker_type: str, ticker2: str | None) -> peewee.Expression:
    """A sequence's tracked rows: (ticker1, 'single') or (ticker1, ticker2, 'pair')."""
    where = (Signal.ticker1 == ticker1) & (Signal.ticker_type == ticker_type)
    if ticker2 is not None:
        where &= Signal.ticker2 == ticker2
    blank = peewee.SQL("''")  # a literal: the prepared lookups bind their parameters by position
    return (where & (peewee.fn.TRIM(Signal.mar_pos) != blank) & Signal.mar_pos_size.is_null(False)  # Alert.tracked
            & (peewee.fn.TRIM(Signal.pre_mar_pos) != blank) & Signal.pre_mar_pos_size.is_null(False)
            & (Signal.order_comment.is_null() | ~Signal.order_comment.endswith(SYNC_COMMENT)))


def _latest_query(pair: bool, until: bool) -> PreparedQuery:
    """The newest row of a sequence (at or before a time when ``until``) and, when it is a duplicate, its first.
    An index (ticker1, ticker_type | ticker2, timestamp, rowid) walked backwards, one row read, and two probes.

    Parameters: 'duplicate', ticker1, ticker_type, [ticker2], '%due to sync', [until], 1."""
    def build() -> peewee.Query:
        where = _in_sequence("", "", "" if pair else None)
        if until:
            where &= Signal.timestamp <= dt.datetime(2000, 1, 1)
        return (Signal.select(*_ALERT_COLUMNS, *_FIRST_COLUMNS)
                .join(_DUPLICATE, peewee.JOIN.LEFT_OUTER,
                      on=(_DUPLICATE.signal == Signal.rowid) & (_DUPLICATE.kind == DUPLICATE))
                .join(_FIRST, peewee.JOIN.LEFT_OUTER, on=_FIRST.rowid == _DUPLICATE.previous)
                .where(where).order_by(Signal.timestamp.desc(), Signal.rowid.desc()).limit(1))
    return PreparedQuery(build)


_LATEST = {(pair, until): _latest_query(pair, until) for pair in (False, True) for until in (False, True)}


def _sequence(record: dict[str, Any]) -> tuple[str, str, str | None]:
    pair = record["ticker_type"] == "pair"
    return record["ticker1"], record["ticker_type"], record["ticker2"] if pair else None


def _alert(values: Iterable[Any]) -> Alert:
    rowid, stamp, *rest = values
    if isinstance(stamp, str):  # SQLite: the stored text; fromisoformat first, peewee's format list is slow
        try:
            stamp = dt.datetime.fromisoformat(stamp)
        except ValueError:
            stamp = Signal.timestamp.python_value(stamp)
    return Alert(rowid, stamp, *rest)


def alert_of(rowid: int, record: dict[str, Any]) -> Alert:
    return Alert(rowid, record["timestamp"], record.get("order_action"), record.get("order_contracts"),
                 record.get("mar_pos"), record.get("mar_pos_size"), record.get("pre_mar_pos"),
                 record.get("pre_mar_pos_size"))


def _newest(record: dict[str, Any], until: dt.datetime | None) -> tuple[Alert, Alert] | None:
    """The newest alert of the signal's sequence (at or before ``until``), and the one a new signal after it is
    checked against: the same, or the first of the pair when the newest is a duplicate."""
    sequence = _sequence(record)
    params = [DUPLICATE, *(value for value in sequence if value is not None), "%" + SYNC_COMMENT]
    if until is not None:
        params.append(until)
    row = _LATEST[(sequence[2] is not None, until is not None)].execute([*params, 1]).fetchone()
    if row is None:
        return None
    width = len(_ALERT_COLUMNS)
    newest = _alert(row[:width])
    first = _alert(row[width:]) if row[width] is not None else newest
    if not isinstance(newest.timestamp, dt.datetime) or not isinstance(first.timestamp, dt.datetime):
        return None  # text another program stored as a timestamp: no order to compare
    return newest, first


@dataclasses.dataclass
class Plan:
    """What ``plan_tx`` learnt before the insert; ``record_tx`` finishes after it (the rowid is known then)."""

    name: str
    record: dict[str, Any]
    previous: Alert | None
    late: bool  # older than the newest alert of its sequence: the successors are checked again


def plan_tx(record: dict[str, Any]) -> Plan | None:
    """Before the insert: the one read of the common case.  None when the signal is in no sequence, or when the
    check itself failed (logged): the signal is stored whatever happens here."""
    name = sequence_name(record)
    if name is None or not alert_of(0, record).tracked:
        return None
    try:
        with _guarded():
            return _plan(name, record)
    except Exception as exc:  # a row this check cannot read must not cost the webhook its signal
        if db_fault(exc) is not None:  # but a lost transaction is the writer's to retry (A.2): never swallowed
            raise
        log.exception("continuity check skipped for %s", record.get("ticker"))
        return None


def _plan(name: str, record: dict[str, Any]) -> Plan:
    found = _newest(record, None)
    if found is None or found[0].timestamp <= record["timestamp"]:
        return Plan(name, record, found[1] if found else None, late=False)
    before = _newest(record, record["timestamp"])
    return Plan(name, record, before[1] if before else None, late=True)


def forget_tx(rowid: int) -> int:
    """The signal is deleted: the findings about it go with it (a finding that names it as the previous alert stays:
    the later alert's gap is still a fact).  Returns how many."""
    return Finding.delete().where(Finding.signal == rowid).execute()


def record_tx(plan: Plan, rowid: int, window_sec: int) -> int:
    """After the insert of signal ``rowid``: its finding, and the re-check of what follows a late one (a failure
    is logged and undoes them, not the insert).

    Returns how many findings were written (new, changed or removed)."""
    try:
        alert = alert_of(rowid, plan.record)
        verdict = check(alert, plan.previous, window_sec)
        recheck = plan.late and (verdict is None or verdict.kind != DUPLICATE)
        if verdict is None and not recheck:
            return 0
        with _guarded(always=recheck):
            if verdict is not None:
                _store(plan.name, alert.rowid, verdict)
            return int(verdict is not None) + (_recheck_after(plan, alert, window_sec) if recheck else 0)
    except Exception as exc:  # as in plan_tx
        if db_fault(exc) is not None:
            raise
        log.exception("continuity findings of signal %s not recorded", rowid)
        return 0


def _guarded(always: bool = False) -> Any:
    """A savepoint where a failure could take the signal's insert with it: always on PostgreSQL, where a failed
    statement ends the whole transaction, and around several writes; not for one statement on SQLite, which goes
    on after a failed one (a savepoint costs more than the lookup itself: bench/webhooks.py)."""
    if always or not isinstance(database.obj, peewee.SqliteDatabase):
        return database.atomic()
    return contextlib.nullcontext()


def _recheck_after(plan: Plan, alert: Alert, window_sec: int) -> int:
    """The alerts after a late one had another predecessor: check each again until one that stays in the
    sequence, and was in it before (everything after that one keeps its predecessor)."""
    query = (Signal.select(*_ALERT_COLUMNS)
             .where(_in_sequence(*_sequence(plan.record)) & (Signal.timestamp > alert.timestamp))
             .order_by(Signal.timestamp, Signal.rowid).limit(RECHECK_MAX).tuples())
    written = 0
    previous = alert
    for values in query:
        later = _alert(values)
        if not later.tracked:
            continue
        old = Finding.get_or_none(Finding.signal == later.rowid)
        new = check(later, previous, window_sec)
        if _verdict_of(old) != new:
            if old is not None:
                old.delete_instance()
            if new is not None:
                _store(plan.name, later.rowid, new)
            written += 1
        was_in = old is None or old.kind != DUPLICATE
        now_in = new is None or new.kind != DUPLICATE
        if now_in:
            if was_in:
                break
            previous = later
    return written


def _verdict_of(row: Finding | None) -> Verdict | None:
    if row is None:
        return None
    return Verdict(row.kind, row.previous, (row.expected_pos, row.expected_size), (row.actual_pos, row.actual_size))


_INSERT_COLUMNS = ("signal", "previous", "kind", "name", "expected_pos", "expected_size", "actual_pos", "actual_size",
                   "found", "reviewed")
_INSERT_FINDING = PreparedQuery(lambda: Finding.insert(**{key: None for key in _INSERT_COLUMNS}))


def _store(name: str, rowid: int, verdict: Verdict) -> None:
    """Prepared SQL: a flood of duplicates makes one finding per webhook (bench/webhooks.py sends just that)."""
    _INSERT_FINDING.execute((rowid, verdict.previous, verdict.kind, name, *verdict.expected, *verdict.actual,
                             utcnow(), 0))


# ---------------------------------------------------------------------------------------------------------------
# Reading and reviewing


def latest_findings(limit: int) -> list[dict[str, Any]]:
    """Newest first; ``limit`` 0 means all."""
    query = Finding.select().order_by(Finding.id.desc())
    if limit:
        query = query.limit(limit)
    return [finding_json(row) for row in query]


def open_count() -> int:
    return Finding.select().where(Finding.reviewed == 0).count()


def findings_of(rowids: Iterable[int]) -> dict[int, Finding]:
    """The findings of the signals on a page, by signal rowid (one query, the page's rows only)."""
    wanted = list(rowids)
    if not wanted:
        return {}
    return {row.signal: row for row in Finding.select().where(Finding.signal.in_(wanted))}


def set_reviewed_tx(finding_id: int, reviewed: bool, username: str, now: dt.datetime) -> Finding | None:
    row = Finding.get_or_none(Finding.id == finding_id)
    if row is None:
        return None
    row.reviewed = int(reviewed)
    row.reviewed_by = username if reviewed else None
    row.reviewed_at = now if reviewed else None
    row.save()
    return row


def unnotified(limit: int) -> list[Finding]:
    """Findings the e-mail alert has not named yet, oldest first."""
    return list(Finding.select().where(Finding.notified.is_null()).order_by(Finding.id).limit(limit))


def mark_notified_tx(ids: list[int], now: dt.datetime) -> int:
    return Finding.update(notified=now).where(Finding.id.in_(ids) & Finding.notified.is_null()).execute()
