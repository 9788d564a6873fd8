"""Schemathesis hooks for the fuzz run of tests/test_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

Every generated request gets a fresh admin token (a fuzzed POST /v4/logout revokes the token it was sent with, and
a fuzzed PUT /v4/user may change the admin's password, so one shared token would turn the rest of the run into 401s) and, where the body has one, the real passphrase, so
the fuzzer gets past authentication and reaches the parsing and storage code behind it.
"""

from __future__ import annotations

import os
import sqlite3

import schemathesis

from pairs import auth

SECRET = os.environ["FUZZ_JWT_SECRET"]
PASSPHRASE = os.environ["FUZZ_PASSPHRASE"]
DATABASE = os.environ["FUZZ_DATABASE"]


def admin_stamp() -> str | None:
    """The admin's token stamp, read for every case: a fuzzed PUT /v4/user may change the admin's password (and a
    fuzzed DELETE may remove the admin once it made another one: then the token is refused, as before)."""
    with sqlite3.connect(DATABASE) as conn:
        row = conn.execute("SELECT token_stamp FROM users WHERE username = 'admin'").fetchone()
    conn.close()
    return row[0] if row else None


@schemathesis.hook
def map_case(context, case):
    kind = "refresh" if case.path == "/v4/refresh" else "access"
    token = auth.make_token(SECRET, "admin", kind, True, True, stamp=admin_stamp())
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    if isinstance(case.body, dict) and "passphrase" in case.body:
        case.body = {**case.body, "passphrase": PASSPHRASE}
    return case
