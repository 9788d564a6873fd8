"""config.ini of the original (§1.1) + environment (§1.2) + ours -> Settings, table-driven."""

from __future__ import annotations

import pytest

from pairs import cli
from pairs.config import ConfigError, Settings, load_settings

# the original's config.ini as shipped, both separators mixed as people edit it
ORIGINAL_INI = """\
[SECRET]
WEBHOOK_PASSPHRASE = tv-secret
ADMIN_USERNAME: boss
ADMIN_PASSWORD = adminpass
USER1_USERNAME: trader
USER1_PASSWORD = traderpass

[EXCHANGE]
SESSION_START = 09:31:00
SESSION_END: 15:59:00
EXCHANGE_TIMEZONE = Europe/London
SESSION_EXTENSION_MIN: 30

[SMA]
ENABLE_SMA_CALC = False
SMA_CALC_PERIOD: 15

[EMAIL]
ENABLE_EMAIL_NOTIFICATIONS = True
MAIL_CHECK_PERIOD: 120
MAIL_SERVER = smtp.example.org
MAIL_PORT: 587
MAIL_USERNAME = me@example.org
MAIL_PASSWORD: p=a:ss
MAIL_USE_TLS = True
MAIL_USE_SSL: False
MAIL_SENDER = from@example.org
MAIL_RECIPIENT: to@example.org
MAIL_SUBJECT = Server Problem!
MAIL_BODY: waiting orders-possible server problem
"""

EXPECTED = {
    "webhook_passphrase": "tv-secret", "admin_username": "boss", "admin_password": "adminpass",
    "user1_username": "trader", "user1_password": "traderpass", "session_start": "09:31:00",
    "session_end": "15:59:00", "exchange_timezone": "Europe/London", "session_extension_min": 30,
    "enable_sma_calc": False, "sma_calc_period": 15, "enable_email_notifications": True, "mail_check_period": 120,
    "mail_server": "smtp.example.org", "mail_port": 587, "mail_username": "me@example.org",
    "mail_password": "p=a:ss", "mail_use_tls": True, "mail_use_ssl": False, "mail_sender": "from@example.org",
    "mail_recipient": "to@example.org", "mail_subject": "Server Problem!",
    "mail_body": "waiting orders-possible server problem",
}


def write_ini(tmp_path, text: str):
    path = tmp_path / "config.ini"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_originals():
    settings = load_settings(None, environ={})
    assert (settings.webhook_passphrase, settings.admin_username, settings.admin_password) == (
        "webhook", "admin", "password")
    assert (settings.user1_username, settings.user1_password) == ("user1", "password")
    assert (settings.session_start, settings.session_end, settings.exchange_timezone,
            settings.session_extension_min) == ("09:30:00", "16:00:00", "US/Eastern", 20)
    assert (settings.enable_sma_calc, settings.sma_calc_period) == (True, 20)
    assert (settings.enable_email_notifications, settings.mail_check_period, settings.mail_port,
            settings.mail_use_tls, settings.mail_use_ssl) == (False, 90, 465, False, True)
    assert (settings.mail_subject, settings.mail_body) == ("Server Problem", "waiting orders-possible server problem")
    assert (settings.host, settings.port, settings.body_limit) == ("127.0.0.1", 5000, 65536)
    assert settings.effective_database_url.startswith("sqlite:///") and settings.effective_database_url.endswith(
        "data/pairs.db")


@pytest.mark.parametrize("field, value", sorted(EXPECTED.items()))
def test_every_original_key_with_either_separator(tmp_path, field, value):
    settings = load_settings(write_ini(tmp_path, ORIGINAL_INI), environ={})
    assert getattr(settings, field) == value


@pytest.mark.parametrize("line, field, value", [
    ("webhook_passphrase = lower", "webhook_passphrase", "lower"),  # keys are case-insensitive
    ("WEBHOOK_PASSPHRASE=  padded  ", "webhook_passphrase", "padded"),
    ("WEBHOOK_PASSPHRASE:a=b", "webhook_passphrase", "a=b"),
    ("JWT_SECRET_KEY = k", "jwt_secret_key", "k"),
])
def test_secret_lines(tmp_path, line, field, value):
    settings = load_settings(write_ini(tmp_path, f"[SECRET]\n{line}\n"), environ={})
    assert getattr(settings, field) == value


@pytest.mark.parametrize("line, field, value", [
    ("HOST = 0.0.0.0", "host", "0.0.0.0"), ("PORT: 8080", "port", 8080),
    ("DATABASE_URL = postgresql://u:p@h/db", "database_url", "postgresql://u:p@h/db"),
    ("BCRYPT_ROUNDS = 10", "bcrypt_rounds", 10), ("BODY_LIMIT = 1024", "body_limit", 1024),
    ("FORCE_HTTPS = yes", "force_https", True), ("FORCE_HTTPS = off", "force_https", False),
    ("CORS_ORIGINS = https://a.example", "cors_origins", "https://a.example"),
    ("LOGIN_MAX_FAILURES = 3", "login_max_failures", 3), ("DELIVERY_LOG_DAYS = 7", "delivery_log_days", 7),
    ("DB_WAIT_MS = 500", "db_wait_ms", 500),
])
def test_our_server_section(tmp_path, line, field, value):
    settings = load_settings(write_ini(tmp_path, f"[SERVER]\n{line}\n"), environ={})
    assert getattr(settings, field) == value


@pytest.mark.parametrize("var, field, value", [
    ("WEBHOOK_PASSPHRASE", "webhook_passphrase", "from-env"),
    ("DB_ADMIN_PASS", "admin_password", "env-admin-pw"),
    ("DATABASE_URL_SQLALCHEMY", "database_url", "postgresql://app@db/pairs"),
    ("JWT_SECRET_KEY", "jwt_secret_key", "env-jwt"),
    ("PAIRS_PORT", "port", 9000),
    ("PAIRS_BCRYPT_ROUNDS", "bcrypt_rounds", 5),
])
def test_environment_overrides_the_file(tmp_path, var, field, value):
    text = (ORIGINAL_INI.replace("[SECRET]\n", "[SECRET]\nJWT_SECRET_KEY = from-file\n")
            + "[SERVER]\nDATABASE_URL = sqlite:///file.db\nPORT = 1234\nBCRYPT_ROUNDS = 11\n")
    path = write_ini(tmp_path, text)
    assert getattr(load_settings(path, environ={}), field) != value
    settings = load_settings(path, environ={var: str(value)})
    assert getattr(settings, field) == value
    assert load_settings(path, environ={var: ""}) == load_settings(path, environ={})  # empty means unset


def test_command_line_overrides_environment(tmp_path):
    settings = load_settings(write_ini(tmp_path, "[SERVER]\nPORT = 1\n"), environ={"PAIRS_PORT": "2"}, port=3,
                             host=None)
    assert (settings.port, settings.host) == (3, "127.0.0.1")


@pytest.mark.parametrize("text, fragment", [
    ("[SMA]\nENABLE_SMA_CALC = perhaps\n", "[SMA] ENABLE_SMA_CALC"),
    ("[EMAIL]\nMAIL_PORT = smtp\n", "[EMAIL] MAIL_PORT"),
    ("[SERVER]\nPORT = 80.5\n", "[SERVER] PORT"),
    ("no section header\n", "cannot be read"),
    ("[SECRET]\nA = 1\nA = 2\n", "cannot be read"),
])
def test_bad_config_is_a_clear_error(tmp_path, text, fragment):
    with pytest.raises(ConfigError) as err:
        load_settings(write_ini(tmp_path, text), environ={})
    assert fragment in str(err.value)


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError) as err:
        load_settings(None, environ={"PAIRS_PORT": "http"})
    assert "PAIRS_PORT" in str(err.value)


def test_a_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "nope.ini", environ={})
    assert "does not exist" in str(err.value)


def test_server_reads_config_ini_from_the_working_directory(tmp_path, monkeypatch):
    write_ini(tmp_path, ORIGINAL_INI)
    monkeypatch.chdir(tmp_path)
    for var in ("WEBHOOK_PASSPHRASE", "DB_ADMIN_PASS", "DATABASE_URL_SQLALCHEMY", "PAIRS_PORT"):
        monkeypatch.delenv(var, raising=False)
    settings = cli.settings_from_args(cli.build_parser().parse_args(["--port", "7000"]))
    assert isinstance(settings, Settings)
    assert (settings.webhook_passphrase, settings.admin_username, settings.port) == ("tv-secret", "boss", 7000)
    other = tmp_path / "other.ini"
    other.write_text("[SECRET]\nWEBHOOK_PASSPHRASE = other\n")
    settings = cli.settings_from_args(cli.build_parser().parse_args(["--config", str(other)]))
    assert settings.webhook_passphrase == "other"
