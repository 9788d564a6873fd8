"""The files in deploy/: the systemd unit, the nginx site in front of a live pairs, Caddy, the examples."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import _free_port, unavailable, wait_until

from pairs import checks
from pairs.config import PROJECT_DIR, load_settings
from pairs.db import DeliveryLog

DEPLOY = PROJECT_DIR / "deploy"
SITE_NAME = "pairs.example.com"
CLIENT_ADDRESS = "127.0.0.2"  # the "internet" client: any loopback address other than the proxy's own


# ---------------------------------------------------------------------------------------------------------------
# systemd


def unit_settings() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd/pairs.service").read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_systemd_unit_runs_a_hardened_service_as_its_own_user():
    unit = unit_settings()
    expected = {"User": ["pairs"], "Restart": ["on-failure"], "ProtectSystem": ["strict"], "PrivateTmp": ["true"],
                "NoNewPrivileges": ["true"], "ProtectHome": ["true"], "StateDirectory": ["pairs"],
                "ReadWritePaths": ["/var/lib/pairs"], "EnvironmentFile": ["/etc/pairs/pairs.env"]}
    assert {key: unit.get(key) for key in expected} == expected
    assert "PAIRS_DATA_DIR=/var/lib/pairs" in unit["Environment"][0].split()
    assert unit["ExecStart"] == ["/opt/pairs/.venv/bin/python server.py --config /etc/pairs/config.ini"]
    assert unit["ExecStartPre"][0].endswith("--config /etc/pairs/config.ini check-config")


def test_systemd_unit_passes_systemd_analyze_verify(request, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # .ci/run installs Debian's systemd package, which ships it
        unavailable(request.config, "systemd", "systemd-analyze is not installed (apt-get install systemd); the "
                    "unit's content is checked by the test above")
    python = PROJECT_DIR / ".venv/bin/python"
    text = (DEPLOY / "systemd/pairs.service").read_text()
    text = text.replace("/opt/pairs/.venv/bin/python", str(python if python.exists() else sys.executable))
    text = text.replace("/opt/pairs", str(PROJECT_DIR))
    unit = tmp_path / "pairs.service"
    unit.write_text(text)
    run = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (run.stdout + run.stderr).splitlines()
                if "pairs.service" in line and "User" not in line]  # the pairs user exists only on a real host
    assert run.returncode == 0 and problems == [], run.stdout + run.stderr


# ---------------------------------------------------------------------------------------------------------------
# nginx


@dataclasses.dataclass
class Proxy:
    """A reverse proxy started from one of the deploy/ files, with its state in a test folder."""
    binary: str
    folder: Path
    https_port: int
    http_port: int

    def environment(self) -> dict[str, str]:
        return dict(os.environ)


class Nginx(Proxy):
    @property
    def config(self) -> Path:
        return self.folder / "nginx.conf"

    def command(self, *extra: str) -> list[str]:
        return [self.binary, "-p", str(self.folder), "-c", str(self.config), *extra]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make a test certificate (apt-get install openssl)")
    cert, key = folder / "fullchain.pem", folder / "privkey.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    f"/CN={SITE_NAME}", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    return cert, key


def prepare_nginx(request: pytest.FixtureRequest, folder: Path, pairs_port: int) -> Nginx:
    """deploy/nginx/pairs.conf with only what differs on a test machine substituted: the ports (loopback, free),
    the certificate (made here), the upstream port; wrapped in a main config with private paths."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if binary is None:
        unavailable(request.config, "nginx", "nginx is not installed (apt-get install nginx)")
    nginx = Nginx(binary, folder, _free_port(), _free_port())
    cert, key = make_certificate(folder)
    site = (DEPLOY / "nginx/pairs.conf").read_text()
    replacements = [
        (r"listen \[::\]:\d+( ssl)?;\n", ""),  # IPv6 may be missing in a test container
        (r"listen 443 ssl;", f"listen 127.0.0.1:{nginx.https_port} ssl;"),
        (r"listen 80;", f"listen 127.0.0.1:{nginx.http_port};"),
        (rf"/etc/letsencrypt/live/{re.escape(SITE_NAME)}/fullchain\.pem", str(cert)),
        (rf"/etc/letsencrypt/live/{re.escape(SITE_NAME)}/privkey\.pem", str(key)),
        (r"proxy_pass http://127\.0\.0\.1:5000;", f"proxy_pass http://127.0.0.1:{pairs_port};"),
    ]
    for pattern, replacement in replacements:
        site, count = re.subn(pattern, replacement, site)
        assert count >= 1, f"deploy/nginx/pairs.conf no longer has {pattern!r}; update this test"
    (folder / "pairs.conf").write_text(site)
    temp_paths = "".join(f"    {kind}_temp_path {folder}/{kind}_temp;\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    nginx.config.write_text(
        f"daemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log info;\n"
        f"{'user root;' if os.geteuid() == 0 else ''}\n"
        "events { worker_connections 64; }\n"
        f"http {{\n    access_log {folder}/access.log;\n{temp_paths}    include {folder}/pairs.conf;\n}}\n")
    return nginx


@pytest.fixture
def settings(settings):
    """pairs behind the proxy: X-Forwarded-For is believed from 127.0.0.1 only."""
    return dataclasses.replace(settings, trusted_proxies="127.0.0.1")


def test_nginx_site_passes_nginx_t(request, tmp_path):
    nginx = prepare_nginx(request, tmp_path, 5000)
    run = subprocess.run(nginx.command("-t"), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "test is successful" in run.stderr


def https_request(port: int, request_bytes: bytes) -> bytes:
    """One request over TLS from CLIENT_ADDRESS, as a client on the internet would send it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test certificate is self-signed
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(CLIENT_ADDRESS, 0)) as raw:
        with context.wrap_socket(raw, server_hostname=SITE_NAME) as tls:
            tls.sendall(request_bytes)
            chunks = []
            while chunk := tls.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def http_message(method: str, path: str, body: bytes, headers: dict[str, str], length: int | None = None) -> bytes:
    """The request as bytes; ``length`` announces a body longer than the one sent (the proxy answers on the head)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {SITE_NAME}", "Connection: close",
             f"Content-Length: {len(body) if length is None else length}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def prepare_proxy(name: str, request: pytest.FixtureRequest, folder: Path, pairs_port: int) -> Proxy:
    return {"nginx": prepare_nginx, "caddy": prepare_caddy}[name](request, folder, pairs_port)


@pytest.mark.parametrize("proxy", ["nginx", "caddy"])
@pytest.mark.gen_test(timeout=60)
async def test_proxy_in_front_of_pairs_records_the_real_client_address(proxy, request, tmp_path, app, http_server,
                                                                        http_port, io_loop):
    server = prepare_proxy(proxy, request, tmp_path, http_port)
    process = subprocess.Popen(server.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=server.environment())
    try:
        wait_until(lambda: process.poll() is not None or _listening(server.https_port), 20, f"{proxy} to start")
        assert process.poll() is None, process.stdout.read().decode()
        # a client that claims to be someone else: the proxy passes on the address it really sees, pairs takes it
        body = json.dumps({"passphrase": "webhook", "symbol": "NOPE", "active_pos": 1}).encode()
        message = http_message("PUT", "/v4/ticker/pnl", body, {"Content-Type": "application/json",
                                                              "X-Forwarded-For": "203.0.113.66"})
        raw = await io_loop.run_in_executor(None, https_request, server.https_port, message)
        status, headers, answer = split_response(raw)
        assert status == 404, raw
        assert headers["content-type"] == "application/json"
        assert json.loads(answer) == {"message": "item not found."}
        await app.ctx.store.write(lambda: None)  # the delivery row was queued before this: it is committed now
        row = DeliveryLog.select().order_by(DeliveryLog.id.desc()).get()
        assert (row.peer, row.route, row.status) == (CLIENT_ADDRESS, "/v4/ticker/pnl", 404)
        assert '"passphrase": "***"' in row.body

        # exactly the limit passes through to pairs (which refuses the text for what it says, not its size) ...
        at_limit = http_message("POST", "/v4/webhook", b"x" * 65536, {"Content-Type": "text/plain"})
        status, headers, answer = split_response(
            await io_loop.run_in_executor(None, https_request, server.https_port, at_limit))
        assert (status, headers["content-type"]) == (400, "application/json")
        # ... one byte more is refused by the proxy, in JSON, as soon as it has read the head (so the test sends
        # only the head: a proxy may close the connection while a client is still sending the body)
        too_big = http_message("POST", "/v4/webhook", b"", {"Content-Type": "text/plain"}, length=65537)
        status, headers, answer = split_response(
            await io_loop.run_in_executor(None, https_request, server.https_port, too_big))
        assert status == 413
        assert headers["content-type"].split(";")[0] == "application/json"
        assert json.loads(answer) == {"message": "the request body is larger than 65536 bytes."}
        await app.ctx.store.write(lambda: None)
        assert [row.status for row in DeliveryLog.select().order_by(DeliveryLog.id)] == [404, 400]
    finally:
        process.terminate()
        process.wait(15)
        process.stdout.close()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------------------------
# Caddy and the examples


class Caddy(Proxy):
    @property
    def config(self) -> Path:
        return self.folder / "Caddyfile"

    def command(self, *extra: str) -> list[str]:
        return [self.binary, *(extra or ("run",)), "--config", str(self.config), "--adapter", "caddyfile"]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.folder), "XDG_DATA_HOME": str(self.folder / "data"),
                "XDG_CONFIG_HOME": str(self.folder / "config")}


def prepare_caddy(request: pytest.FixtureRequest, folder: Path, pairs_port: int) -> Caddy:
    """deploy/caddy/Caddyfile with a certificate from Caddy's own test CA instead of Let's Encrypt, free loopback
    ports and the upstream port; global options keep Caddy's state in the test folder and its admin API off."""
    binary = shutil.which("caddy")
    if binary is None:
        unavailable(request.config, "caddy", "caddy is not installed (apt-get install caddy)")
    caddy = Caddy(binary, folder, _free_port(), _free_port())
    site = (DEPLOY / "caddy/Caddyfile").read_text()
    replacements = [
        (rf"^{re.escape(SITE_NAME)} {{$", f"{SITE_NAME} {{\n\ttls internal"),
        (r"reverse_proxy 127\.0\.0\.1:5000$", f"reverse_proxy 127.0.0.1:{pairs_port}"),
    ]
    for pattern, replacement in replacements:
        site, count = re.subn(pattern, replacement, site, flags=re.MULTILINE)
        assert count == 1, f"deploy/caddy/Caddyfile no longer has {pattern!r}; update this test"
    caddy.config.write_text(
        f"{{\n\tadmin off\n\tstorage file_system {folder}/storage\n\tskip_install_trust\n"
        f"\tauto_https disable_redirects\n\thttp_port {caddy.http_port}\n\thttps_port {caddy.https_port}\n}}\n"
        + site)
    return caddy


def test_caddyfile_passes_caddy_validate(request, tmp_path):
    caddy = prepare_caddy(request, tmp_path, 5000)
    run = subprocess.run(caddy.command("validate"), capture_output=True, text=True, timeout=60,
                         env=caddy.environment())
    assert run.returncode == 0, run.stderr
    assert "Valid configuration" in run.stdout + run.stderr


def test_caddy_and_nginx_sites_cap_the_body_where_pairs_does():
    caddy = (DEPLOY / "caddy/Caddyfile").read_text()
    assert re.search(r"^\s+max_size 64KiB$", caddy, re.MULTILINE)  # KiB: Caddy's KB are 1000 bytes
    nginx = (DEPLOY / "nginx/pairs.conf").read_text()
    assert "client_max_body_size 64k;" in nginx
    assert load_settings(None, environ={}).body_limit == 64 * 1024


def test_caddys_content_length_matcher_is_exactly_over_the_limit():
    """The live test sends 65536 and 65537 bytes; the pattern (RE2, which Python's re reads alike here) must hold for
    every other length too: a length of 100000 or 70000 answered by pairs would be a 413 without the proxy's JSON."""
    caddy = (DEPLOY / "caddy/Caddyfile").read_text()
    (pattern,) = re.findall(r"^\s*@too_large header_regexp Content-Length (\S+)$", caddy, re.MULTILINE)
    limit = load_settings(None, environ={}).body_limit
    too_large = re.compile(pattern)
    lengths = [*range(200_001), 999_999, 1_000_000, 10**12]
    assert [n for n in lengths if bool(too_large.search(str(n))) != (n > limit)] == []


def env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_the_examples_load_and_check_config_asks_for_real_secrets(tmp_path):
    environ = {**env_file(DEPLOY / "pairs.env.example"), "PAIRS_DATA_DIR": str(tmp_path)}
    settings = load_settings(DEPLOY / "config.ini.example", environ=environ)
    assert settings.trusted_proxies == "127.0.0.1, ::1"
    assert settings.user1_username == ""
    errors = [f.text for f in checks.check_settings(settings) if f.level == checks.ERROR]
    assert [e.split(" ")[0] for e in errors] == ["DB_ADMIN_PASS", "JWT_SECRET_KEY", "WEBHOOK_PASSPHRASE"]
    real = {key: os.urandom(24).hex() if value.startswith("change-me") else value for key, value in environ.items()}
    settings = load_settings(DEPLOY / "config.ini.example", environ=real)
    assert checks.check_settings(settings) == []
