"""Push notifications through Apprise: Telegram, ntfy, Discord, Slack, e-mail and about a hundred others, one URL
each (issue 11 §3, issue 16's alerts; SPEC A.10).  E-mail through smtplib (pairs.notify) stays as it is.

- ``[NOTIFY] URLS`` lists the channels (``PAIRS_NOTIFY_URLS`` in the environment, as they hold secrets),
  ``[NOTIFY] EVENTS`` the kinds that go out (``KINDS``).
- ``emit`` is called after the change it reports has committed (the webhook's handler after the writer's answer,
  the jobs after their ``write_sync``); it only puts the event on each channel's queue, so it never blocks the
  IOLoop nor delays a webhook's answer.
- Each channel has a thread: it waits for an event, gathers what else comes within ``[NOTIFY] FOLD_SEC`` (a bar
  close's burst of 50 signals is one message, not 50), sends it, retries a failure ``RETRIES`` times with doubling
  pauses from ``RETRY_SEC``, then records the message as ``sent`` or ``failed`` in the ``notifications`` table
  (the DELIVERY LOG page shows it).  What arrives meanwhile waits for the next message of that channel; other
  channels go on.
- Apprise (0.2 s and a few MB to import) is imported by the channel threads and the SETUP page's executor calls,
  never at start-up nor on the IOLoop.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import json
import logging
import queue
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from pairs import fills, lifecycle
from pairs.config import ConfigError, Settings
from pairs.db import Notification, Store, utcnow
from pairs.db.settings import get_setting, set_setting_tx
from pairs.lazy import LazyModule

log = logging.getLogger("pairs.push")
apprise = LazyModule("apprise")  # imported by the first send or URL check, not with this module

STUCK = "stuck"
BRIDGE_SILENT = "bridge_silent"
REJECTED = "rejected"
PRICE_JOB_FAILED = "price_job_failed"
GAP = "gap"
DUPLICATE = "duplicate"
RECEIVED = "received"
FILLED = "filled"
SLIP = "slip"
ZSCORE = "zscore"
TEST = "test"  # the SETUP page's "Send test": not an event one can list
KINDS = (STUCK, BRIDGE_SILENT, REJECTED, PRICE_JOB_FAILED, GAP, DUPLICATE, RECEIVED, FILLED, SLIP, ZSCORE)

SENT = "sent"
FAILED = "failed"  # given up on after the retries
BODY_LINES_MAX = 20  # lines of one folded message; the rest is counted ("... and 30 more")
RECORDS_KEPT = 2000  # rows of the notifications table: weeks of alerts, a small table
SEND_TIMEOUT_SEC = 15  # one try of one channel, whatever the service's own timeouts
STOP_WAIT_SEC = 5.0  # how long a shut-down waits for the channels to send what they hold
PRICE_FAILED_KEY = "push_price_job_failed"  # settings row: {"day": ..., "pairs": [...]} already reported


# ---------------------------------------------------------------------------------------------------------------
# Configuration (pure)


def parse_events(text: str) -> frozenset[str]:
    """``"stuck, rejected"`` -> the kinds; an unknown one is a ConfigError naming it and the known ones."""
    kinds = {item.strip().lower() for item in re.split(r"[\s,]+", text) if item.strip()}
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise ConfigError(f"[NOTIFY] EVENTS: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not an "
                          f"event; use some of {', '.join(KINDS)}")
    return frozenset(kinds)


def split_urls(text: str) -> list[str]:
    """The URLs of ``[NOTIFY] URLS``: separated by white space (lines of config.ini), or by a comma that starts
    the next URL (a comma inside one, as in ``mailto://...?to=a@x.com,b@x.com``, stays)."""
    return [url for url in re.split(r"\s+|,\s*(?=[A-Za-z][A-Za-z0-9+.-]*://)", text.strip()) if url]


def mask_url(url: str) -> str:
    """A URL Apprise could not read, shown without anything that may be a secret: its scheme only."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://***" if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) else "***"


def channel_name(url: str) -> str:
    """What the pages and records show of a channel: Apprise's privacy form (tokens and passwords masked) without
    its query of options; ``mask_url`` when Apprise cannot read it."""
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return mask_url(url)
    return plugin.url(privacy=True).split("?", 1)[0]


def url_problems(text: str) -> list[str]:
    """One line per URL of ``[NOTIFY] URLS`` that Apprise cannot use, checked without sending anything."""
    return [f"[NOTIFY] URLS: URL {number} ({mask_url(url)}) is not a URL Apprise can send to; see "
            "https://github.com/caronc/apprise/wiki for the form of each service"
            for number, url in enumerate(split_urls(text), 1) if apprise.Apprise.instantiate(url) is None]


@functools.lru_cache(maxsize=4)
def channel_names(urls_text: str) -> tuple[str, ...]:
    """The SETUP page's list (blocking: Apprise is imported on the first call; run it in the executor)."""
    return tuple(channel_name(url) for url in split_urls(urls_text))


# ---------------------------------------------------------------------------------------------------------------
# Events and messages (pure)


@dataclasses.dataclass(frozen=True)
class Event:
    kind: str
    text: str  # one line
    rowids: tuple[int, ...] = ()  # the signals it names (the lifecycle's ``warned`` event)


TITLES = {STUCK: "signals not processed", BRIDGE_SILENT: "broker bridge silent", REJECTED: "signal rejected",
          PRICE_JOB_FAILED: "price job failed", GAP: "missed alert", DUPLICATE: "repeated alert",
          RECEIVED: "signal received", FILLED: "signal filled", SLIP: "large slip", ZSCORE: "z-score crossed ENTRY_Z",
          TEST: "test"}


def compose(events: list[Event]) -> tuple[str, str]:
    """(title, body) of one message for ``events``: one event is itself; a burst is counted by kind in the title
    and listed (``BODY_LINES_MAX`` lines, then how many more) in the body."""
    if len(events) == 1:
        return f"pairs: {TITLES[events[0].kind]}", events[0].text
    counts = collections.Counter(event.kind for event in events)
    title = f"pairs: {len(events)} events (" + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + ")"
    lines = [f"{event.kind}: {event.text}" for event in events[:BODY_LINES_MAX]]
    if len(events) > BODY_LINES_MAX:
        lines.append(f"... and {len(events) - BODY_LINES_MAX} more (DELIVERY LOG page of pairs)")
    return title, "\n".join(lines)


def number(value: float | None, digits: int = 4) -> str:
    return "?" if value is None else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def signal_text(rowid: int, record: dict[str, Any]) -> str:
    """``#12 LNT-FTS buy 3 @ 1.23, waiting``: what a received or rejected signal's line says."""
    price = record.get("order_price")
    text = (f"#{rowid} {record.get('ticker') or '?'} {record.get('order_action') or ''} "
            f"{record.get('order_contracts') if record.get('order_contracts') is not None else ''}").rstrip()
    if price is not None:
        text += f" @ {number(price)}"
    text += f", {record.get('order_status') or '?'}"
    if record.get("status_msg"):
        text += f": {record['status_msg']}"
    return text


def zscore_crossings(before: dict[str, float | None], after: dict[str, float | None], entry_z: float
                     ) -> list[tuple[str, float, float]]:
    """Pairs whose |z| reached ``entry_z`` in this run, from inside: (name, old z, new z).  Once per crossing: the
    next run starts outside and says nothing until the pair has come back inside.  A pair without an old or a new
    value (its first statistics, too few closes) has crossed nothing."""
    crossed = []
    for name, new in after.items():
        old = before.get(name)
        if old is not None and new is not None and abs(old) < entry_z <= abs(new):  # NaN compares False: skipped
            crossed.append((name, old, new))
    return crossed


# ---------------------------------------------------------------------------------------------------------------
# Records


@dataclasses.dataclass(frozen=True)
class Delivered:
    events: tuple[Event, ...]
    channel: str
    outcome: str
    attempts: int
    title: str
    error: str
    finished: dt.datetime

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(event.kind for event in self.events))


def record_tx(done: Delivered, keep: int = RECORDS_KEPT) -> int:
    row_id = Notification.insert(finished=done.finished, kinds=",".join(done.kinds)[:200], events=len(done.events),
                                 channel=done.channel[:300], outcome=done.outcome, attempts=done.attempts,
                                 title=done.title[:300], error=done.error or None).execute()
    oldest_kept = Notification.select(Notification.id).order_by(Notification.id.desc()).offset(keep - 1).limit(1)
    oldest = oldest_kept.scalar()
    if oldest is not None:
        Notification.delete().where(Notification.id < oldest).execute()
    if done.outcome == SENT:
        for kind in done.kinds:
            rowids = sorted({rowid for event in done.events if event.kind == kind for rowid in event.rowids})
            if rowids:  # the signals' timelines say who was told (issue 11 §1), in this transaction
                lifecycle.warned_tx(rowids, done.channel, kind)
    return row_id


def latest_records(limit: int) -> list[Notification]:
    return list(Notification.select().order_by(Notification.id.desc()).limit(limit))


# ---------------------------------------------------------------------------------------------------------------
# Delivery


class _Flush:
    """Queue marker: close the folding window now (a test, the shut-down)."""


class _Stop:
    pass


class Channel:
    """One Apprise URL and its thread."""

    def __init__(self, url: str, service: Service):
        self.url = url
        self.service = service
        self.name = mask_url(url)  # until the thread has Apprise read it
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=f"pairs-push-{len(service.channels) + 1}",
                                       daemon=True)
        self._apprise: Any = None

    def send_once(self, title: str, body: str) -> str:
        """One try; '' when the service took it, else why not."""
        try:
            if self._apprise is None:
                self._apprise = apprise.Apprise()
                if not self._apprise.add(self.url):
                    self._apprise = None
                    return "Apprise cannot read this URL (check-config names it)"
                self.name = channel_name(self.url)
            result = self._apprise.notify(body=body, title=title, timeout=SEND_TIMEOUT_SEC)
        except Exception as exc:  # noqa: BLE001 - a plugin's own bug must not end the channel's thread
            return f"{type(exc).__name__}: {exc}"
        if result:
            return ""
        reasons = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")]
        return (reasons[-1] if reasons else f"not delivered ({result.status})")[:500]

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self.queue.get()
            if item is _Stop:
                break
            events = [] if item is _Flush else [item]
            deadline = time.monotonic() + self.service.fold_sec
            while events:  # the folding window
                remaining = deadline - time.monotonic()
                try:
                    item = self.queue.get(timeout=remaining) if remaining > 0 else self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is _Flush:
                    held, stopping = self._drain()
                    events += held
                    break
                if item is _Stop:
                    stopping = True
                    break
                events.append(item)
            if events:
                self.deliver(events, retries=0 if stopping else self.service.retries)

    def _drain(self) -> tuple[list[Event], bool]:
        """The events queued now, and whether a stop came among them."""
        found = []
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return found, False
            if item is _Stop:
                return found, True
            if isinstance(item, Event):
                found.append(item)

    def deliver(self, events: list[Event], retries: int) -> Delivered:
        """Send with retries, then record; returns the record."""
        title, body = compose(events)
        attempts = 0
        error = ""
        for attempt in range(retries + 1):
            if attempt and self.service.stopping.wait(self.service.retry_sec * 2 ** (attempt - 1)):
                break  # shutting down: what failed so far is recorded as given up
            attempts += 1
            error = self.send_once(title, body)
            if not error:
                break
        done = Delivered(tuple(events), self.name, FAILED if error else SENT, attempts, title, error, utcnow())
        if error:
            log.error("notification %r to %s given up after %d tries: %s", title, self.name, attempts, error)
        else:
            log.info("notification %r sent to %s", title, self.name)
        self.service.record(done)
        return done


class Service:
    """The channels of one server (one store)."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        try:
            self.events = parse_events(settings.notify_events)
        except ConfigError as exc:  # the server refuses to start with it (checks.startup_errors); a test may not
            log.error("!!! no push notifications: %s", exc)
            self.events = frozenset()
        self.fold_sec = max(0.0, settings.notify_fold_sec)
        self.retries = max(0, settings.notify_retries)
        self.retry_sec = max(0.0, settings.notify_retry_sec)
        self.slip_limit = settings.notify_slip_limit
        self.stopping = threading.Event()
        self.channels: list[Channel] = []
        for url in split_urls(settings.notify_urls):
            self.channels.append(Channel(url, self))
        self.delivered: list[Callable[[Delivered], None]] = []  # tests wait on these

    def start(self) -> None:
        for channel in self.channels:
            if not channel.thread.is_alive():
                channel.thread.start()

    def wants(self, kind: str) -> bool:
        return kind in self.events and bool(self.channels)

    def emit(self, kind: str, text: str, rowids: Iterable[int] = ()) -> bool:
        """Queue one event for every channel (never blocks); False when ``kind`` is not configured to go out."""
        if not self.wants(kind) or self.stopping.is_set():
            return False
        event = Event(kind, text, tuple(rowids))
        for channel in self.channels:
            channel.queue.put(event)
        return True

    def flush(self) -> None:
        """Send what the channels hold now instead of at the end of their folding window."""
        for channel in self.channels:
            channel.queue.put(_Flush)

    def record(self, done: Delivered) -> None:
        try:
            self.store.write_sync(record_tx, done)
        except Exception:  # the database is away or the store closed: the log line above is what remains
            log.exception("notification record of %r to %s not stored", done.title, done.channel)
        for callback in list(self.delivered):
            callback(done)

    def send_test(self) -> list[Delivered]:
        """The SETUP page's "Send test": one try per channel now, outside the queue; blocking (executor)."""
        event = Event(TEST, f"Test from pairs at {utcnow():%Y-%m-%d %H:%M:%S} UTC: this channel works.")
        return [channel.deliver([event], retries=0) for channel in self.channels]

    def stop(self, wait_sec: float = STOP_WAIT_SEC) -> None:
        """Send what is held (one try each), then end the threads; gives up waiting after ``wait_sec``."""
        self.stopping.set()
        for channel in self.channels:
            channel.queue.put(_Stop)
        deadline = time.monotonic() + wait_sec
        for channel in self.channels:
            if channel.thread.is_alive():
                channel.thread.join(max(0.0, deadline - time.monotonic()))


_services: weakref.WeakKeyDictionary[Store, Service] = weakref.WeakKeyDictionary()
_services_lock = threading.Lock()


def service(store: Store, settings: Settings) -> Service | None:
    """The service of ``store``, started on first use (stopped for good by ``stop_store``); None when no URL is
    configured (the common case, one attribute read on the webhook's path)."""
    if not settings.notify_urls:
        return None
    found = _services.get(store)
    if found is not None:
        return found
    with _services_lock:
        found = _services.get(store)
        if found is None:
            found = Service(store, settings)
            found.start()
            _services[store] = found
        return found


def wanted(store: Store, settings: Settings, *kinds: str) -> bool:
    """Whether any of ``kinds`` goes out to a push channel."""
    running = service(store, settings)
    return running is not None and any(running.wants(kind) for kind in kinds)


def start(ctx: Any) -> None:
    """Server start-up hook: the channels' threads, and a line in the log saying what goes where."""
    running = service(ctx.store, ctx.settings)
    if running is not None:
        log.info("push notifications: %d channel(s), events %s", len(running.channels),
                 ", ".join(kind for kind in KINDS if kind in running.events) or "none")


def stop(ctx: Any) -> None:
    """Server shut-down hook: what the channels hold is sent (one try), then their threads end."""
    stop_store(ctx.store)


def stop_store(store: Store) -> None:
    """The same for a command that ran jobs on ``store`` (``refresh-prices``), before it closes the store.  The
    stopped service stays the store's: a late caller (a price run still in the executor) gets it, and its ``emit``
    refuses, instead of starting channels again on a writer that is stopping."""
    with _services_lock:
        running = _services.get(store)
    if running is not None:
        running.stop()


# ---------------------------------------------------------------------------------------------------------------
# What the rest of pairs reports (each called after its change committed)


def signal_stored(store: Store, settings: Settings, rowid: int, record: dict[str, Any], rejected: bool) -> None:
    """A webhook's signal: ``rejected`` (stored as error or canceled: the alert and the registry disagree, so every
    later alert will fail the same way) or ``received``."""
    running = service(store, settings)
    if running is None:
        return
    kind = REJECTED if rejected else RECEIVED  # by the outcome (A.10): a rejected signal is never "received"
    if running.wants(kind):
        running.emit(kind, signal_text(rowid, record), (rowid,))


def fill_applied(store: Store, settings: Settings, row: Any) -> None:
    """A fill that settled the signal (``filled`` or ``part.filled``): ``filled`` with its price and slip, and
    ``slip`` when the slip in money is larger than ``[NOTIFY] SLIP_LIMIT`` either way."""
    running = service(store, settings)
    if running is None:
        return
    money = fills.slip_money(row.slip, row.order_contracts)
    text = (f"#{row.rowid} {row.ticker or '?'} {row.order_action or ''} {row.order_contracts}, {row.order_status} "
            f"at {number(row.fill_price)} (order price {number(row.order_price)}), slip {number(row.slip)}"
            + (f" = {money:.2f} in money" if money is not None else ""))
    running.emit(FILLED, text, (row.rowid,))
    if money is not None and abs(money) > running.slip_limit:
        running.emit(SLIP, f"{text}; over the limit of {running.slip_limit:g}", (row.rowid,))


def price_run(store: Store, settings: Settings, job: str, failed: dict[str, str], day: dt.date,
              before: dict[str, float | None], after: dict[str, float | None]) -> None:
    """A price run's news: its failed pairs (each at most once per exchange day) and its z-score crossings.
    Called from the job's thread (blocking reads and writes are fine there)."""
    running = service(store, settings)
    if running is None:
        return
    if failed and running.wants(PRICE_JOB_FAILED):
        for name, why in store.write_sync(first_failures_tx, failed, day).items():
            running.emit(PRICE_JOB_FAILED, f"{job} run: {name}: {why}")
    if running.wants(ZSCORE):
        for name, old, new in zscore_crossings(before, after, settings.entry_z):
            running.emit(ZSCORE, f"{name} ({job}): z-score {new:.2f}, beyond ENTRY_Z {settings.entry_z:g} "
                                 f"(was {number(old, 2)})")


def first_failures_tx(failed: dict[str, str], day: dt.date) -> dict[str, str]:
    """The failures not yet reported on exchange day ``day``, remembered as reported (one writer step: the price and
    the watchlist runs may finish together)."""
    try:
        known = json.loads(get_setting(PRICE_FAILED_KEY) or "{}")
    except ValueError:
        known = {}
    seen = set(known.get("pairs", [])) if known.get("day") == day.isoformat() else set()
    new = {name: why for name, why in failed.items() if name not in seen}
    if new:
        set_setting_tx(PRICE_FAILED_KEY, json.dumps({"day": day.isoformat(), "pairs": sorted(seen | set(new))}))
    return new
