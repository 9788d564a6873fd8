"""Every operation of /v4/openapi.json carries an example request body (when it takes one) and an example success
answer, each valid against its own schema (issue 13: /docs shows them; schemathesis sends the request examples)."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest


def _validator(schema: dict, document: dict):
    return jsonschema_rs.validator_for({**schema, "components": document["components"]})


@pytest.mark.gen_test
async def test_every_operation_has_valid_examples(api):
    document = (await api.get("/v4/openapi.json")).json
    checked = 0
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                value = body["examples"]["example"]["value"]
                errors = [e.message for e in _validator(body["schema"], document).iter_errors(value)]
                assert errors == [], f"{where} request example: {errors}"
                checked += 1
            success = min(s for s in operation["responses"] if s.startswith("2"))
            media = operation["responses"][success]["content"]["application/json"]
            value = media["examples"]["example"]["value"]
            errors = [e.message for e in _validator(media["schema"], document).iter_errors(value)]
            assert errors == [], f"{where} {success} example: {errors}"
            checked += 1
    assert checked > 40


@pytest.mark.gen_test
async def test_the_webhook_example_is_tradingviews_alert_and_the_answers_look_real(api):
    document = (await api.get("/v4/openapi.json")).json
    post = document["paths"]["/v4/webhook"]["post"]
    alert = post["requestBody"]["content"]["application/json"]["examples"]["example"]["value"]
    assert alert["ticker"] == "NYSE:LNT-1.25*NYSE:FTS" and alert["order_action"] == "buy"
    signal = document["paths"]["/v4/signal/{rowid}"]["get"]["responses"]["200"]["content"]["application/json"]
    shown = signal["examples"]["example"]["value"]
    assert (shown["ticker"], shown["order_status"], shown["hedge_param"]) == ("NYSE:LNT-1.25*NYSE:FTS", "waiting", 1.25)
    assert json.dumps(shown)  # plain JSON
