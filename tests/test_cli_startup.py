"""The read path of the CLI: the database URL without pydantic-settings, and what read-only commands import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.environment import database_url
from settings import Settings
from tests.world import clock_at, new_engagement, seeded

PROJECT = Path(__file__).resolve().parents[1]

# Top-level packages a read-only command may import, besides the standard library. Adding one here is a
# decision: each costs every `engage list` its import time.
ALLOWED = {
    "cli", "models", "states",                                       # the project's read path
    "typer", "shellingham", "annotated_doc",                           # the command line
    "rich", "pygments", "markdown_it", "mdurl", "linkify_it", "attr",  # tables, and the help's markdown
    "pydantic", "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection",  # typer's coercion
    "sqlalchemy",                                                      # the queries
}
# What they must never pay for: orchestration, migrations, templating, chat, settings machinery, input checks.
FORBIDDEN = {"prefect", "alembic", "jinja2", "apprise", "pydantic_settings", "dotenv", "aiosmtpd", "nh3",
             "email_validator", "pycountry", "transitions", "psycopg", "httpx", "fastapi", "uvicorn"}
# Each read-only command, and a piece of what it must print.
READ_ONLY = {"list": "Meta presents at SWG 2.2", "org list": "Química Andina", "show 1": "proposed",
             "history 1": "create", "--help": "Organizations and their contacts"}


def imported_packages(args: list[str], env: dict[str, str]) -> tuple[set[str], str]:
    """Top-level non-standard-library packages ``engage ARGS`` imports (from ``-X importtime``), and its output."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import sys; from cli.app import main; sys.exit(main())",
                           *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    roots = {name.split(".")[0] for name in modules} - {"imported package"}
    site_machinery = {"sitecustomize", "org"}  # `copy` probes `org.python.core` (Jython); site's own hooks
    return {name for name in roots - set(sys.stdlib_module_names) - site_machinery if not name.startswith("_")}, done.stdout


@pytest.fixture
def cli_env(sqlite_db, tmp_path: Path) -> dict[str, str]:
    """An environment whose `engage` reads ``sqlite_db``, holding the sample data and engagement 1."""
    seeded(sqlite_db)
    new_engagement(sqlite_db, "swg_presentation", clock_at(2024, 2, 1))
    kept = {key: value for key, value in os.environ.items() if not key.upper().startswith("ENGAGE_")}
    return kept | {"ENGAGE_DATABASE_URL": sqlite_db.url, "PYTHONPATH": str(PROJECT), "COLUMNS": "200"}


@pytest.mark.parametrize("command", READ_ONLY)
def test_read_only_commands_import_only_what_they_use(cli_env: dict[str, str], command: str) -> None:
    packages, output = imported_packages(command.split(), cli_env)
    assert not packages & FORBIDDEN, f"engage {command} imports {sorted(packages & FORBIDDEN)}"
    assert packages <= ALLOWED, f"engage {command} imports more than the list: {sorted(packages - ALLOWED)}"
    assert READ_ONLY[command] in output


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ``ENGAGE_*`` variables, and a working directory of our own (where a ``.env`` may go)."""
    for key in list(os.environ):
        if key.upper().startswith("ENGAGE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


CASES = {
    "defaults": ({}, ""),
    "data dir from the environment": ({"ENGAGE_DATA_DIR": "/srv/engage"}, ""),
    "url from the environment": ({"ENGAGE_DATABASE_URL": "postgresql+psycopg://u@db:5432/engage"}, ""),
    "empty url means the default": ({"ENGAGE_DATABASE_URL": "", "ENGAGE_DATA_DIR": "data"}, ""),
    "names in any case": ({"engage_data_dir": "lower", "Engage_Database_Url": "sqlite:///mixed.db"}, ""),
    "data dir from .env": ({}, "ENGAGE_DATA_DIR=from-dotenv\n"),
    "url from .env, quoted, with comments": ({}, '# production\nexport ENGAGE_DATABASE_URL="postgresql+psycopg://u@h/e"  # pg\n'),
    "the environment wins over .env": ({"ENGAGE_DATA_DIR": "env"}, "ENGAGE_DATA_DIR=dotenv\nengage_database_url=\n"),
    "url in .env, data dir in the environment": ({"ENGAGE_DATA_DIR": "env"}, "ENGAGE_DATABASE_URL=sqlite:///dotenv.db\n"),
}


@pytest.mark.parametrize("variables, dotenv", CASES.values(), ids=CASES.keys())
def test_database_url_resolves_like_settings(clean_environment: Path, monkeypatch: pytest.MonkeyPatch,
                                             variables: dict[str, str], dotenv: str) -> None:
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    if dotenv:
        (clean_environment / ".env").write_text(dotenv, encoding="utf-8")
    assert database_url() == Settings().resolved_database_url


def test_settings_default_database_is_sqlite_in_the_data_dir(clean_environment: Path) -> None:
    assert database_url() == f"sqlite:///{clean_environment.resolve() / 'engage-data' / 'engage.db'}"
