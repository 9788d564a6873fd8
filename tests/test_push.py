"""Push notifications through Apprise, for real: a local HTTP receiver takes Apprise's ``json://`` and ``form://``
posts and speaks ntfy's own protocol for ``ntfy://127.0.0.1:PORT/topic``.  The webhook answers and stores the same
whatever the receiver does (down, failing, slow); bursts are folded; failures are retried, then recorded."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import http.server
import json
import re
import threading
import urllib.parse

import pytest
from conftest import _free_port, wait_until
from signal_fixtures import webhook

from pairs import checks, fills, notify, push
from pairs.config import ConfigError, load_settings
from pairs.continuity import Finding
from pairs.db import Pair, Signal, SignalEvent, Ticker, utcnow

CREATED = (200, {"message": "'signal' created successfully."})
WAIT_SEC = 30  # an upper bound for a loaded machine, never a measured time


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that keeps every request.  ``fail`` answers the next N with a 500; ``hold``
    keeps each request waiting until it is set (a slow service).  ntfy's answer is a JSON message object."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str]] = []  # (path, content type, body)
        self.fail = 0
        self.hold: threading.Event | None = None
        self._lock = threading.Lock()
        self._waiters: list[tuple[int, concurrent.futures.Future]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                receiver._arrived((self.path, self.headers.get("Content-Type", ""), body))
                if receiver.hold is not None:
                    receiver.hold.wait(WAIT_SEC)
                with receiver._lock:
                    failing = receiver.fail > 0
                    receiver.fail -= failing
                answer = b'{"id": "x1", "time": 1, "event": "message", "topic": "pairs"}'
                self.send_response(500 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _arrived(self, request: tuple[str, str, str]) -> None:
        with self._lock:
            self.requests.append(request)
            for count, future in [w for w in self._waiters if len(self.requests) >= w[0]]:
                self._waiters.remove((count, future))
                future.set_result(list(self.requests))

    def expect(self, count: int) -> concurrent.futures.Future:
        """Resolved with the requests once ``count`` have arrived."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if len(self.requests) >= count:
                future.set_result(list(self.requests))
            else:
                self._waiters.append((count, future))
        return future

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def pushing(app):
    """The app's settings, set for pushing by the test before its first event; the service is stopped after."""
    settings = app.ctx.settings
    settings.notify_fold_sec, settings.notify_retry_sec, settings.notify_retries = 0.0, 0.01, 2
    yield settings
    push.stop(app.ctx)


@pytest.fixture
def lnt(store):
    store.write_sync(lambda: Ticker.create(symbol="LNT", sectype="STK", currency="USD", active=1))


def delivered(app, count: int) -> concurrent.futures.Future:
    """Resolved with the first ``count`` records (sent or given up) of the app's notification service."""
    running = push.service(app.ctx.store, app.ctx.settings)
    future: concurrent.futures.Future = concurrent.futures.Future()
    seen: list[push.Delivered] = []

    def keep(done: push.Delivered) -> None:
        seen.append(done)
        if len(seen) == count and not future.done():
            future.set_result(list(seen))
    running.delivered.append(keep)
    return future


async def within(future: concurrent.futures.Future) -> object:
    return await asyncio.wait_for(asyncio.wrap_future(future), WAIT_SEC)


# ---------------------------------------------------------------------------------------------------------------
# The rules (pure)


@pytest.mark.parametrize(("text", "urls"), [
    ("", []),
    ("json://127.0.0.1:8/a", ["json://127.0.0.1:8/a"]),
    ("tgram://1:AB/2, ntfy://pairs", ["tgram://1:AB/2", "ntfy://pairs"]),
    ("tgram://1:AB/2\n  ntfy://pairs  json://h/x", ["tgram://1:AB/2", "ntfy://pairs", "json://h/x"]),
    ("mailtos://u:p@example.com?to=a@x.com,b@x.com ntfy://t", ["mailtos://u:p@example.com?to=a@x.com,b@x.com",
                                                               "ntfy://t"]),
])
def test_split_urls(text, urls):
    assert push.split_urls(text) == urls


def test_events_parse_and_name_an_unknown_one():
    assert push.parse_events("stuck,  REJECTED gap") == {"stuck", "rejected", "gap"}
    assert push.parse_events(load_settings(None, environ={}).notify_events) == {
        "stuck", "bridge_silent", "rejected", "price_job_failed", "gap", "duplicate"}
    with pytest.raises(ConfigError, match="filed, zcore are not an event"):
        push.parse_events("filled, filed, zcore")


@pytest.mark.parametrize(("url", "shown"), [
    ("tgram://123456789:AAE-secret/42", "tgram://***"), ("no scheme at all", "***"), ("ntfy://", "ntfy://***")])
def test_mask_url_keeps_only_the_scheme(url, shown):
    assert push.mask_url(url) == shown


@pytest.mark.parametrize(("url", "shown"), [
    ("tgram://123456789:AAEsecretsecretsecret/42", "tgram://1...t/42/"),
    ("json://user:s3cret@127.0.0.1:8080/hook", "json://user:****@127.0.0.1:8080/hook"),
    ("ntfy://user:s3cret@ntfy.example.com/pairs", "ntfy://user:****@ntfy.example.com/pairs"),
    ("tgram://bad", "tgram://***"),
])
def test_channel_names_hide_the_secrets(url, shown):
    assert push.channel_name(url) == shown


@pytest.mark.parametrize(("before", "after", "crossed"), [
    ({"A-B": 1.9}, {"A-B": 2.1}, [("A-B", 1.9, 2.1)]),
    ({"A-B": -1.0}, {"A-B": -2.0}, [("A-B", -1.0, -2.0)]),  # |z| reaches ENTRY_Z exactly: crossed
    ({"A-B": 2.1}, {"A-B": 2.5}, []),  # already outside: the crossing was reported by the run before
    ({"A-B": 2.5}, {"A-B": 1.0}, []),  # coming back inside is not an entry
    ({"A-B": None}, {"A-B": 3.0}, []),  # first statistics: nothing crossed
    ({}, {"A-B": 3.0}, []),
    ({"A-B": 1.0}, {"A-B": None}, []),
    ({"A-B": 1.0}, {"A-B": float("nan")}, []),
])
def test_zscore_crossings(before, after, crossed):
    assert push.zscore_crossings(before, after, 2.0) == crossed


@pytest.mark.parametrize(("before", "after", "settles"), [
    ({"order_status": "waiting"}, {"order_status": "filled", "fill_price": 1.7}, True),
    ({"order_status": "filled(...)"}, {"order_status": "part.filled", "fill_price": 0.3}, True),
    ({"order_status": "part.filled", "fill_price": 0.3}, {"order_status": "filled", "fill_price": 0.3}, True),
    ({"order_status": "filled", "fill_price": 1.7}, {"order_status": "filled", "fill_price": 1.7}, False),
    ({"order_status": "waiting"}, {"order_status": "filled(...)"}, False),  # one leg of a pair: no fill price yet
    ({"order_status": "waiting"}, {"order_status": "canceled"}, False),
])
def test_which_updates_settle_a_signal(before, after, settles):
    assert fills.settles(before, after) is settles


def test_compose_folds_a_burst_and_counts_the_rest():
    one = push.Event(push.RECEIVED, "#1 LNT buy 10 @ 1.5, waiting")
    assert push.compose([one]) == ("pairs: signal received", "#1 LNT buy 10 @ 1.5, waiting")
    burst = [push.Event(push.RECEIVED, f"#{n}") for n in range(1, 24)] + [push.Event(push.REJECTED, "#24")]
    title, body = push.compose(burst)
    assert title == "pairs: 24 events (23 received, 1 rejected)"
    assert body.splitlines() == [f"received: #{n}" for n in range(1, 21)] + [
        "... and 4 more (DELIVERY LOG page of pairs)"]


def test_check_config_names_a_bad_url_with_its_secret_masked():
    settings = load_settings(None, environ={"PAIRS_NOTIFY_URLS": "json://127.0.0.1:9/x tgram://bad-token-s3cret, "
                                            "ntfy://pairs"})
    assert settings.notify_urls.startswith("json://")
    found = [str(f) for f in checks.check_notify(settings)]
    assert found == ["error: [NOTIFY] URLS: URL 2 (tgram://***) is not a URL Apprise can send to; see "
                     "https://github.com/caronc/apprise/wiki for the form of each service"]
    assert "s3cret" not in found[0]
    bad_events = load_settings(None, environ={}, notify_events="stuck, sent")
    assert checks.startup_errors(bad_events) == [
        "[NOTIFY] EVENTS: sent is not an event; use some of stuck, bridge_silent, rejected, price_job_failed, gap, "
        "duplicate, received, filled, slip, zscore"]
    for key in ("notify_fold_sec", "notify_retries", "notify_retry_sec", "notify_slip_limit"):
        negative = load_settings(None, environ={}, **{key: -1})
        assert checks.startup_errors(negative) == [
            "[NOTIFY] FOLD_SEC, RETRIES, RETRY_SEC and SLIP_LIMIT must not be negative"], key


# ---------------------------------------------------------------------------------------------------------------
# Through Apprise, for real (both databases)


@pytest.mark.gen_test(timeout=60)
async def test_json_form_and_ntfy_carry_the_signal(app, api, store, lnt, receiver, pushing):
    port = receiver.port
    pushing.notify_urls = (f"json://127.0.0.1:{port}/hook form://user:s3cret@127.0.0.1:{port}/form "
                           f"ntfy://127.0.0.1:{port}/pairs")
    pushing.notify_events = "received"
    pushing.notify_fold_sec = 0.05  # the window closes by itself
    records = delivered(app, 3)
    reply = await api.post("/v4/webhook", webhook("LNT", order_comment="Long"))
    assert (reply.code, reply.json) == CREATED
    requests = sorted(await within(receiver.expect(3)))
    expected = "#1 LNT buy 10 @ 1.5, waiting"
    ntfy, form, hook = requests  # sorted by path
    assert hook[:2] == ("/hook", "application/json")
    assert json.loads(hook[2]) == {"version": "1.0", "title": "pairs: signal received", "message": expected,
                                   "attachments": [], "type": "info"}
    assert form[:2] == ("/form", "application/x-www-form-urlencoded")
    assert dict(urllib.parse.parse_qsl(form[2])) == {"version": "1.0", "title": "pairs: signal received",
                                                     "message": expected, "type": "info"}
    assert ntfy[:2] == ("/", "application/json")  # ntfy's own protocol: the topic in the JSON body
    assert json.loads(ntfy[2]) == {"topic": "pairs", "title": "pairs: signal received", "message": expected}

    done = await within(records)
    assert sorted((d.channel, d.outcome, d.attempts) for d in done) == [
        (f"form://user:****@127.0.0.1:{port}/form", "sent", 1), (f"json://127.0.0.1:{port}/hook", "sent", 1),
        (f"ntfy://127.0.0.1:{port}/pairs", "sent", 1)]
    rows = push.latest_records(10)
    assert sorted((r.kinds, r.events, r.channel, r.outcome, r.attempts, r.error) for r in rows) == sorted(
        ("received", 1, d.channel, "sent", 1, None) for d in done)
    assert all("s3cret" not in r.channel for r in rows)


@pytest.mark.gen_test(timeout=60)
async def test_a_burst_of_50_signals_is_one_message_per_channel(app, api, store, lnt, receiver, pushing):
    pushing.notify_urls = f"json://127.0.0.1:{receiver.port}/a json://127.0.0.1:{receiver.port}/b"
    pushing.notify_events = "received"
    pushing.notify_fold_sec = 600  # a window no test waits for: closed by the flush below
    records = delivered(app, 2)
    replies = await asyncio.gather(*(api.post("/v4/webhook", webhook("LNT", order_contracts=n))
                                     for n in range(1, 51)))
    assert {(r.code, r.json["message"]) for r in replies} == {(200, "'signal' created successfully.")}
    push.service(store, pushing).flush()
    done = await within(records)
    assert [(d.outcome, len(d.events)) for d in done] == [("sent", 50), ("sent", 50)]
    requests = receiver.requests
    assert sorted(path for path, _, _ in requests) == ["/a", "/b"]  # one message per channel, not 50
    message = json.loads(requests[0][2])
    assert message["title"] == "pairs: 50 events (50 received)"
    lines = message["message"].splitlines()
    assert len(lines) == 21 and lines[-1] == "... and 30 more (DELIVERY LOG page of pairs)"
    assert sorted(int(line.split()[4]) for line in lines[:20]) == sorted(  # the first 20 of the burst, each once
        int(e.text.split()[3]) for e in done[0].events[:20])


@pytest.mark.gen_test(timeout=60)
async def test_a_failing_receiver_is_retried_then_the_message_is_sent(app, api, store, lnt, receiver, pushing):
    pushing.notify_urls = f"json://127.0.0.1:{receiver.port}/hook"
    pushing.notify_events = "received"
    receiver.fail = 2
    records = delivered(app, 1)
    assert (await api.post("/v4/webhook", webhook("LNT"))).code == 200
    [done] = await within(records)
    assert (done.outcome, done.attempts, done.error) == ("sent", 3, "")
    bodies = [body for _, _, body in receiver.requests]
    assert len(bodies) == 3 and len(set(bodies)) == 1  # the same message each time
    [row] = push.latest_records(5)
    assert (row.outcome, row.attempts, row.error) == ("sent", 3, None)


@pytest.mark.gen_test(timeout=60)
async def test_a_receiver_that_is_down_is_given_up_recorded_and_blocks_no_other(app, api, store, lnt, receiver,
                                                                                   pushing):
    down = _free_port()  # nothing listens there
    pushing.notify_urls = f"json://127.0.0.1:{down}/hook json://127.0.0.1:{receiver.port}/up"
    pushing.notify_events = "received"
    records = delivered(app, 2)
    first = await api.post("/v4/webhook", webhook("LNT"))
    assert (first.code, first.json) == CREATED
    done = {d.channel: d for d in await within(records)}
    gone = done[f"json://127.0.0.1:{down}/hook"]
    assert (gone.outcome, gone.attempts) == ("failed", 3)
    assert "Connection error" in gone.error
    assert done[f"json://127.0.0.1:{receiver.port}/up"].outcome == "sent"
    failed = [r for r in push.latest_records(5) if r.outcome == "failed"]
    assert [(r.channel, r.attempts, r.kinds) for r in failed] == [(gone.channel, 3, "received")]
    # later messages go out as before, to both
    again = delivered(app, 2)
    assert (await api.post("/v4/webhook", webhook("LNT"))).code == 200
    assert sorted(d.outcome for d in await within(again)) == ["failed", "sent"]
    assert [r.code for r in [first]] == [200] and Signal.select().count() == 2


@pytest.mark.gen_test(timeout=60)
async def test_a_slow_receiver_changes_nothing_for_webhooks(app, api, store, lnt, receiver, pushing):
    pushing.notify_urls = f"json://127.0.0.1:{receiver.port}/hook"
    pushing.notify_events = "received"
    receiver.hold = threading.Event()
    records = delivered(app, 2)
    assert (await api.post("/v4/webhook", webhook("LNT", order_contracts=1))).code == 200
    await within(receiver.expect(1))  # the receiver holds the first message: the channel's thread waits on it
    replies = [await api.post("/v4/webhook", webhook("LNT", order_contracts=n)) for n in range(2, 7)]
    assert [(r.code, r.json) for r in replies] == [CREATED] * 5  # answered while the receiver still holds on
    stored = [(s.rowid, s.ticker, s.order_contracts, s.order_status) for s in Signal.select().order_by(Signal.rowid)]
    assert stored == [(n, "LNT", n, "waiting") for n in range(1, 7)]
    assert len(receiver.requests) == 1
    receiver.hold.set()
    done = await within(records)
    assert [(d.outcome, len(d.events)) for d in done] == [("sent", 1), ("sent", 5)]  # the rest folded meanwhile


@pytest.mark.gen_test(timeout=60)
async def test_a_rejected_signal_goes_out_and_a_received_one_does_not_by_default(app, api, store, lnt, receiver,
                                                                                   pushing):
    pushing.notify_urls = f"json://127.0.0.1:{receiver.port}/hook"
    pushing.notify_fold_sec = 600
    assert (await api.post("/v4/webhook", webhook("LNT"))).code == 200
    problem = await api.post("/v4/webhook", webhook("ZZZ"))
    assert problem.code == 201
    records = delivered(app, 1)
    push.service(store, pushing).flush()
    [done] = await within(records)
    assert [e.kind for e in done.events] == ["rejected"]
    status_msg = Signal.get_by_id(2).status_msg
    assert json.loads(receiver.requests[0][2])["message"] == f"#2 ZZZ buy 10 @ 1.5, error: {status_msg}"
    assert done.events[0].rowids == (2,)


@pytest.mark.gen_test(timeout=60)
async def test_a_rejected_signal_is_never_pushed_as_received(app, api, store, lnt, receiver, pushing):
    pushing.notify_urls = f"json://127.0.0.1:{receiver.port}/hook"
    pushing.notify_events, pushing.notify_fold_sec = "received", 600
    assert (await api.post("/v4/webhook", webhook("ZZZ"))).code == 201  # rejected, and rejected is not wanted
    assert (await api.post("/v4/webhook", webhook("LNT"))).code == 200
    records = delivered(app, 1)
    push.service(store, pushing).flush()
    [done] = await within(records)
    assert [(e.kind, e.rowids) for e in done.events] == [("received", (2,))]


def test_a_stopped_service_stays_stopped_for_a_late_caller(app, store, receiver):
    settings = app.ctx.settings
    settings.notify_urls, settings.notify_events = f"json://127.0.0.1:{receiver.port}/hook", "received"
    running = push.service(store, settings)
    push.stop(app.ctx)
    late = push.service(store, settings)  # a price run still in the executor, after the shut-down
    assert late is running and not late.emit(push.RECEIVED, "#1 too late")
    assert not any(channel.thread.is_alive() for channel in late.channels)


@pytest.mark.gen_test(timeout=60)
async def test_a_fill_is_reported_with_its_price_and_slip_once(app, api, store, lnt, receiver, pushing):
    pushing.notify_urls = f"json://127.0.0.1:{receiver.port}/hook"
    pushing.notify_events = "filled, slip"
    pushing.notify_slip_limit = 1.5
    pushing.notify_fold_sec = 600
    assert (await api.post("/v4/webhook", webhook("LNT", order_id1=77, order_status="created"))).code == 200
    fill = {"passphrase": "webhook", "order_id": 77, "symbol": "LNT", "price": 1.7, "filled_qty": 10}
    assert (await api.put("/v4/signal/order", fill)).json["order_status"] == "filled"
    assert (await api.put("/v4/signal/order", fill)).json["order_status"] == "filled"  # re-sent: nothing new
    records = delivered(app, 1)
    push.service(store, pushing).flush()
    [done] = await within(records)
    text = "#1 LNT buy 10, filled at 1.7 (order price 1.5), slip -0.2 = -2.00 in money"
    assert [(e.kind, e.text) for e in done.events] == [
        ("filled", text), ("slip", text + "; over the limit of 1.5")]
    assert json.loads(receiver.requests[0][2])["title"] == "pairs: 2 events (1 filled, 1 slip)"


@pytest.mark.gen_test(timeout=60)
async def test_a_sent_message_is_a_warned_event_on_each_signal_it_named(app, api, store, lnt, receiver, pushing):
    pushing.notify_urls = f"json://127.0.0.1:{receiver.port}/hook"
    pushing.notify_events = "received, rejected, bridge_silent"
    pushing.notify_fold_sec = 600
    for ticker in ("LNT", "ZZZ", "LNT"):
        await api.post("/v4/webhook", webhook(ticker))
    push.service(store, pushing).emit(push.BRIDGE_SILENT, "silent for 20 minute(s)")  # names no signal
    records = delivered(app, 1)
    push.service(store, pushing).flush()
    await within(records)
    channel = f"json://127.0.0.1:{receiver.port}/hook"
    warned = [(e.signal, json.loads(e.detail)) for e in SignalEvent.select().where(SignalEvent.kind == "warned")
              .order_by(SignalEvent.id)]
    assert warned == [(1, {"channel": channel, "kind": "received"}), (3, {"channel": channel, "kind": "received"}),
                      (2, {"channel": channel, "kind": "rejected"})]  # not bridge_silent: it names no signal


def test_stuck_signals_and_findings_are_pushed_with_e_mail_off_and_marked(app, store, receiver):
    settings = app.ctx.settings
    settings.notify_urls = f"json://127.0.0.1:{receiver.port}/hook"
    settings.notify_fold_sec, settings.notify_retry_sec = 600, 0.01
    assert not settings.enable_email_notifications
    now = utcnow()

    def seed():
        Signal.create(timestamp=now - dt.timedelta(minutes=10), ticker="LNT", order_action="buy", order_contracts=3,
                      order_status="waiting", ticker_type="single", ticker1="LNT")
        Finding.create(signal=1, previous=1, kind="gap", name="LNT", expected_pos="flat", expected_size=0,
                       actual_pos="long", actual_size=3, found=now)
    store.write_sync(seed)
    try:
        outcome = notify.run_email_job(store, settings, now)
        assert outcome.updated == 1
        assert outcome.message == "pushed: 1 signal(s), 1 gap/duplicate finding(s)"
        assert "(warned)" in Signal.get_by_id(1).error_msg
        def warned() -> list[str]:
            return [json.loads(e.detail)["channel"] for e in SignalEvent.select().where(SignalEvent.kind == "warned")]
        assert warned() == []  # not e-mailed: the push channel records its own once it has sent
        assert notify.run_email_job(store, settings, now) is None  # reported once
        running = push.service(store, settings)
        records = delivered(app, 1)
        running.flush()
        [done] = records.result(WAIT_SEC)
        assert [e.kind for e in done.events] == ["stuck", "gap"]
        wait_until(lambda: warned(), WAIT_SEC, "the push channel's warned events")
        assert set(warned()) == {settings.notify_urls}
        message = json.loads(receiver.requests[0][2])["message"].splitlines()
        assert message[0].startswith("stuck: not processed: #1 | ") and message[0].endswith("| status waiting")
        assert message[1] == ("gap: gap #1 | LNT | gap after #1: expected flat 0 before this order, the alert "
                              "says long 3")
    finally:
        push.stop(app.ctx)


def test_a_failed_pair_is_pushed_once_a_day(app, store, receiver):
    settings = app.ctx.settings
    settings.notify_urls = f"json://127.0.0.1:{receiver.port}/hook"
    settings.notify_events = "price_job_failed, zscore"
    settings.notify_fold_sec = 600
    day = dt.date(2026, 11, 27)
    try:
        running = push.service(store, settings)
        push.price_run(store, settings, "prices", {"A-B": "no prices for A"}, day, {"C-D": 1.0}, {"C-D": 2.4})
        push.price_run(store, settings, "prices", {"A-B": "no prices for A", "E-F": "no prices for F"}, day,
                       {"C-D": 2.4}, {"C-D": 2.6})
        push.price_run(store, settings, "prices", {"A-B": "no prices for A"}, day + dt.timedelta(days=1), {}, {})
        records = delivered(app, 1)
        running.flush()
        [done] = records.result(WAIT_SEC)
        assert [(e.kind, e.text) for e in done.events] == [
            ("price_job_failed", "prices run: A-B: no prices for A"),
            ("zscore", "C-D (prices): z-score 2.40, beyond ENTRY_Z 2 (was 1)"),
            ("price_job_failed", "prices run: E-F: no prices for F"),
            ("price_job_failed", "prices run: A-B: no prices for A")]  # the next day
    finally:
        push.stop(app.ctx)


# ---------------------------------------------------------------------------------------------------------------
# The pages


@pytest.mark.gen_test(timeout=60)
async def test_setup_shows_masked_channels_and_sends_a_test_and_the_log_shows_it(app, api, store, receiver, pushing):
    from test_pages import Browser

    pushing.notify_urls = (f"json://user:s3cret@127.0.0.1:{receiver.port}/hook "
                           f"tgram://123456789:AAEsecretsecretsecret/42")
    admin = Browser(api)
    assert (await admin.login()).code == 302
    page = (await admin.get("/setup")).text
    section = page[page.index('id="notify-channels"'):]
    assert re.findall(r"<li><code>([^<]+)</code></li>", section) == [
        f"json://user:****@127.0.0.1:{receiver.port}/hook", "tgram://1...t/42/"]
    assert "s3cret" not in page and "AAEsecret" not in page

    # the test sends: to the receiver, and to a port where nobody listens (the tests reach loopback only)
    down = _free_port()
    pushing.notify_urls = f"json://user:s3cret@127.0.0.1:{receiver.port}/hook json://127.0.0.1:{down}/gone"
    refused = await admin.form("/setup/notify-test", {})  # a form post without its XSRF token does nothing
    assert refused.code == 403 and receiver.requests == []
    answer = await admin.form("/setup/notify-test", {"_xsrf": admin.cookies["_xsrf"]})
    assert answer.code == 302
    notice = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.headers["Location"]).query)["msg"][0]
    assert notice.startswith(f"Test: json://user:****@127.0.0.1:{receiver.port}/hook sent; "
                             f"json://127.0.0.1:{down}/gone failed (A Connection error occurred")
    assert json.loads(receiver.requests[0][2])["title"] == "pairs: test"

    log_page = (await admin.get("/deliveries")).text
    table = log_page[log_page.index('id="notifications"'):]
    assert re.findall(r'<td><code>([^<]+)</code></td><td class="http-\w+">(\w+)</td>', table) == [
        (f"json://127.0.0.1:{down}/gone", "failed"), (f"json://user:****@127.0.0.1:{receiver.port}/hook", "sent")]

    user = Browser(api)
    assert (await user.login("user1")).code == 302
    assert 'id="notify-channels"' not in (await user.get("/setup")).text  # the admin's only
    assert (await user.form("/setup/notify-test", {"_xsrf": user.cookies["_xsrf"]})).code == 401
    assert len(receiver.requests) == 1


def test_the_price_job_pushes_a_failed_pair_once_a_day_and_a_crossing_once(app, store, receiver):
    from tests.test_jobs import TUESDAY_3PM_NEW_YORK, add_pairs_tx, run
    from tests.test_stats import computed_stats

    settings = app.ctx.settings
    settings.notify_urls = f"json://127.0.0.1:{receiver.port}/hook"
    settings.notify_events = "price_job_failed, zscore"
    settings.notify_fold_sec = 600
    z = computed_stats("KO", "PEP", 0.36, dt.date(2026, 11, 24)).zscore
    settings.entry_z = abs(z)  # this run's z-score reaches it exactly
    store.write_sync(add_pairs_tx)
    store.write_sync(lambda: Pair.update(zscore=0.0).where(Pair.name == "KO-PEP").execute())
    try:
        run(store, settings)
        run(store, settings, now=TUESDAY_3PM_NEW_YORK + dt.timedelta(minutes=20))  # outside now: no new crossing
        records = delivered(app, 1)
        push.service(store, settings).flush()
        [done] = records.result(WAIT_SEC)
        assert [(e.kind, e.text) for e in done.events] == [
            ("price_job_failed", "prices run: EWA-ZZZ: no prices for ZZZ"),
            ("zscore", f"KO-PEP (prices): z-score {z:.2f}, beyond ENTRY_Z {abs(z):g} (was 0)")]
    finally:
        push.stop(app.ctx)


@pytest.mark.gen_test(timeout=60)
async def test_a_missed_alert_is_pushed_at_once_with_e_mail_off(app, api, store, receiver, pushing):
    from test_continuity_http import post_sequence

    def register():
        for symbol in ("LNT", "FTS"):
            Ticker.create(symbol=symbol, sectype="STK", currency="USD", active=1)
        Pair.create(name="LNT-FTS", ticker1="LNT", ticker2="FTS", hedge=1.25, status=1)
    store.write_sync(register)
    pushing.notify_urls = f"json://127.0.0.1:{receiver.port}/hook"  # the default EVENTS: gap and duplicate in
    assert not pushing.enable_email_notifications
    rowids = await post_sequence(api)
    outcome = await app.ctx.jobs.continuity_alert  # the check the webhook started, not the periodic one
    assert outcome.message == "pushed: 0 signal(s), 1 gap/duplicate finding(s)"
    [message] = [json.loads(body) for _, _, body in (await within(receiver.expect(1)))]
    assert message["title"] == "pairs: missed alert"
    assert message["message"] == (f"gap #{rowids[1]} | LNT-FTS | gap after #{rowids[0]}: expected long 10 before "
                                  "this order, the alert says flat 0")
    assert Finding.get().notified is not None


def test_a_shut_down_sends_what_the_channels_hold_once(app, store, receiver):
    settings = app.ctx.settings
    down = _free_port()
    settings.notify_urls = f"json://127.0.0.1:{receiver.port}/hook json://127.0.0.1:{down}/down"
    settings.notify_events, settings.notify_fold_sec, settings.notify_retry_sec = "received", 600, 60
    running = push.service(store, settings)
    for rowid in (1, 2):
        assert running.emit(push.RECEIVED, f"#{rowid} LNT buy 10, waiting", (rowid,))
    push.stop(app.ctx)  # long before the end of the folding window, and of the first retry's pause
    assert not any(channel.thread.is_alive() for channel in running.channels)
    assert not running.emit(push.RECEIVED, "#3 too late")
    rows = {r.channel: (r.outcome, r.attempts, r.events) for r in push.latest_records(10)}
    assert rows == {f"json://127.0.0.1:{receiver.port}/hook": ("sent", 1, 2),
                    f"json://127.0.0.1:{down}/down": ("failed", 1, 2)}  # tried once, not again 60 s later
    assert json.loads(receiver.requests[0][2])["message"] == ("received: #1 LNT buy 10, waiting\n"
                                                              "received: #2 LNT buy 10, waiting")
