"""The delivery log (SPEC A.2): one row per request to a passphrase route, with the passphrase hidden, and its retention.

``handlers.base.BaseHandler`` hands over what it knows of a finished request (``entry``), and the writer records the
row (``record_tx``); everything here is plain functions.

Redaction runs on the IOLoop after the answer went out, on bodies an attacker writes, so it is built to cost time
linear in the body for every input: nothing recurses, no pattern can backtrack (the one regular expression matches a
bounded number of characters), and each reading (JSON string literals, form fields, multipart parts, the raw text)
visits each character a bounded number of times through ``str.split`` / ``str.find`` / ``in`` / ``json.loads``.
``python bench/hostile.py`` measures the IOLoop stall; tests/test_delivery.py counts the steps.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
import operator
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from pairs.args import is_multipart
from pairs.db import DeliveryLog, utcnow
from pairs.db.models import PreparedQuery
from pairs.db.writer import Writer

log = logging.getLogger("pairs.delivery")

REDACTED = "***"
# What the log shows instead of a body that still spells a secret after every round of redaction (it takes a secret
# that contains "***" or a body built around the redaction itself).
WITHHELD = "*** (body withheld: it spells the passphrase in a way the log cannot hide)"
MIN_SECRET = 4  # a carried guess shorter than this is not hidden everywhere it occurs (the row would be unreadable)
MAX_CARRIED = 4  # more guesses in one body are hidden by their key only
KEY = "passphrase"
_SPACE = " \t\r\n"
# The only regular expression that reads a body matches a bounded number of characters (no * + {n,}): its sub() is
# then linear whatever the body holds (tests/test_delivery.py checks every pattern here).
# A backslash that starts no JSON escape (pairs of backslashes set aside first): dropped, as a lenient reader does,
# so that \q reads as q and \u12 as u12, and every literal's content decodes.
_LONE_BACKSLASH = re.compile(r'\\(?!["/bfnrt]|u[0-9a-fA-F]{4})')
_PAIR = "\ufdd0"  # a noncharacter stands for an escaped backslash while lone ones are dropped
_STOPS = str.maketrans(dict.fromkeys(',]}"\x00' + _SPACE, "\x00"))  # where a bare JSON value ends

Span = tuple[int, int, str]  # start, end, replacement


# ---------------------------------------------------------------------------------------------------------------
# Readings: where a decoder finds text in a body, and what it reads there


def json_literals(text: str) -> list[tuple[int, int]]:
    """(start, end) of every JSON string literal that holds a backslash, quotes included; an unclosed one runs to
    the end.  (A literal without one reads as it is written: the raw reading covers it.)

    One ``str.split`` on the quotes; piece ``i`` lies between quote ``i-1`` and quote ``i``.  Only pieces holding a
    backslash are visited (found in C by ``compress``): a piece is inside a literal when an odd number of the quotes
    before it open or close one, and a quote is escaped (neither) when the piece before it is inside and ends in an
    odd run of backslashes.
    """
    if "\\" not in text:
        return []
    pieces = text.split('"')
    last = len(pieces) - 1
    ends = list(itertools.accumulate(map(len, pieces)))

    def quote(k: int) -> int:  # the position of quote k
        return ends[k] + k

    holding = map(operator.contains, pieces, itertools.repeat("\\"))
    if '\\"' not in text:  # no quote is escaped: the odd pieces
        return [(ends[i - 1] + i - 1, ends[i] + i + 1 if i < last else len(text))  # are the literals
                for i in itertools.compress(range(len(pieces)), holding) if i % 2]
    found: list[tuple[int, int]] = []
    escaped = 0  # escaped quotes before the piece at hand
    opening = -1  # the open literal's first quote when an escaped quote carries it into the next piece
    for i in itertools.compress(range(len(pieces)), holding):
        if i == 0 or (i - escaped) % 2 == 0:
            continue  # outside any literal: a backslash there means nothing
        piece = pieces[i]
        start = opening if opening >= 0 else quote(i - 1)
        opening = -1
        if i == last:
            found.append((start, len(text)))
        elif piece[-1] == "\\" and (len(piece) - len(piece.rstrip("\\"))) % 2:
            escaped += 1
            following = pieces[i + 1]
            if "\\" in following:
                opening = start  # the next piece goes on with this literal
            else:
                found.append((start, len(text) if i + 1 == last else quote(i + 1) + 1))
        else:
            found.append((start, quote(i) + 1))
    return found


def json_texts(text: str, literals: list[tuple[int, int]]) -> list[str]:
    """What a JSON decoder reads from each literal, leniently: all of them decoded in one ``json.loads``."""
    contents = [text[start + 1:end - 1] for start, end in literals]
    start, end = literals[-1]
    if end == len(text) and not _closed(text[start + 1:end]):  # the last one runs to the end unclosed
        content = text[start + 1:end]
        contents[-1] = content[:-1] if (len(content) - len(content.rstrip("\\"))) % 2 else content
    joined = '","'.join(contents)
    try:
        return json.loads('["' + joined + '"]', strict=False)
    except ValueError:
        pass
    joined = _LONE_BACKSLASH.sub("", joined.replace("\\\\", _PAIR)).replace(_PAIR, "\\\\")
    try:
        return json.loads('["' + joined + '"]', strict=False)
    except ValueError:  # not expected: every escape left is valid; the raw reading still applies
        return contents


def _closed(content: str) -> bool:
    """Whether a literal's text after its opening quote ends with a closing quote (not an escaped one)."""
    if not content.endswith('"'):
        return False
    inner = content[:-1]
    return (len(inner) - len(inner.rstrip("\\"))) % 2 == 0


def _literal_end(text: str, start: int) -> int:
    """The end of the JSON literal opening at ``start`` (after its closing quote), or the text's end."""
    pos = start + 1
    while True:
        quote = text.find('"', pos)
        if quote == -1:
            return len(text)
        piece = text[pos:quote]
        if not piece.endswith("\\") or (len(piece) - len(piece.rstrip("\\"))) % 2 == 0:
            return quote + 1
        pos = quote + 1


def _value_after_key(text: str, key_end: int) -> Span | None:
    """The value of ``"passphrase": value``: a literal, a bare number or word, the first item of a list.  Reads
    only up to the next quote."""
    window_end = text.find('"', key_end)
    if window_end == -1:
        window_end = len(text)
    after = text[key_end:window_end].lstrip(_SPACE)
    if not after.startswith(":"):
        return None
    value = after[1:].lstrip(_SPACE + "[")
    if not value:
        return (window_end, _literal_end(text, window_end), '"' + REDACTED + '"') if window_end < len(text) else None
    length = value.translate(_STOPS).find("\x00")
    start = window_end - len(value)
    end = window_end if length == -1 else start + length
    return (start, end, REDACTED) if end > start else None


def _json_spans(text: str, configured: str, secrets: Sequence[str]) -> list[Span]:
    """Literals whose decoded text holds a secret, and the value after every ``passphrase`` key (at any depth,
    spelt with escapes or not, also as a one-element list, which the parser takes for its element)."""
    spans: list[Span] = []
    keys = []
    literals = json_literals(text)
    if literals:
        decoded = json_texts(text, literals)
        everything = "\x00".join(decoded)  # one look at all of them first: usually nothing is there
        if _holds_secret(everything, secrets):
            spans.extend((start, end, '"' + REDACTED + '"') for (start, end), plain in zip(literals, decoded)
                         if _holds_secret(plain, secrets))
        if KEY in everything:
            keys = [end for (_, end), plain in zip(literals, decoded) if plain == KEY]
    quoted = '"' + KEY + '"'
    found = text.find(quoted)
    while found != -1:
        keys.append(found + len(quoted))
        found = text.find(quoted, found + len(quoted))
    done = 0  # values are read left to right, each character once
    for key_end in sorted(keys):
        if key_end < done:
            continue
        value = _value_after_key(text, key_end)
        if value is not None:
            spans.append(value)
            done = value[1]
    return spans


def _form_spans(text: str, configured: str) -> list[Span]:
    """``key=value`` fields split on ``&`` as a form decoder does (``%XX`` and ``+`` decoded): the value of every
    ``passphrase`` key, and any key or value whose decoded text holds the configured passphrase."""
    if "=" not in text and "%" not in text and "+" not in text:
        return []
    spans: list[Span] = []
    reveal = bool(configured) and _decodes_to(text, configured)  # per field only when the whole text does
    pos = 0
    for field in text.split("&"):
        key, sep, value = field.partition("=")
        if reveal and _decodes_to(key, configured):
            spans.append((pos, pos + len(key), REDACTED))
        if sep and (key == KEY or ("%" in key and _form_text(key) == KEY) or
                    reveal and _decodes_to(value, configured)):
            spans.append((pos + len(key) + 1, pos + len(field), REDACTED))
        pos += len(field) + 1
    return spans


def _form_text(text: str) -> str:
    if "%" not in text and "+" not in text:
        return text
    return urllib.parse.unquote_plus(text)


def _decodes_to(text: str, secret: str) -> bool:
    """Whether decoding ``%XX`` and ``+`` reveals ``secret`` (the raw reading takes the ones spelt as they are)."""
    if "%" not in text and "+" not in text:
        return False
    return secret in urllib.parse.unquote_plus(text.replace(secret, REDACTED))


def multipart_boundary(content_type: str) -> str | None:
    """The boundary of a ``multipart/form-data`` Content-Type, read as Tornado reads it; None for any other type."""
    fields = content_type.split(";")
    if fields[0].strip().lower() != "multipart/form-data":
        return None
    for field in fields[1:]:
        key, _, value = field.strip().partition("=")
        if key == "boundary" and value:
            return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return None


def _multipart_spans(text: str, boundary: str) -> list[Span]:
    """The value of every part named ``passphrase``.  (A part named in RFC 2231 form is hidden through the carried
    value instead: the handler hands over the passphrase Tornado parsed from it.)"""
    spans: list[Span] = []
    delimiter = "--" + boundary
    pos = 0
    for part in text.split(delimiter):
        head_end = part.find("\r\n\r\n")
        if head_end != -1 and KEY in part[:head_end] and _part_name(part[:head_end]) == KEY:
            value_start = pos + head_end + 4
            value_end = pos + len(part) - (2 if part.endswith("\r\n") else 0)
            spans.append((value_start, max(value_start, value_end), REDACTED))
        pos += len(part) + len(delimiter)
    return spans


def _part_name(head: str) -> str | None:
    for line in head.split("\n"):
        header, _, value = line.partition(":")
        if header.strip().lower() != "content-disposition":
            continue
        for param in value.split(";")[1:]:
            key, _, found = param.strip().partition("=")
            if key.strip().lower() == "name":
                found = found.strip()
                return found[1:-1] if len(found) >= 2 and found[0] == found[-1] == '"' else found
    return None


def _holds_secret(text: str, secrets: Sequence[str]) -> bool:
    return any(secret in text for secret in secrets)


# ---------------------------------------------------------------------------------------------------------------
# Redaction


def spans(text: str, content_type: str, secrets: Sequence[str]) -> list[Span]:
    """Every stretch of ``text`` that a reading wants hidden and that is not hidden already.  ``secrets[0]`` is the
    configured passphrase: only it is looked for in decoded form fields (a guess is hidden by its key)."""
    configured = secrets[0] if secrets else ""
    found = [*_json_spans(text, configured, secrets), *_form_spans(text, configured)]
    boundary = multipart_boundary(content_type)
    if boundary:
        found.extend(_multipart_spans(text, boundary))
    return [span for span in found if text[span[0]:span[1]] != span[2]]


def apply(text: str, found: Iterable[Span]) -> str:
    """``text`` with every span replaced; a span overlapping an earlier one widens it (the earlier replacement
    stands for both)."""
    out: list[str] = []
    pos = 0
    for start, end, replacement in sorted(found):
        if start < pos:
            pos = max(pos, end)
            continue
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out)


ROUNDS = 3  # a replacement can move a literal's quotes or a field's '&': the next round reads the result again


def _reads_alike(raw: bytes, content_type: str, limit: int) -> bool:
    """Whether ``json.loads`` of ``raw`` as ``redact`` decodes it gives what ``args.parse_body`` gave the handler:
    the whole body, ASCII without NUL (both read it as the same text), an object with nothing around it (which
    parse_body's strip would have cut), and not multipart (which parse_body leaves to Tornado)."""
    return (len(raw) <= limit and raw[:1] == b"{" and raw[-1:] == b"}" and raw.isascii() and b"\x00" not in raw
            and not is_multipart(content_type))


def redact(raw: bytes, content_type: str = "", secrets: Sequence[str] = (), limit: int = 64 * 1024,
           parsed: dict[str, Any] | None = None) -> str:
    """The body as text with the passphrase hidden: the value of every ``passphrase`` key (JSON at any depth, a
    form, a multipart part) becomes ``***``, and so does every spelling of a secret that a JSON or form decoder
    would read: a string literal with ``\\u`` escapes, a ``%XX``/``+`` form field, the raw text.  ``secrets`` are
    the configured passphrase first, then the values the request carried.

    A JSON object is re-serialized with its top-level passphrase hidden, as the log always showed it (unless it is
    too deep for that); any other body keeps its own spelling.  ``parsed``: the object the handler read from
    ``raw`` (``args.parse_body``), used instead of reading it again where both readings are the same.
    """
    text = raw[:limit].decode("utf-8", "replace")
    secrets = [secret for secret in dict.fromkeys(secrets) if secret]
    if parsed is not None and _reads_alike(raw, content_type, limit):
        body: Any = dict(parsed)  # the handler's own stays as it is
    else:
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the interpreter's limit
            body = None
    if isinstance(body, dict):
        if KEY in body:
            body[KEY] = REDACTED
        try:
            text = json.dumps(body)
        except (ValueError, RecursionError):
            pass
    for _ in range(ROUNDS):
        found = spans(text, content_type, secrets)
        redacted = apply(text, found) if found else text
        for secret in secrets:
            redacted = redacted.replace(secret, REDACTED)
        if redacted == text:
            return text
        text = redacted
        content_type = ""  # the parts' values are hidden; a replacement may have cut a delimiter
    return WITHHELD


# ---------------------------------------------------------------------------------------------------------------
# Recording


def secrets_of(configured: str, carried: Any) -> list[str]:
    """What the log must not show: the configured passphrase and the one(s) this request carried, as parsed.

    A carried value shorter than ``MIN_SECRET`` is not a secret worth hiding everywhere (nor the configured one
    misspelt): replacing every ``e`` of a body would make its row unreadable.  Its field is still hidden by its key.
    """
    found = [configured] if configured else []
    for value in carried if isinstance(carried, list) else [carried]:
        if isinstance(value, str) and len(value) >= MIN_SECRET and value not in found:
            found.append(value)
        if len(found) > MAX_CARRIED:
            break
    return found


def answer_text(body: Any, limit: int = 500) -> str | None:
    """The reason a JSON answer gave (its ``message``, plus ``detail`` when there is one), for the log's page."""
    if not isinstance(body, dict) or "message" not in body:
        return None
    message = body["message"]
    text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
    if isinstance(body.get("detail"), str):
        text += f" ({body['detail']})"
    return text[:limit]


@dataclasses.dataclass(frozen=True)
class Delivery:
    """What the handler knows of one finished request to a passphrase route."""

    received: dt.datetime
    peer: str
    method: str
    route: str
    content_type: str | None
    size: int
    status: int
    body: bytes | None  # None: refused for its size before it was read
    message: str | None
    secrets: Sequence[str]
    parsed: dict[str, Any] | None = None  # the body as the handler read it (JSON), when it did


COLUMNS = ("received", "peer", "method", "route", "content_type", "size", "status", "body", "message")


def row(delivery: Delivery) -> dict[str, Any]:
    """The ``delivery_log`` row: texts cut to their columns, the body redacted."""
    body = None
    if delivery.body is not None:
        try:
            body = redact(delivery.body, delivery.content_type or "", delivery.secrets, parsed=delivery.parsed)
        except Exception:  # the row is kept whatever the body; the body only when it is surely hidden
            log.exception("delivery log: the body of a %s %s could not be redacted", delivery.method, delivery.route)
            body = WITHHELD
    return {
        "received": delivery.received,
        "peer": delivery.peer[:64],
        "method": delivery.method[:10],
        "route": delivery.route[:200],
        "content_type": delivery.content_type[:200] if delivery.content_type else None,
        "size": delivery.size,
        "status": delivery.status,
        "body": body,
        "message": delivery.message,
    }


def entry(*, peer: str, method: str, route: str, content_type: str | None, size: int, status: int,
          body: bytes | None, answer: Any, configured: str, carried: Any, parsed: Any = None) -> dict[str, Any]:
    """The row of a finished request to a passphrase route, received now: ``answer`` is the JSON answer sent (its
    message is kept), ``configured`` the webhook passphrase and ``carried`` the passphrase(s) the request's values
    held, both hidden from the body; ``parsed``: the body as the handler already read it as JSON, if it did."""
    return row(Delivery(received=utcnow(), peer=peer, method=method, route=route, content_type=content_type or None,
                        size=size, status=status, body=body, message=answer_text(answer),
                        secrets=secrets_of(configured, carried), parsed=parsed))


_INSERT = PreparedQuery(lambda: DeliveryLog.insert(**{key: None for key in COLUMNS}))


@Writer.alone_on_sqlite  # one INSERT
def record_tx(values: dict[str, Any]) -> None:
    """One row per passphrase request (in the writer): SQL prepared once, this runs for every webhook."""
    fields = DeliveryLog._meta.fields
    _INSERT.execute(fields[key].db_value(values[key]) for key in COLUMNS)


# ---------------------------------------------------------------------------------------------------------------
# Retention


def purge_tx(days: int, now: dt.datetime) -> int:
    """Delete the rows received more than ``days`` days before ``now`` (naive UTC); returns how many."""
    if days <= 0:
        return 0  # 0 or less: keep everything
    return DeliveryLog.delete().where(DeliveryLog.received < now - dt.timedelta(days=days)).execute()
