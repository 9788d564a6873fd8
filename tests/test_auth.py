"""The pure rules of pairs/auth.py (SPEC §4 with A.5, issue 9): the login throttle, usernames, the dummy hash;
passwords, the passphrase, token claims and expiry, the bearer header. Every time is a fixed number or an injected
clock (the real clock only where a token must be valid or expired now). `make mutate` runs these against auth.py."""

from __future__ import annotations

import jwt
import pytest

from pairs import auth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(**kw) -> tuple[auth.LoginThrottle, Clock]:
    clock = Clock()
    return auth.LoginThrottle(clock=clock, **kw), clock


def test_a_username_failing_from_many_addresses_is_slowed_never_refused():
    limiter, _ = throttle(max_failures=5, slowdown=2.0)
    for n in range(50):
        limiter.failed("admin", f"203.0.113.{n}")
    assert limiter.retry_after("admin", "198.51.100.9") == 0
    assert limiter.delay("admin") == 2.0
    assert limiter.delay("user1") == 0.0


@pytest.mark.parametrize("failures, same_name, expected_locked", [
    (4, True, False),
    (5, True, True),  # per (username, address)
    (19, False, False),
    (20, False, True),  # per address, whatever the usernames
])
def test_refusals_count_per_username_and_address_and_per_address(failures, same_name, expected_locked):
    limiter, _ = throttle(max_failures=5, max_address_failures=20)
    for n in range(failures):
        limiter.failed("admin" if same_name else f"name{n}", "203.0.113.1")
    assert (limiter.retry_after("admin", "203.0.113.1") > 0) is expected_locked
    assert limiter.retry_after("admin", "203.0.113.2") == 0


def test_a_lockout_ends_with_its_window_and_a_success_clears_only_its_own_address():
    limiter, clock = throttle(max_failures=5, window=300)
    for _ in range(5):
        limiter.failed("admin", "a")
        limiter.failed("admin", "b")
    assert limiter.retry_after("admin", "a") == 301
    limiter.succeeded("admin", "b")
    assert (limiter.retry_after("admin", "a"), limiter.retry_after("admin", "b")) == (301, 0)
    clock.now += 300
    assert limiter.retry_after("admin", "a") == 0


def test_the_memory_is_bounded_by_evicting_the_oldest_records_not_by_forgetting_all():
    """Issue 9 item 6: at 100,000 records every record was wiped, which lifted every lockout."""
    limiter, clock = throttle(max_failures=5, max_records=30)
    for _ in range(5):
        limiter.failed("admin", "old")  # the oldest records
    clock.now += 1
    for _ in range(5):
        limiter.failed("admin", "recent")
    assert limiter.retry_after("admin", "old") and limiter.retry_after("admin", "recent")
    assert len(limiter) == 5  # (admin, old), old, (admin, recent), recent, admin
    for n in range(9):  # 3 records per new name and address: 5 + 27 > 30
        clock.now += 1
        limiter.failed(f"name{n}", f"198.51.100.{n}")
    assert len(limiter) == 30
    assert limiter.retry_after("admin", "old") == 0  # evicted: it failed longest ago
    assert limiter.retry_after("admin", "recent") > 0  # kept


def test_the_default_bound_keeps_recent_lockouts_through_a_flood():
    """A flood of distinct names and addresses used to wipe all records, which lifted a lockout made just before."""
    limiter, _ = throttle()
    for n in range(55_000):  # 3 records each: far more than the 100,000 kept
        if n == 49_000:
            for _ in range(5):
                limiter.failed("admin", "198.51.100.1")
        limiter.failed(f"u{n}", f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}")
    assert len(limiter) == 100_000
    assert limiter.retry_after("admin", "198.51.100.1") > 0


def test_one_record_keeps_no_more_failure_times_than_a_limit_needs():
    limiter, _ = throttle(max_failures=5, max_address_failures=20)
    for _ in range(1000):
        limiter.failed("admin", "a")
    assert max(len(stamps) for stamps in limiter._failures.values()) == 20


@pytest.mark.parametrize("username, ok", [
    ("admin", True), ("a", True), ("x" * 64, True), ("two words", True), ("Ünïcødé", True),
    ("", False), (" admin", False), ("admin ", False), ("x" * 65, False), ("tab\there", False),
    ("new\nline", False), ("nul\x00", False), ("\u200b", False), ("\u00a0admin", False),
])
def test_usernames_are_1_to_64_printable_characters_without_outer_spaces(username, ok):
    assert auth.username_ok(username) is ok


@pytest.mark.parametrize("rounds", [4, 6])
def test_the_dummy_hash_has_the_configured_cost_and_is_made_once(rounds):
    """Issue 9 item 7: an unknown user cost bcrypt 4 while real users cost 12; both now cost the configured work."""
    dummy = auth.dummy_hash(rounds)
    assert dummy.startswith(f"$2b$0{rounds}$") and auth.is_hashed(dummy)
    assert auth.dummy_hash(rounds) is dummy


def test_verify_password_checks_the_dummy_hash_for_an_unknown_user(monkeypatch):
    checked = []
    original = auth.check_password
    monkeypatch.setattr(auth, "check_password", lambda stored, given: checked.append(stored) or original(
        stored, given))
    assert auth.verify_password(None, "password", 4) is False
    assert checked == [auth.dummy_hash(4)]
    stored = auth.hash_password("password", 4)
    assert auth.verify_password(stored, "password", 4) is True
    assert checked[-1] == stored


# ---------------------------------------------------------------------------------------------------------------
# Passwords, the passphrase, tokens

SECRET = "s" * 40
NOW = 1_600_000_000.0  # 2020-09-13 12:26:40 UTC: in the past, as pyjwt checks iat against the clock
PASSPHRASE = "webhook"


@pytest.mark.parametrize("password, too_long", [
    ("x" * 72, False), ("x" * 73, True), ("é" * 36, False), ("é" * 37, True), ("", False),
])
def test_password_too_long_counts_utf8_bytes(password: str, too_long: bool) -> None:
    assert auth.password_too_long(password) is too_long


def test_hash_and_check_password() -> None:
    assert auth.hash_password("x").startswith("$2b$12$")  # the default cost (about 0.3 s)
    hashed = auth.hash_password("correct horse", rounds=4)
    assert hashed.startswith("$2b$04$") and len(hashed) == 60 and auth.is_hashed(hashed)
    assert auth.check_password(hashed, "correct horse") is True
    assert auth.check_password(hashed, "correct hors") is False
    assert auth.check_password(hashed, "x" * 73) is False  # over bcrypt's limit: wrong, never an exception


@pytest.mark.parametrize("stored, given, ok", [
    ("plain", "plain", True),  # the original kept plain text (A.1.4)
    ("plain", "plai", False),
    ("plain", "plain!", False),
    ("plain", "", False),
    (None, "", False),
    ("", "", False),
    ("$2b$04$" + "." * 53, "x", False),  # looks like a hash, is not one
    ("$2b$99$" + "a" * 53, "x", False),  # bcrypt raises ValueError ("Invalid salt"): that means "wrong" too
])
def test_check_password_cases(stored: str | None, given: str, ok: bool) -> None:
    assert auth.check_password(stored, given) is ok


@pytest.mark.parametrize("stored, hashed", [
    ("$2a$" + "x" * 56, True), ("$2b$" + "x" * 56, True), ("$2y$" + "x" * 56, True),
    ("$2x$" + "x" * 56, False), ("$2b$" + "x" * 55, False), ("$2b$" + "x" * 57, False), ("", False), (None, False),
])
def test_is_hashed(stored: str | None, hashed: bool) -> None:
    assert auth.is_hashed(stored) is hashed


@pytest.mark.parametrize("given, ok", [
    ("webhook", True),
    # a leading part of the passphrase: a check of only len(given) characters would accept these
    ("w", False), ("web", False), ("webhoo", False), ("", False),
    # the passphrase with more after it: a check of only len(configured) characters would accept these
    ("webhook!", False), ("webhookwebhook", False), ("webhook\x00", False),
    ("Webhook", False), (" webhook", False), ("webhook ", False),
    (None, False), (["webhook"], False), (b"webhook", False), (7, False),
])
def test_passphrase_is_the_whole_configured_text(given: object, ok: bool) -> None:
    assert auth.passphrase_ok(PASSPHRASE, given) is ok


def test_passphrase_compares_unicode_as_utf8() -> None:
    assert auth.passphrase_ok("pässwörd", "pässwörd") is True
    assert auth.passphrase_ok("pässwörd", "passwords") is False


def test_new_secret_is_long_and_new_each_time() -> None:
    first, second = auth.new_secret(), auth.new_secret()
    assert len(first) == 64 and first != second  # 48 random bytes, base64url


@pytest.mark.parametrize("kind, lifetime", [("access", 15 * 60), ("refresh", 30 * 24 * 3600)])
def test_make_token_claims(kind: str, lifetime: int) -> None:
    token = auth.make_token(SECRET, "bob", kind, is_admin=1, fresh=False, now=NOW + 0.9)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False,
                                                                      "verify_iat": False})
    jti = claims.pop("jti")
    assert len(jti) == 36 and jti.count("-") == 4
    assert claims == {"fresh": False, "iat": int(NOW), "type": kind, "sub": "bob", "nbf": int(NOW),
                      "exp": int(NOW) + lifetime, "is_admin": True}  # no stamp, no sid: none given
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_login_tokens_fresh_for_expire_minutes() -> None:
    access, refresh = auth.login_tokens(SECRET, "bob", True, 7, "stamp-1", now=NOW)
    access_claims = auth.decode_token(SECRET, access, "access", now=NOW)
    refresh_claims = auth.decode_token(SECRET, refresh, "refresh", now=NOW)
    assert (access_claims["fresh"], access_claims["is_admin"], refresh_claims["is_admin"]) == (NOW + 7 * 60, True, True)
    assert access_claims["iat"] == refresh_claims["iat"] == int(NOW)
    assert access_claims["stamp"] == refresh_claims["stamp"] == "stamp-1"
    assert access_claims["sid"] == refresh_claims["sid"] and len(access_claims["sid"]) == 36  # one login
    assert (refresh_claims["fresh"], refresh_claims["exp"]) == (False, int(NOW) + 30 * 24 * 3600)
    assert access_claims["jti"] != refresh_claims["jti"]


def test_tokens_made_now_are_valid_now() -> None:
    """Without a given time (as the routes call them) both are made and checked on the real clock."""
    access, refresh = auth.login_tokens(SECRET, "bob", False, 7, None)
    assert auth.decode_token(SECRET, access, "access")["fresh"] > auth.decode_token(SECRET, access, "access")["iat"]
    assert auth.decode_token(SECRET, refresh, "refresh")["fresh"] is False
    refreshed = auth.make_token(SECRET, "bob", "access", False, False)  # as /v4/refresh makes it
    assert auth.decode_token(SECRET, refreshed, "access")["sub"] == "bob"


def token_error(secret: str, token: str, kind: str, now: float | None) -> tuple[str, str]:
    with pytest.raises(auth.TokenError) as caught:
        auth.decode_token(secret, token, kind, now=now)
    assert str(caught.value) == caught.value.message
    return caught.value.error, caught.value.message


def test_decode_token_expiry_at_the_exact_second() -> None:
    token = auth.make_token(SECRET, "bob", "access", False, True, now=NOW)
    assert auth.decode_token(SECRET, token, "access", now=NOW + 899)["sub"] == "bob"
    assert token_error(SECRET, token, "access", NOW + 900) == auth.TOKEN_EXPIRED
    # without a given time the real clock decides: a token of 2096 is not valid yet (nbf), one of 2020 has expired
    assert token_error(SECRET, token, "access", None) == auth.TOKEN_EXPIRED
    future = auth.make_token(SECRET, "bob", "access", False, True, now=4_000_000_000.0)
    assert token_error(SECRET, future, "access", None) == auth.TOKEN_INVALID


def test_decode_token_refuses_what_is_not_a_token_of_its_kind() -> None:
    access = auth.make_token(SECRET, "bob", "access", False, True, now=NOW)
    assert token_error(SECRET, access, "refresh", NOW) == auth.TOKEN_INVALID
    assert token_error("t" * 40, access, "access", NOW) == auth.TOKEN_INVALID
    assert token_error(SECRET, "not.a.token", "access", NOW) == auth.TOKEN_INVALID
    claims = {"iat": int(NOW), "exp": int(NOW) + 60, "sub": "bob", "jti": "j", "type": "access"}
    for missing in claims:
        partial = jwt.encode({k: v for k, v in claims.items() if k != missing}, SECRET, algorithm="HS256")
        assert token_error(SECRET, partial, "access", NOW) == auth.TOKEN_INVALID, missing
        valid_until_2096 = {**claims, "exp": 4_000_000_000}  # for the real clock (no given time)
        partial = jwt.encode({k: v for k, v in valid_until_2096.items() if k != missing}, SECRET, algorithm="HS256")
        assert token_error(SECRET, partial, "access", None) == auth.TOKEN_INVALID, missing
    none_alg = jwt.encode(claims, None, algorithm="none")
    assert token_error(SECRET, none_alg, "access", NOW) == auth.TOKEN_INVALID


@pytest.mark.parametrize("fresh, now, expected", [
    (True, NOW, True), (False, NOW, False),
    (NOW + 1, NOW, True), (NOW, NOW, False), (int(NOW) + 1, NOW, True),
    ("yes", NOW, False), (None, NOW, False),
    (1.0, None, False), (1e12, None, True),  # the real clock: 1970 has passed, the year 33658 has not
])
def test_is_fresh(fresh: object, now: float | None, expected: bool) -> None:
    assert auth.is_fresh({"fresh": fresh}, now) is expected


@pytest.mark.parametrize("header, token", [
    ("Bearer abc.def.ghi", "abc.def.ghi"),
    ("  Bearer   abc  ", "abc"),
    ("Bearer", None), ("Bearer   ", None), ("bearer abc", None), ("Basic abc", None), ("", None), (None, None),
])
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert auth.bearer_token(header) == token


def test_session_key_names_a_whole_login() -> None:
    assert auth.session_key("3f2a") == "sid:3f2a"


def test_throttle_edges() -> None:
    """The fifth failure (not the sixth) slows the name; the last second of a lockout still answers 1; a success
    with nothing recorded is no error."""
    limiter, clock = throttle(max_failures=5, window=300, slowdown=2.0)
    limiter.succeeded("admin", "a")
    for _ in range(4):
        limiter.failed("admin", "a")
    assert (limiter.delay("admin"), limiter.retry_after("admin", "a")) == (0.0, 0)
    limiter.failed("admin", "a")
    assert (limiter.delay("admin"), limiter.retry_after("admin", "a")) == (2.0, 301)
    clock.now += 299.5
    assert limiter.retry_after("admin", "a") == 1
