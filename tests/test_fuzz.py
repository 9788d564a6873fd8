"""Schemathesis against a live server from its own /v4/openapi.json: no 5xx, every answer as documented."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import JWT_SECRET, _free_port, wait_until

from handlers import openapi, routes
from pairs.config import PROJECT_DIR

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")
PASSPHRASE = "fuzz-passphrase-0123456789"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def live_server(tmp_path: Path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAIRS_", "WEBHOOK_", "DB_ADMIN", "JWT_"))}
    env.update(WEBHOOK_PASSPHRASE=PASSPHRASE, JWT_SECRET_KEY=JWT_SECRET, DB_ADMIN_PASS="fuzz-admin-password",
               PAIRS_BCRYPT_ROUNDS="4", PAIRS_DATA_DIR=str(tmp_path), PAIRS_LOG_LEVEL="WARNING",
               PAIRS_PRICE_SOURCE=f"csv:{PROJECT_DIR / 'tests' / 'fixtures' / 'prices'}")  # a screener run: no network
    # the fuzzer logs in from one address with made-up passwords: without a high limit the login form and
    # /v4/login would answer 429 to nearly everything after the fifth try, and their parsing would go untested
    (tmp_path / "config.ini").write_text("[SERVER]\nLOGIN_MAX_FAILURES = 1000000\n")
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([sys.executable, str(PROJECT_DIR / "server.py"), "--port", str(port),
                               "--database-url", f"sqlite:///{tmp_path}/fuzz.db"], cwd=tmp_path, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: server.poll() is not None or _answers(base + "/healthz"), 30, "the server to start")
        assert server.poll() is None, (tmp_path / "server.log").read_text()
        yield base, tmp_path / "server.log"
    finally:
        server.terminate()
        server.wait(15)
        log.close()


def run_schemathesis(location: str, base: str, server_log: Path, tmp_path: Path, max_time: int) -> str:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli, "schemathesis is in requirements-dev.txt; run `make test` to install it"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks", "PYTHONPATH": str(PROJECT_DIR),
           "FUZZ_JWT_SECRET": JWT_SECRET, "FUZZ_PASSPHRASE": PASSPHRASE, "FUZZ_DATABASE": str(tmp_path / "fuzz.db"),
           "NO_COLOR": "1"}
    # bounded: a fixed seed, a few examples per operation, and a time budget for the whole run.  One worker:
    # with two, hypothesis' lambda-source cache (shared by the worker threads) now and then fails an internal
    # assertion (hypothesis 6.170, seen once in about five runs), which is a fuzzer fault, not the server's.
    run = subprocess.run([cli, "run", location, "--url", base, "--checks", ",".join(CHECKS),
                          "--max-examples", "25", "--max-time", str(max_time), "--seed", "20261125", "--workers",
                          "1", "--request-timeout", "10", "--phases", "examples,coverage,fuzzing", "--no-shrink",
                          "--suppress-health-check", "all"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=max_time + 90)
    report = run.stdout[-6000:] + run.stderr[-3000:]
    assert run.returncode == 0, report + "\n--- server log ---\n" + server_log.read_text()[-4000:]
    assert "Tested: 0" not in run.stdout
    return run.stdout


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(live_server, tmp_path):
    base, server_log = live_server
    run_schemathesis(f"{base}/v4/openapi.json", base, server_log, tmp_path, 60)


def test_schemathesis_on_the_dashboard_pages_query_and_form_arguments(live_server, tmp_path):
    """The pages answer HTML, so they have their own description, built from the same Arg tables."""
    base, server_log = live_server
    document = tmp_path / "pages-openapi.json"
    description = openapi.build_pages_document(routes.ROUTES)
    document.write_text(json.dumps(description))
    out = run_schemathesis(str(document), base, server_log, tmp_path, 40)
    operations = sum(len(methods) for methods in description["paths"].values())
    assert operations >= 11 and f"Tested: {operations}" in out, out[-3000:]
