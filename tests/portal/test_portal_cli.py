"""`engage serve` and `engage mail-links` as a newcomer runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _engage(*args: str, env: dict[str, str], **options: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from cli.app import main; main()", *args], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **env}, **options)  # type: ignore[call-overload]


@pytest.mark.database  # the SQLite database of a data folder
def test_serve_over_a_data_folder_and_list_mailed_links(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"ENGAGE_DATA_DIR": str(tmp_path), "ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'engage.db'}"}
    # no ENGAGE_SECRET_KEY: the key is generated into the data folder
    server = _engage("serve", "--port", str(port), env={**env, "ENGAGE_SECRET_KEY": ""}, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "engage serve did not start"
                time.sleep(0.2)
        assert page.status_code == 200 and "Coalition Engage" in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert httpx.get(f"http://127.0.0.1:{port}/submit", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
    key = tmp_path / "secret.key"
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"  # generated once, private
    missing = _engage("mail-links", env={**env, "ENGAGE_DATA_DIR": str(tmp_path / "nowhere")},
                      stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    _, error = missing.communicate(timeout=60)
    assert missing.returncode == 1 and b"no mail folder" in error


def test_the_portal_imports_no_prefect() -> None:
    check = "import sys, portal.app, portal.server; sys.exit(any(m.split('.')[0] == 'prefect' for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", check], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=120).returncode == 0
