"""`pip install .` gives a `pairs` command that is `python server.py` by another name (issue 10).

The package is built with pip from a copy of the source files and installed into a fresh virtual environment, then
run from another folder, so nothing can come from the checkout.  Offline and in seconds: the new environment is made
without pip, and one .pth line lends it the project venv's site-packages, where pip and the dependencies pinned in
requirements.txt already are; pip installs the package itself (``--no-deps``, ``--no-build-isolation``), and the
test checks that the installed metadata requires exactly that pinned set, which a plain ``pip install .`` fetches.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import _free_port, wait_until

from pairs.config import PROJECT_DIR

SOURCES = ("pyproject.toml", "setup.cfg", "requirements.txt", "server.py", "pairs", "handlers", "templates", "static",
           "data-demo")
SUB_COMMANDS = ("serve", "create-user", "reset-password", "demo", "check-config", "backup", "restore",
                "refresh-prices", "yahoo-symbol", "screen")
CONFIG = """[SECRET]
WEBHOOK_PASSPHRASE = a-long-webhook-passphrase-for-the-test
ADMIN_PASSWORD = a-long-admin-password-for-the-test
USER1_PASSWORD = a-long-user1-password-for-the-test
[SMA]
ENABLE_SMA_CALC = False
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("package")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        path = PROJECT_DIR / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    target = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    site = Path(subprocess.run([target / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip())
    (site / "project-venv.pth").write_text(str(Path(sysconfig.get_paths()["purelib"]).resolve()) + "\n")
    install = subprocess.run([target / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                              "--no-index", "--disable-pip-version-check", "--quiet", str(source)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    return target


def environment(home: Path) -> dict[str, str]:
    """The user's environment without the checkout's or the test run's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAIRS_", "PYTHON", "XDG_")) and k not in (
        "DATABASE_URL_SQLALCHEMY", "WEBHOOK_PASSPHRASE", "DB_ADMIN_PASS", "JWT_SECRET_KEY")}
    env["HOME"] = str(home)
    return env


def pairs_command(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([venv / "bin" / "pairs", *args], cwd=cwd, env=environment(cwd / "home"),
                          capture_output=True, text=True, timeout=120)


def test_the_package_holds_the_server_and_requires_the_pinned_dependencies(venv, tmp_path):
    where = subprocess.run([venv / "bin" / "python", "-c", "import handlers.app, importlib.metadata, pairs.demo, "
                            "server; print(server.__file__, pairs.__file__, handlers.app.ASSETS_DIR, "
                            "pairs.demo.DEMO_PRICES, sep='\\n'); print(*importlib.metadata.requires('pairs'), sep='\\n')"],
                           cwd=tmp_path, env=environment(tmp_path), capture_output=True, text=True, check=True)
    server_file, pairs_file, assets, demo_prices, *requires = where.stdout.splitlines()
    site = str(venv / "lib")
    assert all(path.startswith(site) for path in (server_file, pairs_file, assets, demo_prices))
    assert sorted(Path(assets, "templates").glob("*.html")) and Path(assets, "static", "docs", "docs.js").is_file()
    shipped = sorted(path.name for path in (PROJECT_DIR / "data-demo" / "prices").glob("*.csv"))
    assert shipped and sorted(path.name for path in Path(demo_prices).glob("*.csv")) == shipped
    pinned = [line.split("#")[0] for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()]
    assert [normal(r) for r in requires] == [normal(p) for p in pinned if p.strip()]


def normal(requirement: str) -> str:
    """``curl_cffi==0.17.0`` and ``curl-cffi == 0.17.0`` are the same requirement."""
    name, rest = re.fullmatch(r"([\w.\-]+)(.*)", requirement.replace(" ", "")).groups()
    return name.lower().replace("_", "-") + rest


def test_pairs_help_lists_every_sub_command(venv, tmp_path):
    result = pairs_command(venv, tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: pairs ")
    for name in SUB_COMMANDS:
        assert name in result.stdout, name
    sub = pairs_command(venv, tmp_path, "refresh-prices", "--help")
    assert sub.returncode == 0 and sub.stdout.startswith("usage: pairs refresh-prices ")


def test_pairs_check_config_keeps_data_out_of_site_packages(venv, tmp_path):
    (tmp_path / "config.ini").write_text(CONFIG)
    result = pairs_command(venv, tmp_path, "check-config")
    data = tmp_path / "home" / ".local" / "share" / "pairs"  # installed: the user's data folder
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"database: sqlite:///{data}/pairs.db; data folder: {data}" in result.stdout
    assert result.stdout.strip().endswith("configuration OK (0 warning(s)).")


def test_an_installed_pairs_serves_the_api_and_the_dashboard(venv, tmp_path):
    (tmp_path / "config.ini").write_text(CONFIG)
    port = _free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([venv / "bin" / "pairs", "--port", str(port)], cwd=tmp_path,
                                  env={**environment(tmp_path / "home"), "PAIRS_BCRYPT_ROUNDS": "4"}, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "listening on" in log.read_text() or server.poll() is not None, 30, "the server to start")
        assert server.poll() is None, log.read_text()
        answers = {}
        for path in ("/dashboard", "/static/app.css", "/docs", "/v4/openapi.json", "/healthz"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path)
            response = conn.getresponse()
            answers[path] = (response.status, response.read())
            conn.close()
        assert {path: status for path, (status, _) in answers.items()} == dict.fromkeys(answers, 200)
        assert b"<title>DASHBOARD" in answers["/dashboard"][1]
        assert answers["/static/app.css"][1] == (PROJECT_DIR / "static" / "app.css").read_bytes()
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    assert "stopped cleanly" in log.read_text()
