"""Users, revoked tokens and dashboard sessions in the store (SPEC §4 with A.5).

Functions named ``*_tx`` change rows: run them through ``Store.write`` (the writer thread).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from pairs import auth
from pairs.config import DEFAULT_PASSWORD, Settings
from pairs.db import RevokedToken, SimpleSession, User, utcnow
from pairs.db.models import new_token_stamp

log = logging.getLogger("pairs.users")


class LastAdminError(ValueError):
    pass


def find(username: str) -> User | None:
    return User.get_or_none(User.username == username)


def is_revoked(claims: dict[str, Any]) -> bool:
    """The token itself, or the whole login it belongs to, was revoked."""
    keys = [claims["jti"]]
    if isinstance(claims.get("sid"), str):
        keys.append(auth.session_key(claims["sid"]))
    return RevokedToken.select().where(RevokedToken.jti.in_(keys)).exists()


def token_account(claims: dict[str, Any]) -> User | None:
    """The account a valid token names: same username and same token stamp (a password change or a new account
    of the same name gets a new stamp, so older tokens name no account any more)."""
    user = find(claims["sub"])
    if user is None or not user.token_stamp or claims.get("stamp") != user.token_stamp:
        return None
    return user


def revoke_tx(jti: str, exp: int) -> None:
    expires = dt.datetime.fromtimestamp(exp, dt.UTC).replace(tzinfo=None)
    RevokedToken.insert(jti=jti, expires=expires).on_conflict_ignore().execute()


def end_login_tx(sid: str) -> None:
    """Revoke every token of one login; none of them outlives a refresh token minted now."""
    revoke_tx(auth.session_key(sid), int(time.time()) + auth.REFRESH_TTL)


def logout_tx(claims: dict[str, Any]) -> None:
    """Revoke an access token and, through its ``sid``, every token of its login: its refresh token too (A.5)."""
    revoke_tx(claims["jti"], claims["exp"])
    if isinstance(claims.get("sid"), str):
        end_login_tx(claims["sid"])


def use_refresh_tx(claims: dict[str, Any]) -> bool:
    """Spend a refresh token (rotation): True the first time only, also when two refreshes race (one writer)."""
    if RevokedToken.select().where(RevokedToken.jti == claims["jti"]).exists():
        return False
    revoke_tx(claims["jti"], claims["exp"])
    return True


def purge_revocations_tx() -> int:
    """Forget revocations of tokens that have expired anyway."""
    return RevokedToken.delete().where(RevokedToken.expires < utcnow()).execute()


def create_tx(username: str, password_hash: str, is_admin: bool = False) -> User:
    return User.create(username=username, password=password_hash, is_admin=int(is_admin))


def set_password_tx(username: str, password_hash: str) -> bool:
    """A new password ends every token and dashboard session of the user (A.5); False when there is no user."""
    changed = User.update(password=password_hash, token_stamp=new_token_stamp()).where(
        User.username == username).execute() > 0
    if changed:
        SimpleSession.delete().where(SimpleSession.username == username).execute()
    return changed


def rehash_tx(username: str, old_value: str, password_hash: str) -> None:
    """Replace a legacy plain-text password with its hash, unless it changed meanwhile."""
    User.update(password=password_hash).where((User.username == username) & (User.password == old_value)).execute()


def delete_tx(username: str) -> bool:
    """Delete a user; the last admin cannot be deleted (A.5)."""
    user = find(username)
    if user is None:
        return False
    if user.is_admin and User.select().where(User.is_admin == 1).count() <= 1:
        raise LastAdminError(username)
    user.delete_instance()
    SimpleSession.delete().where(SimpleSession.username == username).execute()
    return True


def list_users(limit: int) -> list[User]:
    query = User.select().order_by(User.rowid.desc())
    return list(query.limit(limit) if limit else query)


# ---------------------------------------------------------------------------------------------------------------
# Dashboard sessions: the signed cookie carries a random id; the simplesession row holds user and expiry, so a
# logout or a deleted user ends the session on the server.


def new_session_tx(username: str, minutes: int) -> str:
    value = secrets.token_urlsafe(32)
    SimpleSession.delete().where(SimpleSession.expiry < utcnow()).execute()
    SimpleSession.create(value=value, username=username, expiry=utcnow() + dt.timedelta(minutes=minutes))
    return value


def end_session_tx(value: str) -> None:
    SimpleSession.delete().where(SimpleSession.value == value).execute()


def session_user(value: str) -> User | None:
    row = SimpleSession.get_or_none((SimpleSession.value == value) & (SimpleSession.expiry > utcnow()))
    if row is None or not row.username:
        return None
    return find(row.username)


def session_expiry(value: str) -> dt.datetime | None:
    row = SimpleSession.get_or_none(SimpleSession.value == value)
    return row.expiry if row else None


# ---------------------------------------------------------------------------------------------------------------
# Start-up


def ensure_defaults_tx(settings: Settings, hasher: Callable[[str], str]) -> list[str]:
    """Default users only on an empty users table (A.5); make sure some admin exists in an original database."""
    created = []
    if not User.select().exists():
        create_tx(settings.admin_username, hasher(settings.admin_password), is_admin=True)
        created.append(settings.admin_username)
        if settings.user1_username and settings.user1_username != settings.admin_username:
            create_tx(settings.user1_username, hasher(settings.user1_password))
            created.append(settings.user1_username)
    elif not User.select().where(User.is_admin == 1).exists():
        # a database of the original: admin was the configured name (SPEC §4.1)
        User.update(is_admin=1).where(User.username == settings.admin_username).execute()
    User.update(is_admin=0).where(User.is_admin.is_null()).execute()
    for user in User.select(User.rowid).where(User.token_stamp.is_null()):  # rows of the original or older ones
        User.update(token_stamp=new_token_stamp()).where(User.rowid == user.rowid).execute()
    return created


def default_password_users(settings: Settings) -> list[str]:
    """Users whose password is still the published default; the log warns about them at every start."""
    names = []
    for user in User.select().where(User.username.in_([settings.admin_username, settings.user1_username])):
        if auth.check_password(user.password, DEFAULT_PASSWORD):
            names.append(user.username)
    return names
