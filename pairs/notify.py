"""E-mail alerts (SPEC §8.2 with A.4): stuck signals and a silent broker bridge.

Every signal whose status is ``waiting``, ``rerouted``, ``error`` or ``critical err`` and that is older than
``[EMAIL] MAIL_WARN_AFTER_MIN`` minutes is reported once: one message names all of them, and each gets the original's
``(warned)`` marker appended to its ``error_msg`` after the message was accepted by the SMTP server.  The bridge is
"silent" when, during the extended exchange session, it has neither polled the waiting list nor written anything
(fills, positions, account PNL, signal echoes; ``pairs.bridge`` keeps the time) for ``BRIDGE_SILENT_MIN``
minutes; that is reported once per silence.  Each continuity finding (a missed or a repeated strategy alert,
``pairs.continuity``) is named once too, unless ``[EMAIL] CONTINUITY_ALERTS`` is off.  Sending is blocking smtplib: the server calls ``run_email_job`` in its
executor.  The same news goes to the push channels (``pairs.push``: events ``stuck``, ``bridge_silent``, ``gap``,
``duplicate``); what the e-mail or one push channel took is marked and not reported again.
"""

from __future__ import annotations

import datetime as dt
import email.message
import email.utils
import logging
import smtplib
import ssl
import threading
from collections.abc import Callable

from pairs import bridge, continuity, jobs, lifecycle, push
from pairs.config import Settings
from pairs.db import Signal, Store, utcnow
from pairs.db.settings import get_setting, set_setting_tx
from pairs.vocab import NEEDS_ATTENTION
from pairs.wire import format_timestamp

log = logging.getLogger("pairs.notify")

WARNED = "(warned)"
BODY_MAX_SIGNALS = 50
FINDINGS_MAX = 1000  # continuity findings named by one message at most; the rest go in the next one
BRIDGE_WARNED_KEY = "bridge_silence_warned"  # settings row: the bridge's last-seen time we already warned about

_running = threading.Lock()


def problem_signals(now: dt.datetime, warn_after_min: int, lookback_hours: int = 0) -> list[Signal]:
    """Problematic signals older than the threshold, at most ``lookback_hours`` old (0: any age), and not yet warned
    about, oldest first. The look-back keeps the first check on an imported database from mailing (and marking)
    years of old waiting and error rows."""
    condition = (Signal.order_status.in_(NEEDS_ATTENTION) & (Signal.timestamp <= now - dt.timedelta(
        minutes=warn_after_min)) & (Signal.error_msg.is_null() | ~Signal.error_msg.contains(WARNED)))
    if lookback_hours > 0:
        condition &= Signal.timestamp >= now - dt.timedelta(hours=lookback_hours)
    return list(Signal.select().where(condition).order_by(Signal.rowid))


def mark_warned_tx(rowids: list[int], mailed: bool = True) -> int:
    """Append ``(warned)`` to each signal's error_msg, re-reading the row so a concurrent change is kept; when the
    e-mail named them (``mailed``), each gets its ``warned`` event (a push channel records its own: pairs.push)."""
    if mailed:
        lifecycle.warned_tx(rowids, "email", "stuck")
    marked = 0
    for row in Signal.select().where(Signal.rowid.in_(rowids)):
        if WARNED not in (row.error_msg or ""):
            Signal.update(error_msg=(row.error_msg or "") + WARNED).where(Signal.rowid == row.rowid).execute()
            marked += 1
    return marked


def bridge_silence(now: dt.datetime, settings: Settings) -> tuple[dt.datetime, int] | None:
    """(last seen, minutes of silence) when the bridge deserves a warning now, else None.

    Silence counts only from the start of today's extended session (a quiet night is not a fault), and a bridge
    that never wrote at all is not watched (there may be none).
    """
    if settings.bridge_silent_min <= 0:
        return None
    last_seen = bridge.last_seen()
    bounds = jobs.session_bounds(now, settings)
    if last_seen is None or bounds is None or not jobs.in_session(now, settings):
        return None
    if get_setting(BRIDGE_WARNED_KEY) == format_timestamp(last_seen):
        return None
    session_open_utc = bounds[0].astimezone(dt.UTC).replace(tzinfo=None)
    minutes = int((now - max(last_seen, session_open_utc)).total_seconds() // 60)
    return (last_seen, minutes) if minutes >= settings.bridge_silent_min else None


def remember_bridge_warning_tx(last_seen: dt.datetime) -> None:
    set_setting_tx(BRIDGE_WARNED_KEY, format_timestamp(last_seen))


def signal_line(row: Signal) -> str:
    parts = [f"#{row.rowid}", f"{format_timestamp(row.timestamp)} UTC", row.ticker or "?",
             f"{row.order_action or ''} {row.order_contracts if row.order_contracts is not None else ''}".strip(),
             f"status {row.order_status}"]
    if row.error_msg:
        parts.append(f"error: {row.error_msg}")
    return " | ".join(part for part in parts if part)


def finding_line(row: continuity.Finding) -> str:
    return f"{row.kind} #{row.signal} | {row.name} | {continuity.describe(row)}"


def compose(settings: Settings, signals: list[Signal], silence: tuple[dt.datetime, int] | None,
            now: dt.datetime, findings: list[continuity.Finding] | None = None) -> email.message.EmailMessage:
    lines = [settings.mail_body, ""]
    if findings:
        lines.append(f"{len(findings)} missed or repeated alert(s) (position before an order is not the position "
                     "after the previous alert, or the same order twice):")
        lines += [finding_line(row) for row in findings[:BODY_MAX_SIGNALS]]
        if len(findings) > BODY_MAX_SIGNALS:
            lines.append(f"... and {len(findings) - BODY_MAX_SIGNALS} more")
        lines.append("")
    if signals:
        lines.append(f"{len(signals)} signal(s) not processed after {settings.mail_warn_after_min} minute(s):")
        lines += [signal_line(row) for row in signals[:BODY_MAX_SIGNALS]]
        if len(signals) > BODY_MAX_SIGNALS:
            lines.append(f"... and {len(signals) - BODY_MAX_SIGNALS} more")
        lines.append("")
    if silence:
        lines.append(f"The broker bridge has been silent for {silence[1]} minute(s): last request "
                     f"{format_timestamp(silence[0])} UTC.")
    message = email.message.EmailMessage()
    message["Subject"] = settings.mail_subject
    message["From"] = settings.mail_sender
    message["To"] = settings.mail_recipient
    message["Date"] = email.utils.format_datetime(now.replace(tzinfo=dt.UTC))
    message.set_content("\n".join(lines) + "\n")
    return message


def send_mail(settings: Settings, message: email.message.EmailMessage,
              ssl_context: ssl.SSLContext | None = None) -> None:
    """smtplib with implicit TLS (MAIL_USE_SSL) or STARTTLS (MAIL_USE_TLS), login when a username is set."""
    context = ssl_context or ssl.create_default_context()
    timeout = settings.mail_timeout_sec
    if settings.mail_use_ssl:
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.mail_server, settings.mail_port, timeout=timeout,
                                                context=context)
    else:
        client = smtplib.SMTP(settings.mail_server, settings.mail_port, timeout=timeout)
    with client:
        if settings.mail_use_tls and not settings.mail_use_ssl:
            client.starttls(context=context)
        if settings.mail_username:
            client.login(settings.mail_username, settings.mail_password)
        client.send_message(message)


Sender = Callable[[Settings, email.message.EmailMessage], None]


def run_email_job(store: Store, settings: Settings, now: dt.datetime | None = None,
                  send: Sender | None = None) -> jobs.RunOutcome | None:
    """One check: send at most one message; recorded in job_runs when something was (or failed to be) sent.

    Returns None when there was nothing to report or another check is running.
    """
    if not _running.acquire(blocking=False):
        return None
    try:
        return store.read_in_thread(_check, store, settings, now or utcnow(), send or send_mail)
    finally:
        _running.release()


def findings_wanted(store: Store, settings: Settings) -> bool:
    """Whether continuity findings go anywhere: the e-mail (with ``CONTINUITY_ALERTS``) or a push channel."""
    return ((settings.enable_email_notifications and settings.continuity_alerts)
            or push.wanted(store, settings, push.GAP, push.DUPLICATE))


def _check(store: Store, settings: Settings, now: dt.datetime, send: Sender) -> jobs.RunOutcome | None:
    mail = settings.enable_email_notifications
    pusher = push.service(store, settings)
    signals = problem_signals(now, settings.mail_warn_after_min, settings.mail_lookback_hours)
    silence = bridge_silence(now, settings)
    mailed_findings = mail and settings.continuity_alerts
    findings = continuity.unnotified(FINDINGS_MAX) if findings_wanted(store, settings) else []
    if not signals and not silence and not findings:
        return None
    outcome = jobs.RunOutcome(job=jobs.EMAIL, started=utcnow(), pairs=len(signals))
    mailed = False
    if mail:
        try:
            send(settings, compose(settings, signals, silence, now, findings if mailed_findings else []))
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:  # retried at the next check: nothing is marked
            log.error("alert e-mail to %s via %s:%s failed: %s", settings.mail_recipient, settings.mail_server,
                      settings.mail_port, exc)
            outcome.failed = {"smtp": f"{type(exc).__name__}: {exc}"}
            outcome.message = "not sent"
        else:
            mailed = True
    pushed = _push(pusher, signals, silence, findings) if pusher is not None else set()
    # what one channel took is not reported again: the push channels retry on their own (pairs.push)
    signals = signals if mailed or push.STUCK in pushed else []
    silence = silence if mailed or push.BRIDGE_SILENT in pushed else None
    findings = [row for row in findings if (mailed and mailed_findings) or row.kind in pushed]
    if signals:
        store.write_sync(mark_warned_tx, [row.rowid for row in signals], mailed)
    if silence:
        store.write_sync(remember_bridge_warning_tx, silence[0])
    if findings:
        store.write_sync(continuity.mark_notified_tx, [row.id for row in findings], now)
    if mailed or pushed:
        outcome.updated = 1
        outcome.message = ((f"sent to {settings.mail_recipient}" if mailed else "pushed") +
                           f": {len(signals)} signal(s)" +
                           (f", bridge silent {silence[1]} min" if silence else "") +
                           (f", {len(findings)} gap/duplicate finding(s)" if findings else "") +
                           (f"; pushed: {', '.join(sorted(pushed))}" if mailed and pushed else ""))
        log.warning("alert %s %s", "e-mail" if mailed else "notifications", outcome.message)
    elif not mail:
        return None  # nothing any channel wanted (EVENTS leaves these out)
    outcome.finished = utcnow()
    store.write_sync(jobs.record_run_tx, outcome)
    return outcome


def _push(pusher: push.Service, signals: list[Signal], silence: tuple[dt.datetime, int] | None,
          findings: list[continuity.Finding]) -> set[str]:
    """The same news for the push channels, one event per signal or finding; returns the kinds queued."""
    pushed: set[str] = set()
    for row in signals:
        if pusher.emit(push.STUCK, f"not processed: {signal_line(row)}", (row.rowid,)):
            pushed.add(push.STUCK)
    if silence and pusher.emit(push.BRIDGE_SILENT, f"the broker bridge has been silent for {silence[1]} minute(s): "
                               f"last request {format_timestamp(silence[0])} UTC"):
        pushed.add(push.BRIDGE_SILENT)
    for row in findings:
        if pusher.emit(row.kind, finding_line(row), (row.signal,)):
            pushed.add(row.kind)
    return pushed
