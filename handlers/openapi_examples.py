"""Example requests and answers for every operation of the API description (issue 13), shown on ``/docs``.

Most are derived from the operation's own schemas, with realistic values by field name (a TradingView ticker
equation for ``ticker``, a status for ``order_status``), so a new route gets its examples without a line here;
the few whose derived example would not tell the story (TradingView's alert, the bridge's fill) are written out in
``REQUESTS``.  A test validates every example against its schema, and the schemathesis run sends the request
examples (its ``examples`` phase).
"""

from __future__ import annotations

from typing import Any

from pairs.vocab import Activity, OrderStatus

# Field name -> a value a real client would send or get (types are checked against the schema by the tests).
VALUES: dict[str, Any] = {
    "passphrase": "webhook", "ticker": "NYSE:LNT-1.25*NYSE:FTS", "order_action": "buy", "order_contracts": 100,
    "order_price": 1.52, "mar_pos": "long", "mar_pos_size": 100, "pre_mar_pos": "flat", "pre_mar_pos_size": 0,
    "order_comment": "Enter Long", "order_status": OrderStatus.WAITING, "ticker_type": "pair", "ticker1": "LNT",
    "ticker2": "FTS", "hedge_param": 1.25, "hedge": 1.25, "order_id1": 1001, "order_id2": 1002, "order_id": 1001,
    "price1": 68.44, "price2": 53.54, "price": 68.44, "filled_qty": 100.0, "fill_price": 1.51, "slip": 0.01,
    "error_msg": "", "status_msg": "", "symbol": "LNT", "sectype": "STK", "xch": "SMART", "prixch": "NYSE",
    "currency": "USD", "order_type": "RELATIVE", "active": Activity.ACTIVE, "status": Activity.ACTIVE,
    "name": "LNT-FTS", "notes": "utilities",
    "contracts": 100, "username": "trader", "password": "correct horse battery staple", "expire": 10,
    "timestamp": "2026-11-24 14:30:00", "rowid": 1, "message": "'signal' created successfully.",
    "access_token": "eyJhbGciOiJIUzI1NiJ9.<claims>.<signature>", "refresh_token": "eyJhbGciOiJIUzI1NiJ9.<claims>.<sig>",
    "error": "token_expired", "AvailableFunds": 48210.55, "BuyingPower": 192842.2, "DailyPnL": 41.3,
    "GrossPositionValue": 3636.7, "MaintMarginReq": 909.2, "NetLiquidation": 50262.18, "RealizedPnL": 41.3,
    "UnrealizedPnL": 0.32, "active_pos": -10.0, "active_pnl": -2.2, "active_cost": 183.35, "act_price": 2.99,
    "sma": 1.63, "sma_dist": -1.36, "std": 0.91, "zscore": 1.5, "hedge_ols": 2.64, "coint_pvalue": 0.21,
}

# (method, path) -> the request body a real client sends, where the derived one would not show it
REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v4/webhook"): {  # the TradingView alert template (Appendix A)
        "passphrase": "webhook", "ticker": "NYSE:LNT-1.25*NYSE:FTS", "order_action": "buy", "order_contracts": 100,
        "order_price": 1.52, "mar_pos": "long", "mar_pos_size": 100, "pre_mar_pos": "flat", "pre_mar_pos_size": 0,
        "order_comment": "Enter Long"},
    ("put", "/v4/signal/order"): {  # the bridge's cumulative fill of one leg
        "passphrase": "webhook", "order_id": 1001, "symbol": "LNT", "price": 68.44, "filled_qty": 100.0},
    ("post", "/v4/login"): {"username": "admin", "password": "correct horse battery staple", "expire": 10},
    ("put", "/v4/ticker/pnl"): {"passphrase": "webhook", "symbol": "LNT", "active_pos": 100.0, "active_pnl": 12.5,
                                "active_cost": 68.44},
}


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def example(schema: dict[str, Any], schemas: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A value that the schema accepts, as realistic as the field's name allows."""
    schema = _resolve(schema, schemas)
    if "anyOf" in schema:
        choices = [c for c in schema["anyOf"] if _types(_resolve(c, schemas)) != ["null"]] or schema["anyOf"]
        return example(choices[0], schemas, name, depth)
    if "enum" in schema:
        return VALUES[name] if VALUES.get(name) in schema["enum"] else schema["enum"][0]
    types = [t for t in _types(schema) if t != "null"] or ["null"]
    kind = "object" if "properties" in schema else types[0]
    if kind == "object":
        if depth > 3:
            return {}
        value = {key: example(sub, schemas, key, depth + 1) for key, sub in schema.get("properties", {}).items()}
        return {**{key: {} for key in schema.get("required", ()) if key not in value}, **value}
    if kind == "array":
        return [example(schema.get("items", {}), schemas, name, depth + 1)]
    known = VALUES.get(name)
    fits = {
        "boolean": isinstance(known, bool),
        "integer": isinstance(known, int) and not isinstance(known, bool),
        "number": isinstance(known, (int, float)) and not isinstance(known, bool),
        "string": isinstance(known, str) and len(known) <= schema.get("maxLength", len(known or "")),
    }
    if fits.get(kind):
        return known
    return {"string": "text", "integer": 1, "number": 1.5, "boolean": False}.get(kind)


def add_examples(document: dict[str, Any]) -> dict[str, Any]:
    """Puts an example request body and an example success answer on every operation of ``document``."""
    schemas = document["components"]["schemas"]
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                value = REQUESTS.get((method, path)) or {
                    k: v for k, v in example(body["schema"], schemas).items()
                    if k in _resolve(body["schema"], schemas).get("required", ()) or k in VALUES}
                body["examples"] = {"example": {"summary": "a typical request", "value": value}}
            success = min((s for s in operation["responses"] if s.startswith("2")), default=None)
            media = operation["responses"].get(success, {}).get("content", {}).get("application/json")
            if media is not None:
                media["examples"] = {"example": {"summary": f"a {success} answer",
                                                 "value": example(media["schema"], schemas)}}
    return document
