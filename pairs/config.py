"""config.ini + environment -> one typed Settings object.

The sections and keys of the original pairs-api `config.ini` are read as they are (``:`` or ``=`` separators);
our own keys live in a ``[SERVER]`` section.  Environment variables override the file, with the original's names
(``WEBHOOK_PASSPHRASE``, ``DB_ADMIN_PASS``, ``DATABASE_URL_SQLALCHEMY``) plus ``JWT_SECRET_KEY`` and the
``PAIRS_*`` variables listed in ``ENV_OVERRIDES``.
"""

from __future__ import annotations

import configparser
import dataclasses
import ipaddress
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Installed with pip (pyproject.toml), PROJECT_DIR is site-packages: no place for data, and the dashboard's files are
# inside the handlers package.  A checkout keeps its data beside server.py.
INSTALLED = not (PROJECT_DIR / "pyproject.toml").is_file()


def command(args: str) -> str:
    """A sub-command as the operator types it here: ``pairs ARGS`` when installed, else this checkout's interpreter
    and server.py (a bare ``python server.py`` fails outside the virtual environment)."""
    if INSTALLED:
        return f"pairs {args}"
    return f"{sys.executable} {PROJECT_DIR / 'server.py'} {args}"


DEFAULT_DATA_DIR = (Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "pairs" if INSTALLED
                    else PROJECT_DIR / "data")
DEFAULT_PASSWORD = "password"


class ConfigError(ValueError):
    """A configuration value is unusable; the message says which and what to do."""


@dataclasses.dataclass
class Settings:
    # [SECRET]
    webhook_passphrase: str = "webhook"
    admin_username: str = "admin"
    admin_password: str = DEFAULT_PASSWORD
    user1_username: str = "user1"
    user1_password: str = DEFAULT_PASSWORD
    # [EXCHANGE]
    session_start: str = "09:30:00"
    session_end: str = "16:00:00"
    exchange_timezone: str = "US/Eastern"
    session_extension_min: int = 20
    session_weekdays: str = "1,2,3,4,5"  # ours: ISO weekdays the exchange trades (1 = Monday)
    # [SMA]
    enable_sma_calc: bool = True
    sma_calc_period: int = 20
    price_source: str = "yahoo"
    sma_window: int = 20  # ours: daily closes in the SMA / std
    coint_window: int = 60  # ours: daily closes in the hedge ratio and cointegration test
    chart_days: int = 250  # ours: daily closes on a pair's page chart
    entry_z: float = 2.0  # ours: the z-score lines drawn on a pair's page
    exit_z: float = 0.5
    # [SCREENER] (ours)
    screener_window: int = 250  # the last daily closes a run looks at
    screener_min_obs: int = 120  # common closes a pair needs to be tested
    # [EMAIL]
    enable_email_notifications: bool = False
    mail_check_period: int = 90
    mail_server: str = "smtp.example.com"
    mail_port: int = 465
    mail_username: str = ""
    mail_password: str = ""
    mail_use_tls: bool = False
    mail_use_ssl: bool = True
    mail_sender: str = "sender@example.com"
    mail_recipient: str = "recipient@example.com"
    mail_subject: str = "Server Problem"
    mail_body: str = "waiting orders-possible server problem"
    mail_warn_after_min: int = 2
    mail_lookback_hours: int = 72  # ours: older problem signals are history, not news (an imported database); 0 = all
    bridge_silent_min: int = 15  # ours: warn when the broker bridge wrote nothing this long in session; 0 = off
    mail_timeout_sec: int = 30  # ours
    continuity_alerts: bool = True  # ours: gap and duplicate findings (pairs.continuity) are mailed
    # [SERVER] (ours)
    host: str = "127.0.0.1"
    port: int = 5000
    database_url: str = ""
    data_dir: str = str(DEFAULT_DATA_DIR)
    jwt_secret_key: str = ""
    bcrypt_rounds: int = 12
    body_limit: int = 64 * 1024
    trusted_proxies: str = ""
    webhook_allowlist: str = ""
    force_https: bool = False
    cors_origins: str = ""  # no cross-origin access unless opened on purpose (A.5)
    delivery_log_days: int = 30
    db_wait_ms: int = 2000  # a write waits this long for a locked or unreachable database, then answers 503
    login_max_failures: int = 5
    login_window_sec: int = 300
    display_timezone: str = "US/Pacific"
    account_currency: str = "C$"  # ours: the account PNL's currency sign (the original showed C$)
    log_level: str = "INFO"
    event_loop: str = "auto"  # uvloop when installed (faster answers under load), else asyncio's own
    duplicate_window_sec: int = 60  # the same alert again within this many seconds is a duplicate (continuity)
    # [NOTIFY] (ours): push notifications through Apprise (pairs/push.py)
    notify_urls: str = ""  # Apprise URLs, separated by spaces, commas or lines; secrets: PAIRS_NOTIFY_URLS
    notify_events: str = "stuck, bridge_silent, rejected, price_job_failed, gap, duplicate"
    notify_slip_limit: float = 100.0  # money: a fill whose slip (either way) is larger is a "slip" event
    notify_fold_sec: float = 3.0  # events within this many seconds go out as one message per channel
    notify_retries: int = 3  # tries after the first failed send, with back-off
    notify_retry_sec: float = 2.0  # the first pause before a retry; each next one doubles

    @property
    def sqlite_default_url(self) -> str:
        return "sqlite:///" + str(Path(self.data_dir) / "pairs.db")

    @property
    def effective_database_url(self) -> str:
        return self.database_url or self.sqlite_default_url

    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return parse_networks(self.trusted_proxies, "[SERVER] TRUSTED_PROXIES")

    def webhook_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return parse_networks(self.webhook_allowlist, "[SERVER] WEBHOOK_ALLOWLIST")


# (section, key) -> Settings field.  The original keys first, then ours.
INI_KEYS: dict[tuple[str, str], str] = {
    ("SECRET", "WEBHOOK_PASSPHRASE"): "webhook_passphrase",
    ("SECRET", "ADMIN_USERNAME"): "admin_username",
    ("SECRET", "ADMIN_PASSWORD"): "admin_password",
    ("SECRET", "USER1_USERNAME"): "user1_username",
    ("SECRET", "USER1_PASSWORD"): "user1_password",
    ("SECRET", "JWT_SECRET_KEY"): "jwt_secret_key",
    ("EXCHANGE", "SESSION_START"): "session_start",
    ("EXCHANGE", "SESSION_END"): "session_end",
    ("EXCHANGE", "EXCHANGE_TIMEZONE"): "exchange_timezone",
    ("EXCHANGE", "SESSION_EXTENSION_MIN"): "session_extension_min",
    ("EXCHANGE", "SESSION_WEEKDAYS"): "session_weekdays",
    ("SMA", "ENABLE_SMA_CALC"): "enable_sma_calc",
    ("SMA", "SMA_CALC_PERIOD"): "sma_calc_period",
    ("SMA", "PRICE_SOURCE"): "price_source",
    ("SMA", "SMA_WINDOW"): "sma_window",
    ("SMA", "COINT_WINDOW"): "coint_window",
    ("SMA", "CHART_DAYS"): "chart_days",
    ("SMA", "ENTRY_Z"): "entry_z",
    ("SMA", "EXIT_Z"): "exit_z",
    ("SCREENER", "WINDOW"): "screener_window",
    ("SCREENER", "MIN_OBS"): "screener_min_obs",
    ("EMAIL", "ENABLE_EMAIL_NOTIFICATIONS"): "enable_email_notifications",
    ("EMAIL", "MAIL_CHECK_PERIOD"): "mail_check_period",
    ("EMAIL", "MAIL_SERVER"): "mail_server",
    ("EMAIL", "MAIL_PORT"): "mail_port",
    ("EMAIL", "MAIL_USERNAME"): "mail_username",
    ("EMAIL", "MAIL_PASSWORD"): "mail_password",
    ("EMAIL", "MAIL_USE_TLS"): "mail_use_tls",
    ("EMAIL", "MAIL_USE_SSL"): "mail_use_ssl",
    ("EMAIL", "MAIL_SENDER"): "mail_sender",
    ("EMAIL", "MAIL_RECIPIENT"): "mail_recipient",
    ("EMAIL", "MAIL_SUBJECT"): "mail_subject",
    ("EMAIL", "MAIL_BODY"): "mail_body",
    ("EMAIL", "MAIL_WARN_AFTER_MIN"): "mail_warn_after_min",
    ("EMAIL", "MAIL_LOOKBACK_HOURS"): "mail_lookback_hours",
    ("EMAIL", "BRIDGE_SILENT_MIN"): "bridge_silent_min",
    ("EMAIL", "MAIL_TIMEOUT_SEC"): "mail_timeout_sec",
    ("EMAIL", "CONTINUITY_ALERTS"): "continuity_alerts",
    ("SERVER", "HOST"): "host",
    ("SERVER", "PORT"): "port",
    ("SERVER", "DATABASE_URL"): "database_url",
    ("SERVER", "DATA_DIR"): "data_dir",
    ("SERVER", "BCRYPT_ROUNDS"): "bcrypt_rounds",
    ("SERVER", "BODY_LIMIT"): "body_limit",
    ("SERVER", "TRUSTED_PROXIES"): "trusted_proxies",
    ("SERVER", "WEBHOOK_ALLOWLIST"): "webhook_allowlist",
    ("SERVER", "FORCE_HTTPS"): "force_https",
    ("SERVER", "CORS_ORIGINS"): "cors_origins",
    ("SERVER", "DELIVERY_LOG_DAYS"): "delivery_log_days",
    ("SERVER", "DB_WAIT_MS"): "db_wait_ms",
    ("SERVER", "LOGIN_MAX_FAILURES"): "login_max_failures",
    ("SERVER", "LOGIN_WINDOW_SEC"): "login_window_sec",
    ("SERVER", "DISPLAY_TIMEZONE"): "display_timezone",
    ("SERVER", "ACCOUNT_CURRENCY"): "account_currency",
    ("SERVER", "LOG_LEVEL"): "log_level",
    ("SERVER", "EVENT_LOOP"): "event_loop",
    ("SERVER", "DUPLICATE_WINDOW_SEC"): "duplicate_window_sec",
    ("NOTIFY", "URLS"): "notify_urls",
    ("NOTIFY", "EVENTS"): "notify_events",
    ("NOTIFY", "SLIP_LIMIT"): "notify_slip_limit",
    ("NOTIFY", "FOLD_SEC"): "notify_fold_sec",
    ("NOTIFY", "RETRIES"): "notify_retries",
    ("NOTIFY", "RETRY_SEC"): "notify_retry_sec",
}

# environment variable -> Settings field
ENV_OVERRIDES: dict[str, str] = {
    "WEBHOOK_PASSPHRASE": "webhook_passphrase",
    "DB_ADMIN_PASS": "admin_password",
    "DATABASE_URL_SQLALCHEMY": "database_url",
    "JWT_SECRET_KEY": "jwt_secret_key",
    "PAIRS_DATABASE_URL": "database_url",
    "PAIRS_DATA_DIR": "data_dir",
    "PAIRS_HOST": "host",
    "PAIRS_PORT": "port",
    "PAIRS_BCRYPT_ROUNDS": "bcrypt_rounds",
    "PAIRS_LOG_LEVEL": "log_level",
    "PAIRS_PRICE_SOURCE": "price_source",
    "PAIRS_EVENT_LOOP": "event_loop",
    "PAIRS_NOTIFY_URLS": "notify_urls",
    "PAIRS_NOTIFY_EVENTS": "notify_events",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(field: dataclasses.Field, raw: str, where: str) -> Any:
    kind = field.type
    text = raw.strip()
    if kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"{where} must be True or False, not {raw!r}")
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{where} must be a whole number, not {raw!r}") from None
    if kind == "float":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ConfigError(f"{where} must be a number, not {raw!r}")
        return number
    return raw


def load_settings(
    config_path: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings from defaults < config file < environment < explicit overrides (command-line options)."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist; pass an existing file to --config")
        parser = configparser.ConfigParser(delimiters=(":", "="), interpolation=None)
        parser.optionxform = str.upper  # keys are case-insensitive, as in the original
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError(f"config file {str(path)!r} cannot be read: {exc}") from None
        for (section, key), name in INI_KEYS.items():
            if parser.has_option(section, key):
                where = f"[{section}] {key} in {path}"
                setattr(settings, name, _convert(fields[name], parser.get(section, key), where))
    for var, name in ENV_OVERRIDES.items():
        if var in environ and environ[var] != "":
            setattr(settings, name, _convert(fields[name], environ[var], f"environment variable {var}"))
    for name, value in overrides.items():
        if value is not None:
            if name not in fields:
                raise TypeError(f"unknown setting {name}")
            setattr(settings, name, value)
    return settings


def parse_networks(text: str, where: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """'1.2.3.4, 10.0.0.0/8' -> networks; a bad entry is a ConfigError naming it."""
    networks = []
    for item in text.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{where}: {item!r} is not an IP address or network") from None
    return networks
