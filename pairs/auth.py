"""Passwords, tokens and their rules (SPEC §4 with A.5).  Pure functions plus small stateful helpers."""

from __future__ import annotations

import dataclasses
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
               now: float | None = None) -> str:
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
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def login_tokens(secret: str, username: str, is_admin: bool, expire_minutes: int,
                 now: float | None = None) -> tuple[str, str]:
    """(access, refresh) as at login: the access token is fresh for ``expire_minutes`` (SPEC §4.1)."""
    now = time.time() if now is None else now
    access = make_token(secret, username, "access", is_admin, now + expire_minutes * 60, now)
    refresh = make_token(secret, username, "refresh", is_admin, False, now)
    return access, refresh


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
# Failed-login throttling (A.5): per username and per peer, in memory.


@dataclasses.dataclass
class LoginThrottle:
    max_failures: int = 5
    window: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def _recent(self, key: str) -> list[float]:
        cutoff = self.clock() - self.window
        stamps = [t for t in self._failures.get(key, ()) if t > cutoff]
        if stamps:
            self._failures[key] = stamps
        else:
            self._failures.pop(key, None)
        return stamps

    def retry_after(self, username: str, peer: str) -> int:
        """Seconds until a login may be tried again; 0 when it may be tried now."""
        waits = []
        for key in (f"user:{username}", f"peer:{peer}"):
            stamps = self._recent(key)
            if len(stamps) >= self.max_failures:
                waits.append(stamps[-self.max_failures] + self.window - self.clock())
        return max(1, int(max(waits)) + 1) if waits else 0

    def failed(self, username: str, peer: str) -> None:
        now = self.clock()
        for key in (f"user:{username}", f"peer:{peer}"):
            self._recent(key)
            self._failures.setdefault(key, []).append(now)
        if len(self._failures) > 100_000:  # a flood of distinct names cannot grow memory without bound
            self._failures.clear()

    def succeeded(self, username: str, peer: str) -> None:
        self._failures.pop(f"user:{username}", None)
