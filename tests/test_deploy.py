"""The README's production block, run as written: ``deploy/engage.sh`` against scratch PostgreSQL databases.

The test reads the ``deploy/engage.sh`` lines of the README's block and runs them (only the portal's port
is changed to a free one), with env files made from the templates: the server (Prefect on PostgreSQL,
its UI told the public API address), the setup (schema, reference data, pool, deployments), a worker and
the portal. Then a run of every deployment, and a failing run that the secretariat's alert reports. A bad
setting makes the setup and the worker refuse before they touch anything, naming the setting.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
import signal
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from benchmarks.scratch_postgres import scratch_postgres
from models.db import Database
from states.clock import SimulatedClock
from tests.prefect_stack import answers, free_port, wait_until
from tests.world import awaiting_approval

PROJECT = Path(__file__).resolve().parents[1]
SCRIPT = PROJECT / "deploy" / "engage.sh"
ROLES = ["server", "setup", "worker", "portal", "dispatcher"]

pytestmark = [pytest.mark.postgres, pytest.mark.prefect, pytest.mark.timeout(1200)]


def readme_commands() -> list[str]:
    """The ``deploy/engage.sh`` lines of the README's production block."""
    text = (PROJECT / "README.md").read_text("utf-8")
    block = text.split("## Production set-up, in short", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.startswith("deploy/engage.sh")]


def test_the_readme_block_runs_every_role_of_the_script_in_order() -> None:
    commands = readme_commands()
    assert [command.split()[1] for command in commands] == ROLES
    usage = re.search(r"usage: deploy/engage.sh ([a-z|]+)", SCRIPT.read_text("utf-8"))
    assert usage and usage.group(1).split("|") == ROLES
    assert os.access(SCRIPT, os.X_OK)


class ChatReceiver(BaseHTTPRequestHandler):
    """The secretariat's chat: a JSON webhook (apprise ``json://``) recording what it is sent."""

    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _write_env(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{name}='{value}'\n" for name, value in values.items()), "utf-8")
    return path


def _run(command: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout)


def _start(command: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(command, shell=True, cwd=PROJECT, env=env, stdout=out, stderr=out, start_new_session=True)


def _json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """Two empty scratch PostgreSQL databases: the engine's and Prefect's."""
    from tests.conftest import POSTGRES_URL

    with scratch_postgres(POSTGRES_URL, prefix="deploy_engine") as engine, \
            scratch_postgres(POSTGRES_URL, prefix="deploy_prefect") as prefect:
        yield engine, prefect


def test_the_production_block_serves_runs_alerts_and_refuses_bad_settings(databases, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from notifications.mail_sink import running_mail_sink

    from website.render import MINISEARCH

    assert MINISEARCH.is_dir(), "the block's first step installs the site's search: make assets"
    engine_url, prefect_url = databases
    api_port, portal_port = free_port(), free_port()
    chat = ThreadingHTTPServer(("127.0.0.1", 0), ChatReceiver)
    ChatReceiver.received = []
    threading.Thread(target=chat.serve_forever, daemon=True).start()
    public_api = "https://prefect.coalition.example/api"
    base = {key: value for key, value in os.environ.items() if not key.startswith(("ENGAGE_", "PREFECT_"))}
    prefect_env = _write_env(tmp_path / "prefect.env", {
        "PREFECT_API_URL": f"http://127.0.0.1:{api_port}/api", "PREFECT_UI_API_URL": public_api,
        "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(api_port),
        "PREFECT_API_DATABASE_CONNECTION_URL": make_url(prefect_url).set(drivername="postgresql+asyncpg")
        .render_as_string(hide_password=False),
    })
    commands = dict(zip(ROLES, readme_commands(), strict=True))
    commands["portal"] = commands["portal"].replace("--port 8000", f"--port {portal_port}")
    processes: list[subprocess.Popen] = []
    maildir = tmp_path / "Maildir"
    with running_mail_sink(maildir) as smtp_port:
        settings = {
            "ENGAGE_DATA_DIR": str(tmp_path / "data"), "ENGAGE_DATABASE_URL": engine_url,
            "ENGAGE_SMTP_HOST": "127.0.0.1", "ENGAGE_SMTP_PORT": str(smtp_port),
            "ENGAGE_CHAT_URLS": f"json://127.0.0.1:{chat.server_address[1]}/",
            "ENGAGE_PUBLIC_BASE_URL": f"http://127.0.0.1:{portal_port}",
        }
        bad = _write_env(tmp_path / "bad.env", {**settings, "ENGAGE_SMTP_PORT": "twenty-five"})
        good = _write_env(tmp_path / "engage.env", settings)
        refused_env = {**base, "ENGAGE_ENV_FILE": str(bad), "PREFECT_ENV_FILE": str(prefect_env)}
        env = {**base, "ENGAGE_ENV_FILE": str(good), "PREFECT_ENV_FILE": str(prefect_env)}
        try:
            # A broken setting: the setup and the worker refuse, naming it; the engine's database is untouched.
            for role in ("setup", "worker", "dispatcher"):
                done = _run(commands[role], refused_env, timeout=120)
                assert done.returncode != 0, (role, done.stdout, done.stderr)
                assert "ENGAGE_SMTP_PORT" in done.stdout + done.stderr, (role, done.stdout, done.stderr)
                assert "twenty-five" not in done.stdout + done.stderr
            assert inspect(create_engine(engine_url)).get_table_names() == []

            # 1. The server, its UI pointed at the public API address.
            processes.append(_start(commands["server"], env, tmp_path / "server.log"))
            wait_until("the Prefect server", lambda: answers(f"http://127.0.0.1:{api_port}/api/health"), timeout=180)
            ui = _json(f"http://127.0.0.1:{api_port}/ui-settings")
            assert ui is not None and ui["api_url"] == public_api, ui
            # 2. The setup: schema, reference data, pool, deployments.
            done = _run(commands["setup"], env)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "7 sub working groups" in done.stdout, done.stdout
            # 3. A worker, 4. the portal, 5. the dispatcher.
            processes.append(_start(commands["worker"], env, tmp_path / "worker.log"))
            processes.append(_start(commands["portal"], env, tmp_path / "portal.log"))
            processes.append(_start(commands["dispatcher"], env, tmp_path / "dispatcher.log"))
            wait_until("the portal", lambda: answers(f"http://127.0.0.1:{portal_port}/"), timeout=120)

            db = Database(engine_url)
            imported = _run(".venv/bin/engage import-partners sample_data/partners.csv", {**env, **settings})
            assert imported.returncode == 0, imported.stdout + imported.stderr
            engagement = awaiting_approval(db, SimulatedClock(datetime.now(timezone.utc)), swg="1.1", partner="Meta")
            wait_until("the approval requests, sent by the dispatcher as they were queued",  # no schedule is due
                       lambda: maildir.exists() and len(mailbox.Maildir(maildir, create=False)) >= 1, timeout=60)
            with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{api_port}/api"}), \
                    get_client(sync_client=True) as client:
                deployments = {d.name: d for d in client.read_deployments()}
                parameters = {"co-chair-approval": {"engagement_id": engagement},
                              "approval-follow-up": {"engagement_id": 999_999}}  # no such engagement: it fails
                started = {name: run_deployment(f"{name}/{name}", parameters=parameters.get(name, {}), timeout=0)
                           for name in deployments if name != "secretariat-alert"}

                def ended(name: str):  # noqa: ANN202
                    state = client.read_flow_run(started[name].id).state
                    return state if state.is_final() or (name == "co-chair-approval" and state.is_paused()) else None

                states = {name: wait_until(f"the {name} run", lambda name=name: ended(name), timeout=600)
                          for name in started}
                assert states["co-chair-approval"].is_paused()
                assert states["approval-follow-up"].is_failed()
                assert {name for name, state in states.items() if state.is_completed()} == set(started) - {
                    "co-chair-approval", "approval-follow-up"}, {n: (s.name, s.message) for n, s in states.items()}

                # The failing run is reported to the secretariat's chat by the alert deployment.
                failed = client.read_flow_run(started["approval-follow-up"].id).name
                wait_until("the alert in the chat", lambda: any(failed in json.dumps(post)
                                                               for post in ChatReceiver.received), timeout=300)
                alerts = [run for run in client.read_flow_runs(limit=200)
                          if run.deployment_id == deployments["secretariat-alert"].id]
                assert alerts and any(run.parameters.get("run_name") == failed for run in alerts)
        finally:
            for process in processes:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
            chat.shutdown()
