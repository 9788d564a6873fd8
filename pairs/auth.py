"""Passwords, tokens and their rules (SPEC §4 with A.5).  Pure functions plus small stateful helpers."""

from __future__ import annotations

import collections
import dataclasses
import functools
import hmac
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import bcrypt
import jwt

ACCESS_TTL = 15 * 60
REFRESH_TTL = 30 * 24 * 3600
ALGORITHM = "HS256"
BCRYPT_MAX_BYTES = 72


# ---------------------------------------------------------------------------------------------------------------
# Passwords


def password_too_long(password: str) -> bool:
    return len(password.encode("utf-8")) > BCRYPT_MAX_BYTES


def hash_password(password: str, rounds: int = 12) -> str:
    """bcrypt hash (slow: call it in an executor)."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def is_hashed(stored: str | None) -> bool:
    return bool(stored) and stored.startswith(("$2a$", "$2b$", "$2y$")) and len(stored) == 60


def check_password(stored: str | None, given: str) -> bool:
    """True when ``given`` matches ``stored``: a bcrypt hash, or the plain text the original kept (A.1.4)."""
    if not stored or password_too_long(given):
        return False
    if is_hashed(stored):
        try:
            return bcrypt.checkpw(given.encode("utf-8"), stored.encode("ascii"))
        except ValueError:
            return False
    return hmac.compare_digest(stored.encode("utf-8"), given.encode("utf-8"))


@functools.lru_cache(maxsize=4)
def dummy_hash(rounds: int) -> str:
    """A hash of a random password at the configured cost, made once (slow: call it in an executor)."""
    return hash_password(secrets.token_urlsafe(16), rounds)


def verify_password(stored: str | None, given: str, rounds: int) -> bool:
    """check_password, where an unknown user (``stored`` None) costs the same bcrypt work as a known one (A.5).

    Slow: call it in an executor.
    """
    if stored is None:
        check_password(dummy_hash(rounds), given)
        return False
    return check_password(stored, given)


USERNAME_MAX = 64
PASSWORD_MIN = 8


def username_ok(username: str) -> bool:
    """1 to 64 printable characters, no leading or trailing space (A.5): a name that can be typed and deleted."""
    return 1 <= len(username) <= USERNAME_MAX and username.isprintable() and username == username.strip()


def passphrase_ok(configured: str, given: Any) -> bool:
    """Constant-time passphrase comparison; anything but a string is wrong."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(configured.encode("utf-8"), given.encode("utf-8"))


def new_secret() -> str:
    return secrets.token_urlsafe(48)


# ---------------------------------------------------------------------------------------------------------------
# Tokens


class TokenError(Exception):
    """401 with the body of SPEC §3.5 (A.5 for expiry)."""

    def __init__(self, error: str, message: str):
        super().__init__(message)
        self.error = error
        self.message = message


TOKEN_MISSING = ("authorization_required", "Request does not contain an access token.")
TOKEN_INVALID = ("token_invalid", "The token is invalid.")
TOKEN_EXPIRED = ("token_expired", "The token has expired.")
TOKEN_REVOKED = ("token_revoked", "The token has been revoked.")
TOKEN_NOT_FRESH = ("fresh_token_required", "The token is not fresh.")


def make_token(secret: str, username: str, kind: str, is_admin: bool, fresh: bool | float,
               now: float | None = None, stamp: str | None = None, sid: str | None = None) -> str:
    """A token with the original's claims (§4.1), plus ours (A.5): ``stamp``, the account's token stamp, and
    ``sid``, the login it belongs to (shared by the access and refresh tokens of one login and its refreshes)."""
    now = time.time() if now is None else now
    iat = int(now)
    payload = {
        "fresh": fresh,
        "iat": iat,
        "jti": str(uuid.uuid4()),
        "type": kind,
        "sub": username,
        "nbf": iat,
        "exp": iat + (ACCESS_TTL if kind == "access" else REFRESH_TTL),
        "is_admin": bool(is_admin),
    }
    if stamp is not None:
        payload["stamp"] = stamp
    if sid is not None:
        payload["sid"] = sid
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def login_tokens(secret: str, username: str, is_admin: bool, expire_minutes: int, stamp: str | None,
                 now: float | None = None) -> tuple[str, str]:
    """(access, refresh) as at login: the access token is fresh for ``expire_minutes`` (SPEC §4.1)."""
    now = time.time() if now is None else now
    sid = str(uuid.uuid4())
    access = make_token(secret, username, "access", is_admin, now + expire_minutes * 60, now, stamp, sid)
    refresh = make_token(secret, username, "refresh", is_admin, False, now, stamp, sid)
    return access, refresh


def session_key(sid: str) -> str:
    """The revocation entry of a whole login (its ``sid``), kept beside the revoked ``jti``s."""
    return "sid:" + sid


def decode_token(secret: str, token: str, kind: str, now: float | None = None) -> dict[str, Any]:
    """The claims of a valid token of ``kind``; TokenError otherwise (revocation is checked by the caller)."""
    options = {"require": ["exp", "iat", "sub", "jti", "type"]}
    try:
        if now is None:
            claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options=options)
        else:
            claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={**options, "verify_exp": False,
                                                                                   "verify_nbf": False})
            if claims["exp"] <= now:
                raise jwt.ExpiredSignatureError()
    except jwt.ExpiredSignatureError:
        raise TokenError(*TOKEN_EXPIRED) from None
    except jwt.PyJWTError:
        raise TokenError(*TOKEN_INVALID) from None
    if claims.get("type") != kind or not isinstance(claims.get("sub"), str):
        raise TokenError(*TOKEN_INVALID)
    return claims


def is_fresh(claims: dict[str, Any], now: float | None = None) -> bool:
    fresh = claims.get("fresh")
    if isinstance(fresh, bool):
        return fresh
    if isinstance(fresh, (int, float)):
        return (time.time() if now is None else now) < fresh
    return False


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <jwt>`` header, None when the header is absent or another scheme."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme != "Bearer" or not token.strip():
        return None
    return token.strip()


# ---------------------------------------------------------------------------------------------------------------
# Failed-login throttling (A.5), in memory.
#
# Refusals (429) count failures per (username, address) and per address, never per username alone: otherwise
# anyone could lock the admin out from elsewhere.  A username that fails from many addresses only makes each of
# its logins wait ``slowdown`` seconds, the right password included, never longer.


@dataclasses.dataclass
class LoginThrottle:
    max_failures: int = 5  # per (username, address)
    window: float = 300.0
    max_address_failures: int = 20  # per address, whatever the usernames
    slowdown: float = 2.0
    max_records: int = 100_000
    clock: Callable[[], float] = time.monotonic
    # key -> failure times, oldest record first, so the oldest can be evicted when memory is full
    _failures: collections.OrderedDict[tuple[str, ...], list[float]] = dataclasses.field(
        default_factory=collections.OrderedDict)

    @staticmethod
    def _keys(username: str, peer: str) -> tuple[tuple[str, ...], ...]:
        return ("login", peer, username), ("peer", peer), ("user", username)

    def _recent(self, key: tuple[str, ...]) -> list[float]:
        cutoff = self.clock() - self.window
        stamps = [t for t in self._failures.get(key, ()) if t > cutoff]
        if stamps:
            self._failures[key] = stamps
        else:
            self._failures.pop(key, None)
        return stamps

    def retry_after(self, username: str, peer: str) -> int:
        """Seconds until a login may be tried again; 0 when it may be tried now."""
        login, address, _ = self._keys(username, peer)
        waits = []
        for key, limit in ((login, self.max_failures), (address, self.max_address_failures)):
            stamps = self._recent(key)
            if len(stamps) >= limit:
                waits.append(stamps[-limit] + self.window - self.clock())
        return max(1, int(max(waits)) + 1) if waits else 0

    def delay(self, username: str) -> float:
        """Seconds a login for ``username`` waits before its password is checked: ``slowdown`` under attack."""
        return self.slowdown if len(self._recent(("user", username))) >= self.max_failures else 0.0

    def failed(self, username: str, peer: str) -> None:
        now = self.clock()
        keep = max(self.max_failures, self.max_address_failures)  # older failures cannot change any answer
        for key in self._keys(username, peer):
            stamps = [*self._recent(key), now][-keep:]
            self._failures[key] = stamps
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_records:  # bounded: the records failed longest ago go first
            self._failures.popitem(last=False)

    def succeeded(self, username: str, peer: str) -> None:
        self._failures.pop(self._keys(username, peer)[0], None)

    def __len__(self) -> int:
        return len(self._failures)
