"""The Application: built from the route table (handlers/routes.py), and the state the handlers share."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tornado.web

from handlers import ops, routes
from handlers.base import NotFoundHandler
from pairs import auth
from pairs.config import INSTALLED, PROJECT_DIR, Settings
from pairs.db import Store
from pairs.db.settings import ensure_setting
from pairs.live import Broadcaster


@dataclasses.dataclass
class Context:
    settings: Settings
    store: Store
    jwt_secret: str
    cookie_secret: str
    throttle: auth.LoginThrottle
    trusted_proxies: list
    webhook_networks: list
    cors_origins: set[str]
    executor: concurrent.futures.ThreadPoolExecutor
    live: Broadcaster = dataclasses.field(default_factory=Broadcaster)  # what open dashboard pages hear about
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)  # jobs and pages keep their state here

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Slow work (bcrypt, downloads, SMTP) off the IOLoop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)


def make_context(settings: Settings, store: Store) -> Context:
    """Secrets come from the settings, else are generated once and kept in the database (tokens survive restarts)."""
    jwt_secret = settings.jwt_secret_key or ensure_setting("jwt_secret", auth.new_secret)
    cookie_secret = ensure_setting("cookie_secret", auth.new_secret)
    return Context(
        settings=settings,
        store=store,
        jwt_secret=jwt_secret,
        cookie_secret=cookie_secret,
        throttle=auth.LoginThrottle(settings.login_max_failures, settings.login_window_sec,
                                    max_address_failures=4 * settings.login_max_failures),
        trusted_proxies=settings.trusted_proxy_networks(),
        webhook_networks=settings.webhook_networks(),
        cors_origins={o.strip() for o in settings.cors_origins.split(",") if o.strip()},
        executor=concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="pairs-slow"),
    )


# templates/ and static/: beside server.py in a checkout, inside this package when installed (pyproject.toml)
ASSETS_DIR = Path(__file__).resolve().parent if INSTALLED else PROJECT_DIR


class PairsApp(tornado.web.Application):
    def __init__(self, ctx: Context, **overrides: Any):
        self.ctx = ctx
        self.route_table = routes.TABLE
        settings = {
            "cookie_secret": ctx.cookie_secret,
            "xsrf_cookies": False,  # BaseHandler checks the token itself, once the body (maybe holding it) is read
            "xsrf_cookie_kwargs": {"samesite": "Lax"},
            "template_path": str(ASSETS_DIR / "templates"),
            "static_path": str(ASSETS_DIR / "static"),
            "default_handler_class": NotFoundHandler,
            "compress_response": False,
            "log_function": ops.log_request,
            **overrides,
        }
        super().__init__(self.route_table.url_rules(), **settings)


def make_app(settings: Settings, store: Store, **overrides: Any) -> PairsApp:
    return PairsApp(make_context(settings, store), **overrides)

