"""No configured secret in any output: every CLI command that prints a URL or a setting, the portal's start line,
and the log of flow runs, with a database URL, an SMTP password, chat URLs and a signing key that hold known secrets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from models.db import Database, masked_url
from settings import Settings

PROJECT = Path(__file__).resolve().parents[1]
DB_PASSWORD = "Db-Pass-4f9a1c"
SMTP_PASSWORD = "Smtp-Pass-77b2e"
CHAT_SECRETS = ("Chat-Pass-1d3e", "TokA-5x91", "TokB-6y28", "TokC-7z43")
SIGNING_KEY = "Signing-Key-0c8b7a6d5e4f3a2b1c0d9e8f7a6b5c4d"
SECRETS = (DB_PASSWORD, SMTP_PASSWORD, *CHAT_SECRETS, SIGNING_KEY)
ENGAGEMENT = ('{"kind": "swg_presentation", "title": "Meta at SWG 2.2", "swg_code": "2.2", "details": {"topic": "Sales"}, '
              '"participants": [{"organization": "Meta", "role": "presenter", "contact_email": "policy@meta.example"}]}')


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def secret_env(postgres_db: Database, tmp_path: Path) -> dict[str, str]:
    """The environment of a production set-up whose every secret is known: the session's PostgreSQL database
    (trust authentication ignores the password), an SMTP relay and chat targets that are down."""
    url = make_url(postgres_db.url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    port = closed_port()
    kept = {key: value for key, value in os.environ.items() if not key.upper().startswith("ENGAGE_")}
    return kept | {
        "PYTHONPATH": str(PROJECT), "COLUMNS": "250", "PYTHONUNBUFFERED": "1",
        "ENGAGE_DATA_DIR": str(tmp_path / "data"), "ENGAGE_DATABASE_URL": url,
        "ENGAGE_SMTP_PORT": str(port), "ENGAGE_SMTP_USERNAME": "engage", "ENGAGE_SMTP_PASSWORD": SMTP_PASSWORD,
        "ENGAGE_CHAT_URLS": f"json://engage:{CHAT_SECRETS[0]}@127.0.0.1:{port}/hook,"
                            f"slack://{CHAT_SECRETS[1]}/{CHAT_SECRETS[2]}/{CHAT_SECRETS[3]}",
        "ENGAGE_SECRET_KEY": SIGNING_KEY, "ENGAGE_PUBLIC_BASE_URL": f"https://portal:{DB_PASSWORD}@engage.example",
    }


def leaked(output: str) -> list[str]:
    return [secret for secret in SECRETS if secret in output]


def engage(args: list[str], env: dict[str, str]) -> str:
    """What ``engage ARGS`` prints (stdout and stderr)."""
    done = subprocess.run([sys.executable, "-c", "import sys; from cli.app import main; sys.exit(main())", *args],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=180)
    return done.stdout + done.stderr


def test_masked_url_hides_every_password_in_a_text() -> None:
    text = f"could not reach postgresql+psycopg://postgres:{DB_PASSWORD}@db:5432/engage or json://u:p:q@h/x"
    assert masked_url(text) == "could not reach postgresql+psycopg://postgres:***@db:5432/engage or json://u:***@h/x"
    assert masked_url("sqlite:////srv/engage/engage.db") == "sqlite:////srv/engage/engage.db"
    assert repr(Database(f"postgresql+psycopg://postgres:{DB_PASSWORD}@127.0.0.1:1/x")).count("***") == 1
    shown = Settings(database_url=f"postgresql+psycopg://postgres:{DB_PASSWORD}@db/engage", smtp_password=SMTP_PASSWORD,
                     chat_urls=f"slack://{CHAT_SECRETS[1]}/{CHAT_SECRETS[2]}", secret_key=SIGNING_KEY).shown()
    assert not leaked(str(shown))
    assert shown["ENGAGE_CHAT_URLS"] == "slack://***" and shown["ENGAGE_SMTP_PASSWORD"] == "***"


def test_no_command_prints_a_secret(secret_env: dict[str, str]) -> None:
    outputs = {}
    for command in (["migrate"], ["check-config"], ["load-sample"], ["create", "--json", ENGAGEMENT], ["list"],
                    ["fire", "1", "request_approval", "--role", "system"],
                    ["decline", "1", "--as", "swg22.france@cochairs.example"],
                    ["decline", "1", "--as", "swg22.unodc@cochairs.example"],  # the secretariat is told, in chat too
                    ["show", "1"], ["history", "1"], ["outbox"], ["org", "show", "Meta"], ["--debug", "show", "99"]):
        outputs[" ".join(command)] = output = engage(command, secret_env)
        assert not leaked(output), (command, output)
    assert "postgres:***@" in outputs["migrate"] and "ENGAGE_SMTP_PASSWORD=***" in outputs["check-config"]
    assert "ENGAGE_CHAT_URLS=json://***,slack://***" in outputs["check-config"]
    assert "created engagement 1" in outputs["create --json " + ENGAGEMENT]
    assert "json://[redacted]" in outputs["outbox"] and "slack://[redacted]" in outputs["outbox"]

    unreachable = secret_env | {"ENGAGE_DATABASE_URL": f"postgresql+psycopg://postgres:{DB_PASSWORD}@127.0.0.1:1/engage"}
    for command in (["--debug", "list"], ["--debug", "migrate"]):
        output = engage(command, unreachable)
        assert "error:" in output and not leaked(output), (command, output)


def test_the_portal_start_line_is_masked(secret_env: dict[str, str]) -> None:
    port = closed_port()
    portal = subprocess.Popen([sys.executable, "-c", "import sys; from cli.app import main; sys.exit(main())",
                               "serve", "--port", str(port)], cwd=PROJECT, env=secret_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = portal.stdout.readline()  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the portal answers: it got past its start line
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
    finally:
        portal.terminate()
        rest, _ = portal.communicate(timeout=30)
    assert line.startswith(f"portal on http://127.0.0.1:{port} over postgresql+psycopg://postgres:***@"), line
    assert "mails link to https://portal:***@engage.example" in line
    assert not leaked(line + rest)


FLOWS = """
import asyncio
from flows.alerts import secretariat_alert
from flows.dispatch import dispatch_flow
from flows.publication import publication_flow

print(asyncio.run(publication_flow()))
print(asyncio.run(dispatch_flow(return_state=True)).name)  # DeliveryFailed: the relay is down
print(secretariat_alert(run_name="publish-website", state="Failed", message="test"))
"""


@pytest.mark.prefect
def test_flow_run_logs_hold_no_secret(secret_env: dict[str, str], tmp_path: Path) -> None:
    """The publication, dispatch and alert flows on Prefect's own temporary API, with mail and chat down."""
    engage(["load-sample"], secret_env)
    assert "created engagement 1" in engage(["create", "--json", ENGAGEMENT], secret_env)
    assert "queued" in engage(["fire", "1", "request_approval", "--role", "system"], secret_env)
    env = secret_env | {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_LOGGING_LEVEL": "INFO",
                        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": "",
                        # a loaded machine (the suite on two cores) can take longer than Prefect's 20 s default
                        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}
    done = subprocess.run([sys.executable, "-c", FLOWS], cwd=PROJECT, env=env, capture_output=True, text=True,
                          timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Finished in state Completed" in output and "DeliveryFailed" in output and "'posted': 0" in output
    assert "| apprise - " in output  # apprise logged about the targets (it names tokens in its warnings)
    assert not leaked(output), output[-3000:]
