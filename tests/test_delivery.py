"""The delivery log (SPEC A.2, issue 9): redaction of every body shape, linear by construction; every passphrase
request leaves a row; oversized bodies refused before they are read; the answer's message kept with the status."""

from __future__ import annotations

import ast
import asyncio
import json
import re
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import tornado.httputil
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.hostile import FAMILIES
from pairs import delivery
from pairs.args import BodyError, parse_body
from pairs.db import DeliveryLog, utcnow
from pairs.delivery import redact, secrets_of
from tests.signal_fixtures import add_instruments, webhook

SECRET = "s3cret/pässword"
MULTIPART = "multipart/form-data; boundary=XyZ"


def multipart(**fields: str) -> str:
    parts = [f'--XyZ\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields.items()]
    return "".join(parts) + "--XyZ--\r\n"


# ---------------------------------------------------------------------------------------------------------------
# redaction, table-driven


@pytest.mark.parametrize("raw, content_type, expected", [
    # a JSON object keeps the log's shape: re-serialized, its passphrase hidden, and the secret wherever it is
    ('{"passphrase":"s3cret/pässword","ticker":"X"}', "application/json", '{"passphrase": "***", "ticker": "X"}'),
    ('{"passphrase": "guess", "order_comment": "s3cret/pässword"}', "application/json",
     '{"passphrase": "***", "order_comment": "***"}'),
    ('{"passphrase": "guess", "nested": {"passphrase": "guess2"}}', "", '{"passphrase": "***", "nested": '
     '{"passphrase": "***"}}'),
    # broken JSON keeps its own spelling; escaped keys and values are read as a decoder reads them (item 21)
    ('{"passphrase": "webhook", "ticker": ', "text/plain", '{"passphrase": "***", "ticker": '),
    ('{"pass\\u0070hrase":"w\\u0065bhook",', "text/plain", '{"pass\\u0070hrase":"***",'),
    ('{"a": "s3cret\\/p\\u00e4ssword", "b": "s3cret\\/p\\u00E4ss\\u0077ord"', "", '{"a": "***", "b": "***"'),
    ('{"a": "s3cret\\/p\\u00e4ss\\word"', "", '{"a": "***"'),  # \w is no JSON escape: read leniently as w
    ('{"passphrase": 12345, "b": [1]', "", '{"passphrase": ***, "b": [1]'),
    ('{"passphrase": ["guess"], "b": 1', "", '{"passphrase": ["***"], "b": 1'),
    ('{"passphrase" : \n "gu\\"ess", "b": 1', "", '{"passphrase" : \n "***", "b": 1'),
    ('{"a": "\\"passphrase\\": 1"', "", '{"a": "\\"passphrase\\": 1"'),
    # forms: the passphrase field by its key in any spelling, the secret in any decoded field
    ("passphrase=guess&ticker=LNT", "application/x-www-form-urlencoded", "passphrase=***&ticker=LNT"),
    ("pass%70hrase=guess&ticker=LNT", "", "pass%70hrase=***&ticker=LNT"),
    ("a=s3cret%2Fp%C3%A4ssword&b=1", "", "a=***&b=1"),
    ("s3cret%2fp%c3%a4ssword=1&b=1", "", "***=1&b=1"),
    ("passphrase=&b=1", "", "passphrase=***&b=1"),
    ("a=x+y&b=c%20d", "", "a=x+y&b=c%20d"),
    # multipart: the part named passphrase, and the secret in any part
    (multipart(passphrase="guess", ticker="LNT"), MULTIPART, multipart(passphrase="***", ticker="LNT")),
    (multipart(a="s3cret/pässword", ticker="LNT"), MULTIPART, multipart(a="***", ticker="LNT")),
    (multipart(passphrase="two\r\nlines"), MULTIPART, multipart(passphrase="***")),
    # the hostile bodies of issue 9 come out as they went in (nothing to hide), whatever their depth
    ("name=passphrase\n" * 3, "text/plain", "name=passphrase\n" * 3),
    ("[" * 5000 + "]" * 5000, "application/json", "[" * 5000 + "]" * 5000),
    ('{"a":' * 5000 + "1" + "}" * 5000, "application/json", '{"a":' * 5000 + "1" + "}" * 5000),
    ('"\\"\\"' + "\\" * 7, "", '"\\"\\"' + "\\" * 7),
])
def test_redaction(raw, content_type, expected):
    assert redact(raw.encode(), content_type, [SECRET, "guess"]) == expected


def test_a_carried_guess_is_hidden_wherever_it_occurs_and_short_ones_by_their_key_only():
    assert secrets_of("webhook", "s3cret-guess") == ["webhook", "s3cret-guess"]
    assert secrets_of("webhook", ["aa", "bbbb", "bbbb", 5]) == ["webhook", "bbbb"]
    assert len(secrets_of("webhook", [f"guess{i}" for i in range(1000)])) == delivery.MAX_CARRIED + 1
    body = multipart(passphrase="e", order_comment="every e stays")
    assert redact(body.encode(), MULTIPART, secrets_of("webhook", "e")) == multipart(
        passphrase="***", order_comment="every e stays")


def test_a_body_still_spelling_a_secret_after_every_round_is_withheld():
    assert redact(b"x=**", "", ["**"]) == delivery.WITHHELD  # every round spells it anew


def test_a_body_the_redaction_fails_on_keeps_its_row_withheld(monkeypatch):
    def broken(*args):
        raise MemoryError("say")

    monkeypatch.setattr(delivery, "redact", broken)
    found = delivery.row(delivery.Delivery(utcnow(), "1.2.3.4", "POST", "/v4/webhook", "text/plain", 4, 400, b"body",
                                           None, ["webhook"]))
    assert (found["status"], found["body"]) == (400, delivery.WITHHELD)


def reference_literals(text: str) -> list[tuple[int, int]]:
    """JSON string literals holding a backslash, character by character."""
    found, pos = [], 0
    while (start := text.find('"', pos)) != -1:
        end = start + 1
        while end < len(text) and text[end] != '"':
            end += 2 if text[end] == "\\" else 1
        end = min(end + 1, len(text))
        if "\\" in text[start:end]:
            found.append((start, end))
        pos = end
    return found


@settings(derandomize=True, database=None, max_examples=500, deadline=None)
@given(st.text(st.sampled_from('"\\a:'), max_size=16))
def test_the_literal_scanner_agrees_with_a_character_by_character_one(text):
    assert delivery.json_literals(text) == reference_literals(text)


@pytest.mark.parametrize("body, expected", [
    ({"message": "incorrect passphrase."}, "incorrect passphrase."),
    ({"message": {"ticker": "'ticker' cannot be empty!"}}, '{"ticker": "\'ticker\' cannot be empty!"}'),
    ({"message": "bad", "detail": "invalid JSON at line 1 column 2: Expecting value"},
     "bad (invalid JSON at line 1 column 2: Expecting value)"),
    ({"signals": []}, None), ([1], None), (None, None),
])
def test_answer_text(body, expected):
    assert delivery.answer_text(body) == expected


# ---------------------------------------------------------------------------------------------------------------
# linear by construction (issue 9, item 1): no timing here, bench/hostile.py measures


def unbounded_repeats(pattern: re.Pattern) -> list[str]:
    """The repetitions of ``pattern`` with no upper bound (``*``, ``+``, ``{n,}``): a pattern without any matches a
    bounded number of characters at each position, so a ``sub`` or ``search`` over a body is linear in it."""
    from re import _constants, _parser  # the standard library's own parser of patterns

    found = []

    def walk(items: _parser.SubPattern | list) -> None:
        for op, arg in items:
            if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT):
                _, high, sub = arg
                if high == _constants.MAXREPEAT:
                    found.append(str(op))
                walk(sub)
            elif op == _constants.SUBPATTERN:
                walk(arg[-1])
            elif op == _constants.BRANCH:
                for branch in arg[1]:
                    walk(branch)
            elif op in (_constants.ASSERT, _constants.ASSERT_NOT):
                walk(arg[1])

    walk(_parser.parse(pattern.pattern, pattern.flags))
    return found


def test_the_checker_finds_the_pattern_that_held_the_ioloop_for_seconds():
    """The redaction of pairs 0.x: ``name=passphrase\\n`` repeated made this pattern backtrack for 7 s."""
    old = re.compile(r'(name="?passphrase"?[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n)[^\r\n]*')
    assert unbounded_repeats(old) == ["MAX_REPEAT"] * 4
    assert unbounded_repeats(re.compile(r'\\(?!["/bfnrt]|u[0-9a-fA-F]{4})')) == []


def test_no_regular_expression_of_the_redaction_can_backtrack_over_a_body():
    patterns = [value for value in vars(delivery).values() if isinstance(value, re.Pattern)]
    assert patterns, "the redaction module holds its patterns as module constants"
    assert {p.pattern: unbounded_repeats(p) for p in patterns} == {p.pattern: [] for p in patterns}
    tree = ast.parse(Path(delivery.__file__).read_text())
    uses = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "re"]
    assert {node.attr for node in uses} == {"compile"}, "a pattern is used without being checked here"


def python_steps(body: bytes, content_type: str) -> int:
    """Lines of ``pairs/delivery.py`` run while redacting ``body``: its Python-level work (the rest is str methods,
    ``json`` and bounded patterns, each linear in what it is given)."""
    steps = 0
    source = delivery.__file__

    def tracer(frame, event, arg):
        nonlocal steps
        if frame.f_code.co_filename != source:
            return None
        if event == "line":
            steps += 1
        return tracer

    sys.settrace(tracer)
    try:
        redact(body, content_type, secrets_of(SECRET, "guess-value"))
    finally:
        sys.settrace(None)
    return steps


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_redaction_work_grows_linearly_with_the_body(family):
    """Every hostile family of bench/hostile.py at 8 and 32 KiB: four times the body, at most about four times the
    Python-level steps (a quadratic scan would be sixteen)."""
    small, large = (python_steps(*FAMILIES[family](size)) for size in (8 * 1024, 32 * 1024))
    assert large <= 4.5 * small + 200, (small, large)


# ---------------------------------------------------------------------------------------------------------------
# the property (issue 14): whatever the shape and spelling, no decoder finds the secret in what is logged


def spellings(text: str) -> st.SearchStrategy[str]:
    """``text`` as a JSON string literal's content: each character raw or as a \\u escape (either case)."""
    def spell(char: str) -> st.SearchStrategy[str]:
        escaped = f"\\u{ord(char):04x}"
        options = [char, escaped, escaped.upper().replace("\\U", "\\u")]
        if char == "/":
            options.append("\\/")
        return st.sampled_from(options)
    return st.tuples(*(spell(c) for c in text)).map("".join)


def form_spellings(text: str) -> st.SearchStrategy[str]:
    """``text`` as a form value: each UTF-8 byte raw (when printable ASCII) or percent-encoded (either case)."""
    def spell(char: str) -> st.SearchStrategy[str]:
        encoded = "".join(f"%{b:02X}" for b in char.encode())
        options = [encoded, encoded.lower()]
        if char.isascii() and char.isalnum():
            options.append(char)
        return st.sampled_from(options)
    return st.tuples(*(spell(c) for c in text)).map("".join)


junk = st.text(st.sampled_from('ab {}[]:,"\\=&%+\n'), max_size=12)
keys = st.sampled_from(["passphrase", "ticker", "order_comment", "pass\\u0070hrase"])


@st.composite
def bodies(draw) -> tuple[str, str]:
    shape = draw(st.sampled_from(["json", "form", "multipart", "text"]))
    if shape == "json":
        items = draw(st.lists(st.tuples(keys, st.one_of(spellings(SECRET), junk)), min_size=1, max_size=4))
        text = "{" + ", ".join(f'"{k}": "{v}"' for k, v in items) + "}"
        cut = draw(st.integers(0, len(text)))  # a TradingView message is often not valid JSON
        return (text if draw(st.booleans()) else text[:cut]), draw(st.sampled_from(["application/json",
                                                                                     "text/plain"]))
    if shape == "form":
        items = draw(st.lists(st.tuples(st.sampled_from(["passphrase", "pass%70hrase", "a"]),
                                        st.one_of(form_spellings(SECRET), junk)), min_size=1, max_size=4))
        return "&".join(f"{k}={v}" for k, v in items), "application/x-www-form-urlencoded"
    if shape == "multipart":
        values = draw(st.lists(st.one_of(st.just(SECRET), junk), min_size=1, max_size=4))
        return multipart(**{f"f{i}": v for i, v in enumerate(values)}), MULTIPART
    pieces = draw(st.lists(st.one_of(junk, st.just(SECRET), spellings(SECRET).map(lambda s: f'"{s}"'),
                                     form_spellings(SECRET)), max_size=6))
    return "".join(pieces), "text/plain"


def json_literals(text: str) -> Iterator[str]:
    """Every JSON string literal a decoder reads in ``text``, found character by character (independently of
    ``pairs.delivery``): from each opening quote, ``json.decoder.scanstring``."""
    pos = 0
    while (start := text.find('"', pos)) != -1:
        end = start + 1
        while end < len(text) and text[end] != '"':
            end += 2 if text[end] == "\\" else 1
        try:
            yield json.decoder.scanstring(text[start:end + 1], 1)[0]
        except ValueError:
            pass
        pos = end + 1


def readings(text: str, content_type: str) -> Iterator[str]:
    """What any decoder reads from ``text``: the raw text, JSON strings, form keys and values, multipart values."""
    yield text
    yield from json_literals(text)
    for key, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
        yield key
        yield value
    if content_type == MULTIPART:
        arguments: dict = {}
        try:
            tornado.httputil.parse_multipart_form_data(b"XyZ", text.encode(), arguments, {})
        except tornado.httputil.HTTPInputError:
            pass
        yield from (value.decode("utf-8", "replace") for values in arguments.values() for value in values)


@settings(derandomize=True, database=None, max_examples=200, deadline=None)
@given(bodies())
def test_no_decoder_finds_the_passphrase_in_a_logged_body(body):
    text, content_type = body
    logged = redact(text.encode(), content_type, secrets_of(SECRET, None))
    assert [r for r in readings(logged, content_type) if SECRET in r] == [], logged


def redacted_both_ways(raw: bytes, content_type: str, secrets: list[str]) -> tuple[str, str | None]:
    """(the redaction reading the body itself, the one given the handler's reading; None when there is none)."""
    alone = redact(raw, content_type, secrets)
    try:
        parsed = parse_body(raw, content_type)
    except BodyError:
        return alone, None
    return alone, redact(raw, content_type, secrets, parsed=parsed)


@pytest.mark.parametrize("raw, content_type", [
    (json.dumps({"passphrase": "webhook", "ticker": "LNT", "order_contracts": 10}), "application/json"),
    ('{"passphrase":"s3cret/p\u00e4ssword","n":{"passphrase":"x"}}', "application/json"),
    ('{"passphrase": "s3cret/pässword", "ticker": "LNT"}', "application/json"),  # not ASCII: read again
    (' {"passphrase": "webhook"} ', "text/plain"),  # spaces around: read again
    ('\x0b{"passphrase": "webhook"}', ""),  # parse_body strips \x0b, json.loads does not
    ('{"passphrase": "a", "passphrase": "webhook"}', "application/x-www-form-urlencoded"),  # curl -d '{...}'
    ('{"passphrase": "webhook"}', "multipart/form-data; boundary=XyZ"),  # parse_body leaves it to Tornado
    ('{"passphrase": "webhook", "a": "' + "x" * 70_000 + '"}', "application/json"),  # cut at the limit
    ('{"a": NaN, "passphrase": "webhook"}', "application/json"),  # refused by parse_body
])
def test_the_handlers_reading_of_the_body_redacts_as_reading_it_again(raw, content_type):
    alone, given = redacted_both_ways(raw.encode(), content_type, secrets_of(SECRET, "webhook"))
    assert given in (alone, None)
    assert "webhook" not in alone


def test_a_utf16_body_the_handler_read_as_json_is_read_again():
    raw = '{"passphrase": "webhook"}'.encode("utf-16-le")
    assert parse_body(raw, "application/json") == {"passphrase": "webhook"}
    alone, given = redacted_both_ways(raw, "application/json", secrets_of(SECRET, "webhook"))
    assert given == alone


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(bodies())
def test_the_handlers_reading_never_changes_a_logged_body(body):
    text, content_type = body
    alone, given = redacted_both_ways(text.encode(), content_type, secrets_of(SECRET, "guess"))
    assert given in (alone, None)


# ---------------------------------------------------------------------------------------------------------------
# over HTTP: every passphrase request leaves its row (items 2, 21), oversized bodies refused unread (item 3)


async def logged(app) -> list[DeliveryLog]:
    await app.ctx.store.write(lambda: None)  # the rows were queued before this: the writer is FIFO
    return list(DeliveryLog.select().order_by(DeliveryLog.id))


@pytest.fixture
def instruments(store):
    store.write_sync(add_instruments, {"LNT": ("STK", "USD", 1)}, {})


@pytest.mark.gen_test(timeout=30)
async def test_every_body_leaves_its_row(api, app, instruments):
    deep = "[" * 5000 + "]" * 5000
    sent = [
        (deep, "application/json"),
        ('{"a":' * 5000 + "1" + "}" * 5000, "text/plain"),
        ('{"pass\\u0070hrase":"w\\u0065bhook",', "text/plain"),
        ('{"order_contracts": {{strategy.order.contracts}}, "passphrase": "webhook"}', "text/plain"),
    ]
    for raw, content_type in sent:
        assert (await api.call("POST", "/v4/webhook", raw=raw, content_type=content_type)).code == 400
    rows = await logged(app)
    assert [(r.status, r.size) for r in rows] == [(400, len(raw)) for raw, _ in sent]
    assert rows[0].body == deep and rows[0].message == (
        "The browser (or proxy) sent a request that this server could not understand. (the JSON is nested too "
        "deeply to read)")
    assert rows[2].body == '{"pass\\u0070hrase":"***",'
    assert rows[3].message.endswith("(invalid JSON at line 1 column 22: Expecting property name enclosed in "
                                    "double quotes)")
    assert all("webhook" not in r.body and "w\\u0065bhook" not in r.body for r in rows)


@pytest.mark.gen_test(timeout=30)
async def test_the_tradingview_placeholder_answer_says_where_the_json_broke(api, app, instruments):
    raw = '{"passphrase": "webhook", "ticker": "LNT", "order_action": "buy",\n "order_contracts": ' \
          '{{strategy.order.contracts}}}'
    reply = await api.call("POST", "/v4/webhook", raw=raw, content_type="text/plain")
    assert (reply.code, reply.json) == (400, {
        "message": "The browser (or proxy) sent a request that this server could not understand.",
        "detail": "invalid JSON at line 2 column 22: Expecting property name enclosed in double quotes"})
    assert (await api.post("/v4/webhook", webhook("LNT"))).code == 200
    rows = await logged(app)
    assert [(r.status, r.message) for r in rows] == [
        (400, reply.json["message"] + " (" + reply.json["detail"] + ")"),
        (200, "'signal' created successfully.")]


async def raw_exchange(port: int, head: bytes, body_parts: list[bytes] = ()) -> bytes:
    """Send ``head`` and then each of ``body_parts`` (while the server has not closed), read the answer to the end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        for piece in body_parts:
            writer.write(piece)
            try:
                await writer.drain()
            except ConnectionError:
                break
        return await asyncio.wait_for(reader.read(), 20)  # a bound so that a server waiting for the body fails
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


@pytest.mark.gen_test(timeout=40)
async def test_an_oversized_content_length_is_refused_before_the_body_is_read(app, http_server, http_port):
    """Item 3: the head alone is answered: 413 in JSON, logged with the declared size and no body; the connection
    closes instead of reading what follows."""
    head = (b"POST /v4/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 16000000\r\n\r\n")
    answer = await raw_exchange(http_port, head)
    head, _, text = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 413 Request Entity Too Large"
    assert json.loads(text) == {"message": "the request body is larger than 65536 bytes."}
    [row] = await logged(app)
    assert (row.status, row.size, row.body, row.message) == (413, 16000000, None,
                                                             "the request body is larger than 65536 bytes.")


@pytest.mark.gen_test(timeout=40)
async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_cap(app, http_server, http_port):
    """Item 3: a chunked body is held up to the cap only; the 413 comes while the client is still sending."""
    head = (b"POST /v4/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (16 * 1024, b"x" * 16 * 1024)
    answer = await raw_exchange(http_port, head, [chunk] * 5)  # 80 KiB, and never the last chunk
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"message": "the request body is larger than 65536 bytes."}
    [row] = await logged(app)
    assert (row.status, row.body) == (413, None) and 64 * 1024 < row.size <= 80 * 1024


@pytest.mark.gen_test(timeout=40)
async def test_a_chunked_body_within_the_cap_is_read_whole(api, app, http_server, http_port, instruments):
    body = json.dumps(webhook("LNT")).encode()
    head = (b"POST /v4/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    pieces = [b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7)] + [b"0\r\n\r\n"]
    answer = await raw_exchange(http_port, head, pieces)
    assert answer.startswith(b"HTTP/1.1 200 ")
    [row] = await logged(app)
    assert (row.status, row.size, json.loads(row.body)["passphrase"]) == (200, len(body), "***")




@pytest.mark.gen_test(timeout=30)
async def test_the_delivery_log_page_shows_why_next_to_the_status(api, app, http_server, http_port, instruments):
    from tests.test_pages import Browser

    await api.call("POST", "/v4/webhook", raw='{"ticker": "LNT", "order_contracts": {{x}}}', content_type="text/plain")
    await raw_exchange(http_port, b"POST /v4/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n")
    await logged(app)
    browser = Browser(api)
    await browser.login()
    page = (await browser.get("/deliveries")).text
    table = page.split('id="deliveries"', 1)[1]
    assert ('<td class="num http-bad">400</td>\n<td class="reason">The browser (or proxy) sent a request that this '
            "server could not understand. (invalid JSON at line 1 column 39: Expecting property name enclosed in "
            "double quotes)</td>") in table
    assert ('<td class="num http-bad">413</td>\n<td class="reason">the request body is larger than 65536 bytes.'
            '</td>\n<td><span class="unread">not read</span></td>') in table
