"""The API's description (OpenAPI 3.1, served as `GET /v4/openapi.json` and rendered by `/docs`), and the pages'.

Both are generated from the route table (handlers/routes.py), which also builds the Application's URL rules, so
the description cannot fall behind the code: request bodies are the very ``Arg`` tables the handlers parse, the
security is the access the handlers enforce, response shapes come from the models' JSON keys and column types.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import peewee

from handlers.base import SESSION_COOKIE, Access
from handlers.openapi_examples import add_examples
from pairs import __version__, continuity, screener
from pairs.args import ABSENT, Arg
from pairs.continuity import FINDING_KEYS
from pairs.db import Account, Pair, Signal, Ticker
from pairs.wire import ACCOUNT_KEYS, PAIR_KEYS, SIGNAL_KEYS, TICKER_KEYS

if TYPE_CHECKING:  # the table imports the handlers, one of which serves this document
    from handlers.routes import Route

# ---------------------------------------------------------------------------------------------------------------
# Path parameters

COUNT = "number_of_items"
PATH_PARAMETERS = {
    COUNT: "How many, newest first; 0 means all (anonymous callers get at most the route's cap).",
    "number_of_users": "How many users, newest first; 0 means all.",
    "symbol": "A ticker symbol as registered, e.g. AAPL or BF.A.",
    "name": "A pair's name: ticker1-ticker2.",
    "rowid": "The row id.",
    "username": "A user name.",
    "order_status": "A signal status, e.g. waiting, filled, error (SPEC §6.7).",
    "ticker_name": "A ticker equation as stored in signals.",
}

NUMERIC_PARAMETERS = {COUNT, "number_of_users", "rowid"}  # anything else is a 400 (a 404 for rowid)

# ---------------------------------------------------------------------------------------------------------------
# JSON schemas


def _nullable(kind: str) -> list[str]:
    return [kind, "null"]


def column_schema(field: peewee.Field) -> dict[str, Any]:
    if isinstance(field, peewee.DateTimeField):
        return {"type": "string", "description": "YYYY-MM-DD HH:MM:SS (UTC), or \"None\" when not set"}
    if isinstance(field, (peewee.IntegerField, peewee.AutoField)):
        kind = "integer"
    elif isinstance(field, peewee.FloatField):
        kind = "number"
    else:
        kind = "string"
    return {"type": _nullable(kind) if field.null else kind}


def row_schema(model: type[peewee.Model], keys: Sequence[str]) -> dict[str, Any]:
    fields = {f.name: f for f in model._meta.sorted_fields}
    return {"type": "object", "required": list(keys),
            "properties": {k: column_schema(fields[k]) for k in keys}}


ARG_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "datetime": "string"}


def arg_schema(arg: Arg) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ARG_TYPES[arg.type]}
    if arg.type == "datetime":
        schema["description"] = "YYYY-MM-DD HH:MM:SS, optional fraction, T separator and Z or ±HH:MM offset"
    if arg.type == "int":
        schema.update(minimum=-(2**31), maximum=2**31 - 1)
    if arg.max_length:
        schema["maxLength"] = arg.max_length
    if arg.default is not ABSENT and arg.default is not None:
        schema["default"] = arg.default
    notes = [text for text in (arg.description, arg.help) if text]
    if notes:
        schema["description"] = "; ".join([schema.get("description", ""), *notes]).lstrip("; ")
    return schema


def body_schema(args: Sequence[Arg]) -> dict[str, Any]:
    return {"type": "object", "properties": {a.name: arg_schema(a) for a in args},
            "required": [a.name for a in args if a.required]}


def components() -> dict[str, Any]:
    signal = row_schema(Signal, SIGNAL_KEYS)
    message = {"type": "object", "required": ["message"], "properties": {"message": {
        "description": "a text, or {field: text} for a field error",
        "anyOf": [{"type": "string"}, {"type": "object", "additionalProperties": {"type": "string"}}]},
        "detail": {"type": "string", "description": "with a malformed JSON body: what was wrong, e.g. `invalid JSON "
                   "at line 1 column 22: Expecting value` (SPEC A.3)"}}}

    def listing(key: str, item: str, with_limit: bool = False) -> dict[str, Any]:
        schema = {"type": "object", "required": [key],
                  "properties": {key: {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}}}}
        if with_limit:
            schema["required"].append("notoken_limit")
            schema["properties"]["notoken_limit"] = {"type": "integer"}
        return schema

    finding = {"type": "object", "required": list(FINDING_KEYS), "properties": {
        "id": {"type": "integer"}, "signal_rowid": {"type": "integer", "description": "the signal found"},
        "previous_rowid": {"type": "integer", "description": "the alert it was checked against"},
        "kind": {"enum": [continuity.GAP, continuity.DUPLICATE]},
        "name": {"type": "string", "description": "the ticker (LNT) or pair (LNT-FTS)"},
        "expected_pos": {"type": "string", "description": "the previous alert's mar_pos"},
        "expected_size": {"type": "integer", "description": "the previous alert's mar_pos_size"},
        "actual_pos": {"type": "string", "description": "this alert's pre_mar_pos"},
        "actual_size": {"type": "integer", "description": "this alert's pre_mar_pos_size"},
        "found": {"type": "string"}, "reviewed": {"type": "boolean"},
        "reviewed_by": {"type": ["string", "null"]}, "reviewed_at": {"type": ["string", "null"]}}}
    account_echo = row_schema(Account, ACCOUNT_KEYS)
    account_echo["description"] = "the request's values as given; rowid as sent (the newest record's for 0)"
    account_item = row_schema(Account, ACCOUNT_KEYS)
    account_item["required"].append("signals")
    account_item["properties"]["signals"] = {
        "type": "array", "maxItems": 1, "items": {"$ref": "#/components/schemas/Account"},
        "description": "the newest record (the v4.0 list route's answer, read by the pairs-ibkr bridge)"}
    return {
        "Message": message,
        "MessageWithSignals": {
            "type": "object", "required": ["message", "signals"],
            "properties": {"message": {"type": "string"}, "signals": {"type": "array", "maxItems": 1, "items": {}}},
            "description": "a message plus `signals`, which the pairs-ibkr bridge reads from every list answer and "
                           "from /v4/pnl/1 (an empty list, or the newest account record)"},
        "TokenError": {"type": "object", "required": ["error", "message"],
                       "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
        "Tokens": {"type": "object", "required": ["access_token", "refresh_token", "expire"],
                   "properties": {"access_token": {"type": "string"}, "refresh_token": {"type": "string"},
                                  "expire": {"type": "integer"}}},
        "RefreshedTokens": {"type": "object", "required": ["access_token", "refresh_token"],
                            "properties": {"access_token": {"type": "string"},
                                           "refresh_token": {"type": "string"}}},
        "Username": {"type": "object", "required": ["username"], "properties": {"username": {"type": "string"}}},
        "UserList": {"type": "object", "required": ["users"], "properties": {"users": {
            "type": "array", "items": {"$ref": "#/components/schemas/Username"}}}},
        "Signal": signal,
        "SignalWithoutTimestamp": row_schema(Signal, [k for k in SIGNAL_KEYS if k != "timestamp"]),
        "SignalList": listing("signals", "Signal", with_limit=True),
        "SignalStatusList": listing("signals", "Signal"),
        "Ticker": row_schema(Ticker, TICKER_KEYS),
        "TickerList": listing("tickers", "Ticker"),
        "Pair": row_schema(Pair, PAIR_KEYS),
        "PairList": listing("pairs", "Pair"),
        "Account": row_schema(Account, ACCOUNT_KEYS),
        "AccountEcho": account_echo,
        "AccountItem": account_item,
        "PnlList": listing("pnls", "Account", with_limit=True),
        "Health": {"type": "object", "required": ["status", "version", "time", "database", "price_job", "bridge"],
                   "properties": {
                       "status": {"enum": ["ok", "unavailable"]}, "version": {"type": "string"},
                       "time": {"type": "string"},
                       "database": {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}},
                       "price_job": {"type": ["object", "null"], "description": "the newest job_runs row"},
                       "bridge": {"type": "object", "properties": {"last_seen": {"type": ["string", "null"]}}}}},
        "OpenAPI": {"type": "object", "required": ["openapi", "info", "paths"]},
        "Finding": finding,
        "FindingList": {"type": "object", "required": ["findings", "open"], "properties": {
            "findings": {"type": "array", "items": _ref("Finding")}, "open": {"type": "integer"}}},
        "ScreenerPair": row_schema(screener.ScreenerResult, screener.RESULT_KEYS),
        "Screener": {"type": "object", "required": ["run", "pairs", "running"], "properties": {
            "run": {"anyOf": [{"type": "null"}, row_schema(screener.ScreenerRun, screener.RUN_KEYS)]},
            "pairs": {"type": "array", "items": {"$ref": "#/components/schemas/ScreenerPair"}},
            "running": {"anyOf": [{"type": "null"}, {
                "type": "object", "required": ["job", "step", "done", "total"],
                "properties": {"job": {"type": ["integer", "null"]}, "step": {"type": "string"},
                               "done": {"type": "integer"}, "total": {"type": "integer"}}}]}}},
        "ScreenerStarted": {"type": "object", "required": ["message", "job"],
                            "properties": {"message": {"type": "string"}, "job": {"type": "integer"}}},
    }


SECURITY_SCHEMES = {
    "bearerJWT": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                  "description": "An access token from POST /v4/login (a refresh token for POST /v4/refresh). "
                                 "Routes marked fresh need a token from a login within its `expire` minutes."},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                      "description": "The dashboard's login session. Writes with it also need the XSRF token."},
    "xsrfToken": {"type": "apiKey", "in": "header", "name": "X-XSRFToken",
                  "description": "The value of the `_xsrf` cookie (or an `_xsrf` body field), required with the "
                                 "session cookie on POST, PUT and DELETE; not needed with a bearer token."},
    "webhookPassphrase": {"type": "apiKey", "in": "query", "name": "passphrase",
                          "description": "The webhook passphrase, normally the `passphrase` field of the JSON "
                                         "body (the body wins over the query string)."},
}

TOKEN_AUTH = [{"bearerJWT": []}, {"sessionCookie": [], "xsrfToken": []}]
SECURITY = {Access.PUBLIC: [], Access.OPTIONAL_TOKEN: [{}, *TOKEN_AUTH], Access.TOKEN: TOKEN_AUTH,
            Access.FRESH_TOKEN: TOKEN_AUTH, Access.ADMIN: TOKEN_AUTH, Access.REFRESH_TOKEN: [{"bearerJWT": []}],
            Access.PASSPHRASE: [{"webhookPassphrase": []}]}
ERROR_TEXT = {400: "bad input: a field error or an unusable body", 401: "not authenticated or not allowed",
              403: "refused: missing XSRF token, or a source address not on the allowlist",
              404: "no such item", 413: "the body is larger than the limit", 429: "too many failed logins",
              409: "a run is already in progress", 500: "the database failed; the list is empty"}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def operation_object(op: Route, deprecated: bool = False) -> dict[str, Any]:
    params = re.findall(r"{(\w+)}", op.path)
    errors = {400, 413, *op.errors}
    token = op.access not in (Access.PUBLIC, Access.PASSPHRASE)
    if token:
        errors.add(401)
        if op.method != "GET":
            errors.add(403)  # the XSRF check of a write with the session cookie (A.5)
    if op.access is Access.PASSPHRASE:
        errors.add(op.wrong_passphrase[0])  # how this route answers a wrong passphrase (401, or the original's 400)
    if params:
        errors.add(404)
    responses: dict[str, Any] = {}
    for status, name in sorted(op.ok.items()):
        responses[str(status)] = _json(_ref(name), "success" if status < 300 else "unavailable")
    for status in sorted(errors - set(op.ok)):
        schema = ({"anyOf": [_ref("TokenError"), _ref("Message")]} if status == 401 and token
                  else _ref(op.error_schemas.get(status, "Message")))
        responses[str(status)] = _json(schema, ERROR_TEXT[status])
    if 429 in errors:
        responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "string"},
                                                       "description": "seconds to wait"}}
    out: dict[str, Any] = {
        "operationId": _operation_id(op.method, op.path),
        "summary": op.summary,
        "tags": [op.tag],
        "security": SECURITY[op.access],
        "responses": responses,
    }
    if op.description:
        out["description"] = op.description
    query = op.args if op.method == "GET" else ()
    if params or query:
        out["parameters"] = [*({"name": p, "in": "path", "required": True, "description": PATH_PARAMETERS.get(p, ""),
                                "schema": {"type": "string", "pattern": "^[0-9]+$"} if p in NUMERIC_PARAMETERS else
                                {"type": "string"}} for p in params),
                             *({"name": a.name, "in": "query", "required": a.required, "schema": arg_schema(a)}
                               for a in query)]
    if op.args and not query:
        out["requestBody"] = {"required": any(a.required for a in op.args),
                              "content": {"application/json": {"schema": body_schema(op.args)}},
                              "description": "JSON (any Content-Type); form fields and the query string are read "
                                             "too, the JSON body wins."}
    if deprecated:
        out["deprecated"] = True
        out["operationId"] += "_legacy"
    return out


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path).strip("/").replace("/", "_").replace(".", "_").replace("-", "_")
    return f"{method.lower()}_{words}"


# ---------------------------------------------------------------------------------------------------------------
# The documents


def build_document(rows: Sequence[Route], server_url: str = "/") -> dict[str, Any]:
    """The API's rows (those with a tag), each legacy alias as a deprecated operation of its own."""
    operations = [row for row in rows if row.tag]
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        for path, legacy in ((op.path, False), *((alias, True) for alias in op.aliases)):
            paths.setdefault(path, {})[op.method.lower()] = operation_object(dataclasses.replace(op, path=path), legacy)
    return add_examples({
        "openapi": "3.1.0",
        "info": {"title": "pairs", "version": __version__,
                 "description": "Trading-signal server, wire-compatible with pairs-api v4.1 (see SPEC.md). "
                                "Every answer is JSON. Bad input gets a 4xx with a message, never a 5xx."},
        "servers": [{"url": server_url}],
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in operations)],
        "paths": paths,
        "components": {"schemas": components(), "securitySchemes": SECURITY_SCHEMES},
    })


# ---------------------------------------------------------------------------------------------------------------
# The dashboard's pages: HTML, so not in the API's document (whose every answer is JSON), but described from the
# same Arg tables for the fuzz run (tests/test_fuzz.py), so their query and form arguments meet the fuzzer too.


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def page_operation(method: str, path: str, args: Sequence[Arg]) -> dict[str, Any]:
    responses = {"200": _html("the page"), "400": _html("a bad argument: an error page"),
                 "401": _html("a bad bearer token"), "413": _html("the body is larger than the limit"),
                 "302": {"description": "to the login form, or where a form goes next",
                         "headers": {"Location": {"schema": {"type": "string"}, "required": True}}}}
    out: dict[str, Any] = {"operationId": _operation_id(method, path if path != "/" else "/root"),
                           "security": [{}, {"bearerJWT": []}, {"sessionCookie": []}], "responses": responses}
    in_path = re.findall(r"{(\w+)}", path)
    if in_path:
        responses["404"] = _html("no such row")
    if method == "GET":
        out["parameters"] = [*({"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                               for p in in_path),
                             *({"name": a.name, "in": "query", "required": a.required, "schema": arg_schema(a)}
                               for a in args)]
        return out
    responses["403"] = _html("the XSRF token is missing")
    if path == "/login":
        responses["429"] = _html("too many failed logins")
    form = body_schema((Arg("_xsrf", "str", required=True, description="the _xsrf cookie's value"), *args))
    out["requestBody"] = {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}}
    return out


def build_pages_document(rows: Sequence[Route], server_url: str = "/") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.is_page:
            paths.setdefault(row.path, {})[row.method.lower()] = page_operation(row.method, row.path, row.args)
    return {"openapi": "3.1.0", "servers": [{"url": server_url}], "paths": paths,
            "info": {"title": "pairs dashboard pages", "version": __version__,
                     "description": "The HTML pages' query and form arguments (not an API: every answer is HTML)."},
            "components": {"securitySchemes": SECURITY_SCHEMES}}
