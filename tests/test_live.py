"""Live pages (issue 13): server-sent events on /events tell open pages what changed; a page refreshes itself."""

from __future__ import annotations

import asyncio

import pytest
import tornado.iostream
import tornado.tcpclient

from pairs import live
from tests.signal_fixtures import add_instruments, webhook


@pytest.fixture
def instruments(store):
    store.write_sync(add_instruments, {"A": ("STK", "USD", 0), "B": ("STK", "USD", 0)}, {"A-B": (2.0, 1)})


async def _open_stream(http_port: int, topics: str) -> tornado.iostream.IOStream:
    stream = await tornado.tcpclient.TCPClient().connect("127.0.0.1", http_port)
    await stream.write(f"GET /events?topics={topics} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    head = await stream.read_until(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
    assert b"X-Accel-Buffering: no" in head
    assert (await stream.read_until(b"retry: 3000\n\n")).endswith(b"retry: 3000\n\n")
    return stream


@pytest.mark.gen_test(timeout=30)
async def test_a_stored_webhook_is_announced_to_open_pages(app, http_server, http_port, api, instruments):
    signals = await _open_stream(http_port, "signals")
    prices_only = await _open_stream(http_port, "prices")
    assert len(app.ctx.live) == 2

    assert (await api.post("/v4/webhook", webhook("A-2*B"))).code == 200
    event = await signals.read_until(b"data: {}\n\n")
    assert event.split(b"\r\n")[-1] == b"event: signals\ndata: {}\n\n"  # the topic only, no signal data

    assert (await api.post("/v4/webhook", webhook("A-2*B", passphrase="wrong"))).code == 401  # refused: no event
    app.ctx.live.publish(live.PRICES)
    assert (await prices_only.read_until(b"data: {}\n\n")).endswith(b"event: prices\ndata: {}\n\n")
    signals.close()
    prices_only.close()
    await http_server.close_all_connections()


@pytest.mark.gen_test(timeout=30)
async def test_a_closed_page_stops_listening(app, http_server, http_port):
    stream = await _open_stream(http_port, "signals,positions")
    assert len(app.ctx.live) == 1
    stream.close()
    while len(app.ctx.live):  # the server notices the closed connection on its next loop turn
        await asyncio.sleep(0)  # a turn of the loop, not a wait for time
    app.ctx.live.publish(live.SIGNALS)  # nobody left to write to: nothing breaks
    await http_server.close_all_connections()


@pytest.mark.gen_test
async def test_pages_name_their_topics(api):
    for path, topics in (("/dashboard", "signals"), ("/positions", "signals,positions,prices"),
                         ("/watchlist", "prices")):
        page = await api.get(path)
        assert f'<main data-live="{topics}">' in page.text
    assert "<main>" in (await api.get("/list")).text


@pytest.mark.gen_test
async def test_an_empty_dashboard_says_no_signals_yet_without_a_login_hint(api):
    page = await api.get("/dashboard")
    assert '<td colspan="10" class="empty">no signals yet</td>' in page.text
    assert "Login to see more rows!" not in page.text
