"""The read path of the CLI: the database URL and data folder without pydantic-settings, what read-only commands import, and the
plain-SQL read queries giving the ORM's answers on SQLite and PostgreSQL."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from cli.environment import data_dir, database_url
from models import ApprovalVote, CoChair, Contact, DialogueReport, Engagement, Organization, Participant, TransitionLog
from models.db import Database
from settings import Settings
from states import queries
from states.approvals import record_decision
from states.errors import InputError, NotFoundError
from states.workflow import apply_transition
from tests.world import FRANCE_CHAIR, MEXICO, REPORT, SECRETARIAT, clock_at, new_engagement, seeded

PROJECT = Path(__file__).resolve().parents[1]

# Top-level packages a read-only command may import, besides the standard library. Adding one here is a
# decision: each costs every `engage list` its import time.
ALLOWED = {
    "cli", "models", "states", "portal",  # the project's read path (models: enums only; portal: the Maildir reader)
    "click", "rich",                      # the command line, its tables and text
}
# What they must never pay for: the ORM, orchestration, migrations, templating, chat, settings machinery, input
# checks, the lifecycle machines, another command line, and on SQLite the PostgreSQL driver.
FORBIDDEN = {"sqlalchemy", "prefect", "alembic", "jinja2", "apprise", "pydantic", "pydantic_settings", "dotenv",
             "aiosmtpd", "nh3", "email_validator", "pycountry", "transitions", "typer", "psycopg", "httpx", "fastapi",
             "uvicorn"}
MAILED_LINK = "https://engage.example/a/" + "T" * 32
# Each read-only command, and a piece of what it must print.
READ_ONLY = {"list": "Meta presents at SWG 2.2", "org list": "Química Andina", "show 1": "proposed",
             "history 1": "create", "--help": "Organizations and their contacts", "mail-links": MAILED_LINK}


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
    """An environment whose `engage` reads ``sqlite_db``, holding the sample data and engagement 1, and a data folder
    whose mail folder holds one mail with a portal link."""
    seeded(sqlite_db)
    new_engagement(sqlite_db, "swg_presentation", clock_at(2024, 2, 1))
    mailbox.Maildir(tmp_path / "mail").add(f"Delivered-To: ana@meta.example\nSubject: Decide\n\nOpen {MAILED_LINK}\n")
    kept = {key: value for key, value in os.environ.items() if not key.upper().startswith("ENGAGE_")}
    return kept | {"ENGAGE_DATABASE_URL": sqlite_db.url, "ENGAGE_DATA_DIR": str(tmp_path), "PYTHONPATH": str(PROJECT),
                   "COLUMNS": "200"}


@pytest.mark.parametrize("command", READ_ONLY)
def test_read_only_commands_import_only_what_they_use(cli_env: dict[str, str], command: str) -> None:
    packages, output = imported_packages(command.split(), cli_env)
    assert not packages & FORBIDDEN, f"engage {command} imports {sorted(packages & FORBIDDEN)}"
    assert packages <= ALLOWED, f"engage {command} imports more than the list: {sorted(packages - ALLOWED)}"
    assert READ_ONLY[command] in output


def test_read_only_commands_print_the_same_on_postgresql(cli_env: dict[str, str], postgres_db: Database) -> None:
    """The same world on both databases: every read-only command prints the same, and only PostgreSQL loads psycopg."""
    seeded(postgres_db)
    new_engagement(postgres_db, "swg_presentation", clock_at(2024, 2, 1))
    on_postgres = cli_env | {"ENGAGE_DATABASE_URL": postgres_db.url}
    for command in ("list", "show 1", "history 1", "org show Meta"):
        packages, output = imported_packages(command.split(), on_postgres)
        assert "psycopg" in packages and not packages & (FORBIDDEN - {"psycopg"}), (command, packages)
        assert output == imported_packages(command.split(), cli_env)[1], command
    names = imported_packages(["org", "list"], on_postgres)[1].splitlines()
    assert sorted(names) == sorted(imported_packages(["org", "list"], cli_env)[1].splitlines())  # collations differ


def test_a_database_without_schema_is_named(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.upper().startswith("ENGAGE_")}
    done = subprocess.run([sys.executable, "-c", "import sys; from cli.app import main; sys.exit(main())", "list"],
                          cwd=PROJECT, env=env | {"ENGAGE_DATA_DIR": str(tmp_path / "none")}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "no schema yet" in done.stderr, done.stderr
    assert not (tmp_path / "none").exists()


def _columns(view: type[tuple], row: object) -> tuple[object, ...]:
    """The attributes of ``row`` a view (a named tuple) names."""
    return tuple(getattr(row, name) for name in view._fields)


@pytest.fixture
def eventful(db: Database) -> Database:
    """A dialogue with its report and a presentation a co-chair declined, on top of the sample data."""
    seeded(db)
    dialogue = new_engagement(db, "national_dialogue", clock_at(2024, 1, 10))
    for trigger in ("convene", "hold"):
        apply_transition(db, dialogue, trigger, MEXICO, clock=clock_at(2024, 2, 1))
    apply_transition(db, dialogue, "submit_report", MEXICO, data=REPORT, comment="done", clock=clock_at(2024, 2, 14))
    presentation = new_engagement(db, "swg_presentation", clock_at(2024, 2, 1))
    apply_transition(db, presentation, "request_approval", SECRETARIAT, clock=clock_at(2024, 2, 2))
    record_decision(db, presentation, FRANCE_CHAIR["identity"], "decline", "pas maintenant", clock=clock_at(2024, 2, 3))
    new_engagement(db, "recommendation", clock_at(2024, 3, 1))
    return db


def test_the_read_path_gives_the_answers_of_the_orm(eventful: Database) -> None:
    with queries.Reader(eventful.url) as reader, eventful.sessions() as session:
        newest_first = session.scalars(select(Engagement).order_by(Engagement.id.desc())).all()
        assert len(newest_first) == 3
        assert [tuple(row) for row in queries.list_engagements(reader)] == [
            _columns(queries.EngagementView, row) for row in newest_first]
        presentation = newest_first[1]
        assert [row.id for row in queries.list_engagements(reader, kind=presentation.kind, state=presentation.state)
                ] == [presentation.id]
        assert [row.id for row in queries.list_engagements(reader, limit=1)] == [newest_first[0].id]
        for engagement in newest_first:
            found = queries.get_engagement(reader, engagement.id)
            assert tuple(found) == _columns(queries.EngagementView, engagement)
            assert found.created_at.utcoffset().total_seconds() == 0
            assert [tuple(row) for row in queries.participants(reader, engagement.id)] == [
                (organization.name, participant.role, contact.email if contact else None)
                for participant, organization, contact in session.execute(
                    select(Participant, Organization, Contact)
                    .join(Organization, Organization.id == Participant.organization_id)
                    .outerjoin(Contact, Contact.id == Participant.contact_id)
                    .where(Participant.engagement_id == engagement.id).order_by(Participant.id))]
            report = session.get(DialogueReport, engagement.id)
            found_report = queries.dialogue_report(reader, engagement.id)
            assert (found_report and tuple(found_report)) == (report and _columns(queries.ReportView, report))
            assert [tuple(row) for row in queries.votes(reader, engagement.id)] == [
                (chair.name, chair.email, vote.decision, vote.decided_at, vote.channel, vote.comment)
                for vote, chair in session.execute(select(ApprovalVote, CoChair).join(CoChair, CoChair.id == ApprovalVote.co_chair_id)
                                                   .where(ApprovalVote.engagement_id == engagement.id)
                                                   .order_by(ApprovalVote.id))]
            assert [tuple(row) for row in queries.history(reader, engagement.id)] == [
                _columns(queries.LogView, log) for log in session.scalars(
                    select(TransitionLog).where(TransitionLog.engagement_id == engagement.id).order_by(TransitionLog.id))]
        assert queries.dialogue_report(reader, newest_first[-1].id).held_on.isoformat() == REPORT["held_on"]
        assert queries.votes(reader, presentation.id)[0].comment == "pas maintenant"
        organizations = session.scalars(select(Organization).order_by(Organization.name)).all()
        assert [(tuple(row), count) for row, count in queries.list_organizations(reader)] == [
            (_columns(queries.OrganizationView, row), len(row.contacts)) for row in organizations]
        assert [row.name for row, _ in queries.list_organizations(reader, type="government")] == [
            row.name for row in organizations if row.type == "government"]
        for organization in organizations:
            found, contacts = queries.get_organization(reader, organization.name)
            assert tuple(found) == _columns(queries.OrganizationView, organization)
            assert [tuple(row) for row in contacts] == [_columns(queries.ContactView, row) for row in organization.contacts]


def test_the_read_path_refuses_what_the_orm_path_refused(eventful: Database) -> None:
    with queries.Reader(eventful.url) as reader:
        assert reader.has_schema()
        for call in (lambda: queries.get_engagement(reader, 99), lambda: queries.history(reader, 99),
                     lambda: queries.get_organization(reader, "Nobody")):
            with pytest.raises(NotFoundError):
                call()
        with pytest.raises(InputError, match="engagement_id: must be between 1 and 2147483647"):
            queries.get_engagement(reader, 2**66)
    with pytest.raises(ValueError, match="no read path for database URL scheme 'mysql'"):
        queries.Reader("mysql://somewhere/engage")


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
def test_database_url_and_data_dir_resolve_like_settings(clean_environment: Path, monkeypatch: pytest.MonkeyPatch,
                                             variables: dict[str, str], dotenv: str) -> None:
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    if dotenv:
        (clean_environment / ".env").write_text(dotenv, encoding="utf-8")
    settings = Settings()
    assert database_url() == settings.resolved_database_url and data_dir() == settings.data_dir


def test_settings_default_database_is_sqlite_in_the_data_dir(clean_environment: Path) -> None:
    assert database_url() == f"sqlite:///{clean_environment.resolve() / 'engage-data' / 'engage.db'}"
