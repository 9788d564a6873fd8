"""E-mail alerts (pairs/notify.py) against a real SMTP server on loopback (aiosmtpd), over STARTTLS and SSL."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from handlers.routes import TABLE
from pairs import bridge, jobs, notify
from pairs.config import load_settings
from pairs.db import Signal

NOW = dt.datetime(2026, 11, 24, 17, 0)  # naive UTC: Tuesday 12:00 in New York, inside the session


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping what arrives."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def check_login(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=auth_data.login == b"alerts" and auth_data.password == b"s3cret")


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (openssl is part of every Debian)."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True, timeout=60)
    return folder / "cert.pem", folder / "key.pem"


def server_context(certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    return context


def client_context(certificate) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.fixture
def smtp_starttls(certificate):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), tls_context=server_context(certificate),
                            require_starttls=True, authenticator=check_login, auth_required=True)
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def smtp_ssl(certificate):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), ssl_context=server_context(certificate))
    controller.start()
    yield controller, inbox
    controller.stop()


def mail_settings(settings, port: int, tls: bool, ssl_: bool, user: str = ""):
    settings.mail_server = "127.0.0.1"
    settings.mail_port = port
    settings.mail_use_tls = tls
    settings.mail_use_ssl = ssl_
    settings.mail_username = user
    settings.mail_password = "s3cret" if user else ""
    settings.mail_sender = "pairs@example.org"
    settings.mail_recipient = "trader@example.org"
    settings.mail_subject = "Server Problem"
    settings.mail_warn_after_min = 2
    settings.bridge_silent_min = 15
    return settings


def add_signals_tx() -> list[int]:
    rows = [
        (NOW - dt.timedelta(minutes=10), "KO-0.36*PEP", "waiting", None),
        (NOW - dt.timedelta(minutes=5), "BF A-BF B", "error", "rejected by IB"),
        (NOW - dt.timedelta(days=3), "EWA", "rerouted", ""),
        (NOW - dt.timedelta(minutes=1), "EWC", "waiting", None),  # too young
        (NOW - dt.timedelta(minutes=30), "MSFT", "filled", None),  # not a problem
        (NOW - dt.timedelta(minutes=30), "AAPL", "critical err", "boom(warned)"),  # warned before
    ]
    return [Signal.create(timestamp=ts, ticker=ticker, order_action="buy", order_contracts=100, order_status=status,
                          error_msg=error).rowid for ts, ticker, status, error in rows]


@pytest.mark.parametrize("lookback_hours, tickers", [
    (72, ["EWA", "KO-0.36*PEP", "BF A-BF B"]),  # the default: three days back, the weekend included
    (71, ["KO-0.36*PEP", "BF A-BF B"]),
    (0, ["OLD", "EWA", "KO-0.36*PEP", "BF A-BF B"]),  # no limit
])
def test_problem_signals_are_looked_for_within_the_look_back(store, lookback_hours, tickers):
    store.write_sync(add_signals_tx)
    store.write_sync(lambda: Signal.create(timestamp=NOW - dt.timedelta(days=400), ticker="OLD", order_action="buy",
                                           order_contracts=1, order_status="waiting"))
    found = notify.problem_signals(NOW, 2, lookback_hours)
    assert [row.ticker for row in sorted(found, key=lambda row: row.timestamp)] == tickers
    assert load_settings(None, environ={}).mail_lookback_hours == 72


def text(message: email.message.EmailMessage) -> str:
    return message.get_content().replace("\r\n", "\n")  # SMTP carries CRLF line ends


def tls_sender(certificate):
    return lambda settings, message: notify.send_mail(settings, message, ssl_context=client_context(certificate))


def test_every_old_problem_signal_is_mailed_once_over_starttls(store, settings, smtp_starttls, certificate):
    controller, inbox = smtp_starttls
    mail_settings(settings, controller.port, tls=True, ssl_=False, user="alerts")
    ids = store.write_sync(add_signals_tx)

    outcome = notify.run_email_job(store, settings, NOW, send=tls_sender(certificate))
    assert outcome is not None and outcome.updated == 1 and outcome.pairs == 3 and outcome.failed == {}
    assert len(inbox.messages) == 1
    sender, recipients, message = inbox.messages[0]
    assert (sender, recipients) == ("pairs@example.org", ["trader@example.org"])
    assert (message["Subject"], message["From"], message["To"]) == ("Server Problem", "pairs@example.org",
                                                                     "trader@example.org")
    body = text(message)
    assert body.startswith("waiting orders-possible server problem\n")
    assert "3 signal(s) not processed after 2 minute(s):" in body
    assert f"#{ids[0]} | 2026-11-24 16:50:00 UTC | KO-0.36*PEP | buy 100 | status waiting" in body
    assert f"#{ids[1]} | 2026-11-24 16:55:00 UTC | BF A-BF B | buy 100 | status error | error: rejected by IB" in body
    assert f"#{ids[2]} | 2026-11-21 17:00:00 UTC | EWA" in body
    for other in ids[3:]:
        assert f"#{other} |" not in body

    errors = {s.rowid: s.error_msg for s in Signal.select()}
    assert [errors[i] for i in ids] == ["(warned)", "rejected by IB(warned)", "(warned)", None, None, "boom(warned)"]

    # each signal is warned about once: the next check finds nothing new
    assert notify.run_email_job(store, settings, NOW + dt.timedelta(seconds=30), send=tls_sender(certificate)) is None
    assert len(inbox.messages) == 1
    # the young one, once old enough, gets its own message
    later = notify.run_email_job(store, settings, NOW + dt.timedelta(minutes=5), send=tls_sender(certificate))
    assert later.pairs == 1 and len(inbox.messages) == 2
    assert f"#{ids[3]} |" in text(inbox.messages[1][2])
    runs = jobs.last_runs(5, job="email")
    assert [r["message"] for r in runs] == ["sent to trader@example.org: 1 signal(s)",
                                            "sent to trader@example.org: 3 signal(s)"]


def test_mail_over_implicit_ssl(store, settings, smtp_ssl, certificate):
    controller, inbox = smtp_ssl
    mail_settings(settings, controller.port, tls=False, ssl_=True)
    store.write_sync(add_signals_tx)
    assert notify.run_email_job(store, settings, NOW, send=tls_sender(certificate)).updated == 1
    assert len(inbox.messages) == 1 and inbox.messages[0][2]["Subject"] == "Server Problem"


def test_untrusted_certificate_or_no_server_sends_nothing_and_marks_nothing(store, settings, smtp_ssl):
    controller, inbox = smtp_ssl
    mail_settings(settings, controller.port, tls=False, ssl_=True)
    ids = store.write_sync(add_signals_tx)
    outcome = notify.run_email_job(store, settings, NOW)  # the system's CAs do not know the test certificate
    assert outcome.updated == 0 and "SSLCertVerificationError" in outcome.failed["smtp"]
    assert Signal.get_by_id(ids[0]).error_msg is None and inbox.messages == []

    settings.mail_port = _free_port()  # nobody listens there
    outcome = notify.run_email_job(store, settings, NOW)
    assert outcome.message == "not sent" and "ConnectionRefusedError" in outcome.failed["smtp"]
    assert [r["message"] for r in jobs.last_runs(5, job="email")] == ["not sent", "not sent"]


def test_silent_bridge_is_warned_about_once_during_the_session(store, settings, smtp_ssl, certificate):
    controller, inbox = smtp_ssl
    mail_settings(settings, controller.port, tls=False, ssl_=True)
    send = tls_sender(certificate)
    store.write_sync(bridge.remember_tx, NOW - dt.timedelta(minutes=20))

    assert bridge.last_seen() == NOW - dt.timedelta(minutes=20)
    outcome = notify.run_email_job(store, settings, NOW, send=send)
    assert outcome.message == "sent to trader@example.org: 0 signal(s), bridge silent 20 min"
    body = text(inbox.messages[0][2])
    assert "The broker bridge has been silent for 20 minute(s): last request 2026-11-24 16:40:00 UTC." in body
    assert notify.run_email_job(store, settings, NOW + dt.timedelta(minutes=5), send=send) is None

    # it comes back, then goes quiet again: a new warning
    store.write_sync(bridge.remember_tx, NOW + dt.timedelta(minutes=6))
    assert notify.run_email_job(store, settings, NOW + dt.timedelta(minutes=10), send=send) is None
    assert notify.run_email_job(store, settings, NOW + dt.timedelta(minutes=25), send=send).updated == 1
    assert len(inbox.messages) == 2


@pytest.mark.parametrize("now, last_seen_min_ago, silent_min, warned", [
    (NOW, 14, 15, False),  # not long enough
    (NOW, 15, 15, True),
    (NOW, 60, 0, False),  # switched off
    (dt.datetime(2026, 11, 28, 17, 0), 60, 15, False),  # Saturday: no session
    (dt.datetime(2026, 11, 24, 23, 0), 60, 15, False),  # 18:00 in New York: after the session
    # 09:20 New York on Wednesday, last seen Tuesday evening: silence counts from 09:10 only
    (dt.datetime(2026, 11, 25, 14, 20), 17 * 60, 15, False),
    (dt.datetime(2026, 11, 25, 14, 25), 17 * 60, 15, True),
])
def test_bridge_silence_rule(store, settings, now, last_seen_min_ago, silent_min, warned):
    settings.bridge_silent_min = silent_min
    store.write_sync(bridge.remember_tx, now - dt.timedelta(minutes=last_seen_min_ago))
    assert (notify.bridge_silence(now, settings) is not None) is warned


def test_no_bridge_ever_seen_is_not_watched(store, settings):
    assert notify.bridge_silence(NOW, settings) is None


@pytest.mark.parametrize("method, path, anonymous, bridge_request", [
    ("GET", "/v4/signals/status/waiting/0", True, True),  # its poll, every 10 s
    ("GET", "/v4/signals/status/rerouted/0", True, True),
    ("GET", "/v4/signals/status/waiting/0", False, False),  # a logged-in reader
    ("GET", "/v4/signals/status/filled/0", True, False),
    ("GET", "/v4/signals/0", True, False),
    ("PUT", "/v4/signal/order", True, True), ("PUT", "/v4/signal/updateorder", True, True),
    ("PUT", "/v4/ticker/updatepnl", True, True), ("POST", "/v4/regpnl", True, True), ("PUT", "/v4/pnl", True, True),
    ("PUT", "/v4/webhook", True, True), ("PUT", "/v4/webhook", False, False),  # the dashboard's signal editor
    ("POST", "/v4/webhook", True, False),  # TradingView
])
def test_which_requests_are_the_bridges(method, path, anonymous, bridge_request):
    assert bridge.is_bridge_request(method, path, anonymous, TABLE.bridge_writes) is bridge_request


@pytest.mark.parametrize("method, path, status, alive", [
    ("PUT", "/v4/pnl", 200, True), ("PUT", "/v4/pnl", 401, False),  # a wrong passphrase may come from anyone
    ("PUT", "/v4/signal/order", 400, False), ("PUT", "/v4/ticker/pnl", 404, False),
    ("GET", "/v4/signals/status/waiting/0", 200, True), ("GET", "/v4/signals/status/waiting/x", 400, False),
    ("POST", "/v4/webhook", 200, False),
])
def test_only_accepted_bridge_requests_show_it_alive(method, path, status, alive):
    assert bridge.shows_bridge_alive(method, path, True, status, TABLE.bridge_writes) is alive
