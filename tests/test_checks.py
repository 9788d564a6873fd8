"""`server.py check-config`: each problem is named in plain words, errors make the exit code non-zero."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pairs import auth, checks, users
from pairs.config import PROJECT_DIR, ConfigError, load_settings
from pairs.db import Store

GOOD = {"webhook_passphrase": "a-long-random-passphrase", "admin_password": "s3cret-admin",
        "user1_password": "s3cret-user1", "bcrypt_rounds": 12}


def settings_for(tmp_path: Path, **changes):
    values = {"data_dir": str(tmp_path / "data"), "database_url": f"sqlite:///{tmp_path}/data/pairs.db", **GOOD,
              **changes}
    return load_settings(None, environ={}, **values)


def texts(settings, level: str | None = None) -> list[str]:
    return [f.text for f in checks.check_settings(settings) if level is None or f.level == level]


def test_a_good_configuration_has_no_findings(tmp_path):
    assert checks.check_settings(settings_for(tmp_path)) == []
    assert not (tmp_path / "data").exists()  # checking creates nothing


def test_default_passphrase_and_passwords_are_errors(tmp_path):
    settings = settings_for(tmp_path, webhook_passphrase="webhook", admin_password="password")
    errors = texts(settings, checks.ERROR)
    assert any("passphrase is still the published default 'webhook'" in t for t in errors)
    assert any("create user 'admin' with the default password 'password'" in t and "DB_ADMIN_PASS" in t
               for t in errors)
    assert len(errors) == 2


def test_a_stored_user_with_the_default_password_is_an_error(tmp_path):
    settings = settings_for(tmp_path)
    store = Store(settings.effective_database_url)
    store.open()
    store.write_sync(users.create_tx, "admin", auth.hash_password("password", 4), True)
    store.write_sync(users.create_tx, "user1", auth.hash_password("fine-one", 4), False)
    store.close()
    assert texts(settings) == ["user 'admin' still has the default password 'password'; change it with "
                               f"`{sys.executable} {PROJECT_DIR / 'server.py'} reset-password admin`."]


def test_short_passphrase_and_short_jwt_secret(tmp_path):
    settings = settings_for(tmp_path, webhook_passphrase="abc", jwt_secret_key="short")
    assert texts(settings, checks.WARNING) == [
        "the webhook passphrase is only 3 characters long; use at least 12 random characters (for example the "
        "output of `openssl rand -hex 16`)."]
    assert [t[:40] for t in texts(settings, checks.ERROR)] == ["JWT_SECRET_KEY is shorter than 32 bytes,"]


def test_db_wait_must_fit_inside_tradingviews_timeout(tmp_path):
    assert texts(settings_for(tmp_path, db_wait_ms=-1), checks.ERROR) == [
        "[SERVER] DB_WAIT_MS -1 is negative; use 2000"]
    assert [t[:45] for t in texts(settings_for(tmp_path, db_wait_ms=5000), checks.WARNING)] == [
        "[SERVER] DB_WAIT_MS 5000 ms is longer than Tr"]
    assert texts(settings_for(tmp_path, db_wait_ms=2500)) == []


@pytest.mark.parametrize("url, expected", [
    ("data/pairs.db", "is malformed"),
    ("mysql://u:p@host/db", "unsupported scheme 'mysql'"),
    ("sqlite://", "names no file"),
    ("sqlite:///:memory:", "names no file"),
    ("postgresql://u:p@127.0.0.1:1/", "names no database"),
    ("postgresql://u:p@127.0.0.1:99999/db", "has a bad port"),
])
def test_bad_database_urls(tmp_path, url, expected):
    found = texts(settings_for(tmp_path, database_url=url), checks.ERROR)
    assert len(found) == 1 and expected in found[0], found


def test_unreachable_postgresql_is_an_error_and_hides_the_password(tmp_path):
    with __import__("socket").socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    found = texts(settings_for(tmp_path, database_url=f"postgresql://app:topsecret@127.0.0.1:{port}/pairs"))
    assert len(found) == 1
    assert found[0].startswith(f"cannot connect to the PostgreSQL database 'postgresql://app:***@127.0.0.1:{port}/"
                               "pairs'")
    assert "topsecret" not in found[0]


def test_data_dir_that_is_a_file_or_on_a_read_only_filesystem(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    found = texts(settings_for(tmp_path, data_dir=str(a_file)), checks.ERROR)
    assert found == [f"the data folder is not usable: {str(a_file)!r} is a file, not a folder. Set PAIRS_DATA_DIR "
                     "or [SERVER] DATA_DIR to a folder the server's user may write (the systemd unit uses "
                     "/var/lib/pairs)."]
    # /proc refuses new files even to root (CI runs as root, for whom permission bits mean nothing)
    if os.path.ismount("/proc"):
        found = texts(settings_for(tmp_path, data_dir="/proc/pairs-data"), checks.ERROR)
        assert any("cannot write in '/proc (to create /proc/pairs-data)'" in t for t in found), found


def test_email_settings_incomplete_only_matter_when_enabled(tmp_path):
    assert texts(settings_for(tmp_path, mail_username="me")) == []
    settings = settings_for(tmp_path, enable_email_notifications=True, mail_username="me", mail_use_tls=True,
                            mail_recipient="not-an-address")
    assert texts(settings, checks.ERROR) == [
        "[EMAIL] notifications are enabled but MAIL_SERVER is still the example value 'smtp.example.com'.",
        "[EMAIL] notifications are enabled but MAIL_SENDER is still the example value 'sender@example.com'.",
        "[EMAIL] notifications are enabled but MAIL_RECIPIENT 'not-an-address' is not an e-mail address.",
        "[EMAIL] notifications are enabled but MAIL_USERNAME and MAIL_PASSWORD must be given together.",
        "[EMAIL] notifications are enabled but MAIL_USE_TLS and MAIL_USE_SSL are both on; use SSL (port 465) or "
        "STARTTLS (port 587), not both.",
    ]
    complete = settings_for(tmp_path, enable_email_notifications=True, mail_server="smtp.mail.me",
                            mail_sender="pairs@mail.me", mail_recipient="me@mail.me", mail_username="pairs",
                            mail_password="app-password")
    assert texts(complete) == []


def test_trusted_proxies(tmp_path):
    assert texts(settings_for(tmp_path, trusted_proxies="127.0.0.1, ::1, 10.0.0.0/8")) == []
    bad = texts(settings_for(tmp_path, trusted_proxies="127.0.0.1, localhost"), checks.ERROR)
    assert bad == ["[SERVER] TRUSTED_PROXIES: 'localhost' is not an IP address or network; list addresses or "
                   "networks separated by commas, e.g. 127.0.0.1, ::1"]
    everyone = texts(settings_for(tmp_path, trusted_proxies="0.0.0.0/0"), checks.ERROR)
    assert everyone[0].startswith("[SERVER] TRUSTED_PROXIES trusts every address (0.0.0.0/0)")
    assert texts(settings_for(tmp_path, trusted_proxies="8.8.8.8"), checks.WARNING)[0].startswith(
        "[SERVER] TRUSTED_PROXIES trusts the public network 8.8.8.8/32")
    loop = texts(settings_for(tmp_path, force_https=True), checks.WARNING)
    assert loop[0].startswith("[SERVER] FORCE_HTTPS is on but no TRUSTED_PROXIES is set")


def test_server_values(tmp_path):
    settings = settings_for(tmp_path, port=70000, log_level="LOUD", bcrypt_rounds=40, exchange_timezone="Mars/Base",
                            session_start="9.30", price_source="csv:/no/such/folder", host="0.0.0.0",
                            event_loop="trio")
    errors = texts(settings, checks.ERROR)
    assert errors == [
        "the port 70000 is not a port number (1-65535)",
        "the log level 'LOUD' is unknown; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        "[SERVER] EVENT_LOOP 'trio' is unknown; use one of auto, uvloop, asyncio",
        "[SERVER] BCRYPT_ROUNDS 40 is outside bcrypt's range 4-31",
        "[EXCHANGE] EXCHANGE_TIMEZONE 'Mars/Base' is not a time zone name (e.g. US/Eastern, America/Toronto)",
        "[EXCHANGE] SESSION_START must be HH:MM:SS, not '9.30'",
        "[SMA] PRICE_SOURCE names the folder '/no/such/folder', which does not exist",
    ]
    assert texts(settings, checks.WARNING)[0].startswith("pairs listens on 0.0.0.0, not only on loopback")


def run_cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PAIRS_", "WEBHOOK_", "DB_ADMIN"))}
    environment.update(env or {})
    return subprocess.run([sys.executable, str(PROJECT_DIR / "server.py"), *args], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("changes, expected", [
    ({"chart_days": 1}, "[SMA] CHART_DAYS must be at least 2 daily closes, not 1"),
    ({"entry_z": 1.0, "exit_z": 1.5}, "[SMA] EXIT_Z (1.5) must be at least 0 and below ENTRY_Z (1)"),
    ({"exit_z": -0.5}, "[SMA] EXIT_Z (-0.5) must be at least 0 and below ENTRY_Z (2)"),
    ({"screener_min_obs": 10}, "[SCREENER] MIN_OBS must be at least 30, not 10"),
    ({"screener_window": 100}, "[SCREENER] WINDOW (100) is below MIN_OBS (120): no pair could be tested"),
])
def test_chart_and_screener_values(tmp_path, changes, expected):
    assert texts(settings_for(tmp_path, **changes), checks.ERROR) == [expected]


def test_z_lines_are_read_as_numbers_from_the_config_file(tmp_path):
    config = tmp_path / "config.ini"
    config.write_text("[SMA]\nENTRY_Z = 2.5\nEXIT_Z = 0\nCHART_DAYS = 120\n[SCREENER]\nMIN_OBS = 60\n")
    settings = load_settings(config, environ={})
    assert (settings.entry_z, settings.exit_z, settings.chart_days, settings.screener_min_obs) == (2.5, 0.0, 120, 60)
    config.write_text("[SMA]\nENTRY_Z = two\n")
    with pytest.raises(ConfigError, match=r"\[SMA\] ENTRY_Z in .* must be a number, not 'two'"):
        load_settings(config, environ={})


def test_cli_exit_codes_and_output(tmp_path):
    (tmp_path / "config.ini").write_text("[SECRET]\nUSER1_USERNAME =\n[SERVER]\nDATA_DIR = data\n")
    url = f"sqlite:///{tmp_path}/data/pairs.db"
    bad = run_cli(tmp_path, "--database-url", url, "check-config")
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[0].startswith("error: the webhook passphrase is still the published default")
    assert bad.stdout.splitlines()[-1] == "2 error(s), 0 warning(s): fix the errors before starting the server."
    good = run_cli(tmp_path, "--database-url", url, "check-config",
                   env={"WEBHOOK_PASSPHRASE": "a-long-random-passphrase", "DB_ADMIN_PASS": "s3cret-admin"})
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[-1] == "configuration OK (0 warning(s))."
    unusable = run_cli(tmp_path, "check-config", env={"PAIRS_PORT": "eighty"})
    assert unusable.returncode == 2
    assert unusable.stderr.strip() == "pairs: environment variable PAIRS_PORT must be a whole number, not 'eighty'"
