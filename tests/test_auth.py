"""The pure rules of pairs/auth.py: the login throttle, usernames, the dummy hash (A.5, issue 9)."""

from __future__ import annotations

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
