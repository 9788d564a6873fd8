"""Login, refresh, logout and user CRUD (SPEC §4 with A.5)."""

from __future__ import annotations

import asyncio
import uuid

import peewee

from handlers.base import SESSION_COOKIE, ApiError, BaseHandler, field_error, message, token_error
from pairs import auth, messages, users
from pairs.args import Arg
from pairs.db import User

CREDENTIALS = (
    Arg("username", "str", required=True, help=messages.empty("username"), max_length=80),
    Arg("password", "str", required=True, help=messages.empty("password")),
)
LOGIN_ARGS = (*CREDENTIALS, Arg("expire", "int", default=10, description="fresh window in minutes", nullable=False))
LOGOUT_ARGS = (Arg("refresh_token", "str", description="also revoked when it belongs to the same user"),)
USER_ARGS = (*LOGIN_ARGS, Arg("is_admin", "bool", description="ours: give or take the admin flag"))

POSTMAN_CSRF_COOKIE = "_csrf_token"


def _check_length(password: str) -> None:
    if auth.password_too_long(password):
        raise field_error("password", messages.PASSWORD_TOO_LONG)


def _check_username(username: str) -> None:
    if not auth.username_ok(username):
        raise field_error("username", messages.BAD_USERNAME)


async def verify_login(handler: BaseHandler, username: str, password: str) -> User:
    """The user whose password this is, for the API's and the dashboard's login alike.

    Failed logins are throttled per (username, peer) and per peer, and slowed per username (A.5); bcrypt runs
    in the executor, at the same cost for an unknown user; a plain-text password of the original is re-hashed
    (A.1.4).  Raises ApiError 400 (too long), 429 (throttled), 401 (wrong).
    """
    _check_length(password)
    throttle = handler.ctx.throttle
    wait = throttle.retry_after(username, handler.peer)
    if wait:
        raise ApiError(429, {"message": messages.TOO_MANY_LOGINS.format(seconds=wait)},
                       headers={"Retry-After": str(wait)})
    delay = throttle.delay(username)
    if delay:
        await asyncio.sleep(delay)
    user = users.find(username)
    stored = user.password if user else None
    ok = await handler.ctx.run(auth.verify_password, stored, password, handler.ctx.settings.bcrypt_rounds)
    if not ok or user is None:
        handler.ctx.throttle.failed(username, handler.peer)
        raise message(401, messages.BAD_LOGIN)
    handler.ctx.throttle.succeeded(username, handler.peer)
    if not auth.is_hashed(stored):  # a plain-text password of the original: hash it now (A.1.4)
        hashed = await handler.ctx.run(auth.hash_password, password, handler.ctx.settings.bcrypt_rounds)
        await handler.ctx.store.write(users.rehash_tx, username, stored, hashed)
    return user


class LoginHandler(BaseHandler):
    async def post(self) -> None:
        body = self.arguments()
        username = body["username"]
        user = await verify_login(self, username, body["password"])
        access, refresh = auth.login_tokens(self.ctx.jwt_secret, username, bool(user.is_admin), body["expire"],
                                            user.token_stamp)
        # the original's Postman collection reads this cookie first after login (its value is never checked: A.5)
        self.set_cookie(POSTMAN_CSRF_COOKIE, auth.new_secret(), path="/", samesite="Lax", expires_days=5)
        self.send({"access_token": access, "refresh_token": refresh, "expire": body["expire"]})


class RefreshHandler(BaseHandler):
    """Rotation (A.5): each refresh token works once; the new pair belongs to the same login."""

    async def post(self) -> None:
        who = self.current_user
        if not await self.ctx.store.write(users.use_refresh_tx, who.claims):
            raise token_error(auth.TokenError(*auth.TOKEN_REVOKED))
        secret, stamp = self.ctx.jwt_secret, who.claims.get("stamp")
        sid = who.claims.get("sid") or str(uuid.uuid4())
        self.send({
            "access_token": auth.make_token(secret, who.username, "access", who.is_admin, False, None, stamp, sid),
            "refresh_token": auth.make_token(secret, who.username, "refresh", who.is_admin, False, None, stamp, sid),
        })


class LogoutHandler(BaseHandler):
    async def post(self) -> None:
        who = self.current_user
        refresh = self.arguments()["refresh_token"]  # a bad body is a 400 before anything is revoked
        if who.via == "token":
            await self.ctx.store.write(users.logout_tx, who.claims)
            if refresh is not None:
                try:
                    claims = auth.decode_token(self.ctx.jwt_secret, refresh, "refresh")
                except auth.TokenError:
                    claims = None
                if claims and claims["sub"] == who.username:
                    await self.ctx.store.write(users.revoke_tx, claims["jti"], claims["exp"])
        session = self.session_id()
        if session:
            await self.ctx.store.write(users.end_session_tx, session)
            self.clear_cookie(SESSION_COOKIE)
        self.send({"message": messages.LOGGED_OUT})


class UserHandler(BaseHandler):
    """POST/PUT /v4/user"""

    async def _hash(self, password: str) -> str:
        return await self.ctx.run(auth.hash_password, password, self.ctx.settings.bcrypt_rounds)

    async def post(self) -> None:
        body = self.arguments()
        _check_username(body["username"])
        _check_length(body["password"])
        if users.find(body["username"]):
            raise message(400, messages.USER_EXISTS)
        hashed = await self._hash(body["password"])
        try:
            await self.ctx.store.write(users.create_tx, body["username"], hashed, bool(body["is_admin"]))
        except peewee.IntegrityError:
            raise message(400, messages.USER_EXISTS) from None
        self.send({"message": messages.created("user")}, 201)

    async def put(self) -> None:
        body = self.arguments()
        _check_username(body["username"])
        _check_length(body["password"])
        hashed = await self._hash(body["password"])
        try:
            created = await self.ctx.store.write(_upsert_user_tx, body["username"], hashed, body["is_admin"])
        except users.LastAdminError:
            raise message(400, messages.LAST_ADMIN) from None
        if created:
            self.send({"message": messages.created("user")}, 201)
        else:
            self.send({"username": body["username"]})


def _upsert_user_tx(username: str, hashed: str, is_admin: bool | None) -> bool:
    """True when the user was created, False when its password (and admin flag, if given) changed."""
    user = users.find(username)
    if user is None:
        users.create_tx(username, hashed, bool(is_admin))
        return True
    if is_admin is not None:
        if not is_admin and user.is_admin and User.select().where(User.is_admin == 1).count() <= 1:
            raise users.LastAdminError(username)
        User.update(is_admin=int(is_admin)).where(User.rowid == user.rowid).execute()
    users.set_password_tx(username, hashed)
    return False


class UserListHandler(BaseHandler):
    def get(self, number: str) -> None:
        limit = self.count(number, field="number_of_users")
        self.send({"users": [{"username": u.username} for u in users.list_users(limit)]})


class UserItemHandler(BaseHandler):
    def get(self, username: str) -> None:
        user = users.find(username)
        if user is None:
            raise message(404, messages.NOT_FOUND)
        self.send({"username": user.username})

    async def delete(self, username: str) -> None:
        try:
            deleted = await self.ctx.store.write(users.delete_tx, username)
        except users.LastAdminError:
            raise message(400, messages.LAST_ADMIN) from None
        if not deleted:
            raise message(404, messages.NOT_FOUND)
        self.send({"message": messages.deleted("user")})
