"""Postman collections written for the original keep working (issue 13): newman runs the original collection's
login flow (its test script reads the ``_csrf_token`` cookie first) and then uses the tokens it saved."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import unavailable

HERE = Path(__file__).parent / "postman"
NEWMAN = HERE / "node_modules" / ".bin" / "newman"


@pytest.fixture
def newman(request: pytest.FixtureRequest) -> Path:
    if not NEWMAN.exists():
        unavailable(request.config, "newman", f"{NEWMAN} is missing (run: npm ci --prefix {HERE})")
    if shutil.which("node") is None:
        unavailable(request.config, "newman", "node is not installed (apt-get install nodejs)")
    return NEWMAN


@pytest.mark.gen_test(timeout=60)
async def test_original_login_script_saves_tokens_and_they_work(app, http_server, base_url, newman, tmp_path):
    report = tmp_path / "newman.json"
    proc = await asyncio.create_subprocess_exec(
        str(newman), "run", str(HERE / "login.postman_collection.json"), "--env-var", f"pairs_api_v4={base_url}/v4",
        "--reporters", "cli,json", "--reporter-json-export", str(report), "--bail",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await proc.communicate()
    await http_server.close_all_connections()  # newman's keep-alive sockets, closed by the server before teardown
    assert proc.returncode == 0, output.decode(errors="replace")
    run = json.loads(report.read_text())["run"]
    assert run["stats"]["requests"] == {"total": 4, "pending": 0, "failed": 0}
    assert run["stats"]["assertions"] == {"total": 5, "pending": 0, "failed": 0}
    assert [e["item"]["name"] for e in run["executions"]] == [
        "login(with a user)", "register (a ticker)", "ticker (details)", "refresh (token)"]
    assert run["failures"] == []


@pytest.mark.gen_test
async def test_login_sets_a_readable_csrf_cookie(api):
    reply = await api.post("/v4/login", {"username": "admin", "password": "password"})
    assert reply.code == 200
    cookies = [c for c in reply.headers.get_list("Set-Cookie") if c.startswith("_csrf_token=")]
    assert len(cookies) == 1
    attributes = [part.strip().lower() for part in cookies[0].split(";")[1:]]
    assert "path=/" in attributes and "samesite=lax" in attributes
    assert "httponly" not in attributes  # the script reads it
    assert len(cookies[0].split(";")[0]) > len("_csrf_token=") + 40


@pytest.mark.gen_test
async def test_failed_login_sets_no_csrf_cookie(api):
    reply = await api.post("/v4/login", {"username": "admin", "password": "wrong"})
    assert reply.code == 401
    assert not [c for c in reply.headers.get_list("Set-Cookie") if c.startswith("_csrf_token=")]
