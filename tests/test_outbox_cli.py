"""``engage outbox retry``: one row or every dead-lettered one, with a confirmation that warns about opt-outs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select
from click.testing import CliRunner

from cli.app import app
from models import Contact, Organization, OutboxMessage
from models.db import Database
from settings import get_settings

DIED = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
runner = CliRunner()


@pytest.fixture
def cli_db(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """``db`` as the database the CLI opens."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db.url)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def add(db: Database, key: str, *, status: str = "dead", kind: str = "invitation", address: str = "a@example.org",
        died: datetime = DIED, reason: str | None = "gave up after 5 attempts") -> int:
    with db.transaction() as session:
        return session.scalar(insert(OutboxMessage).returning(OutboxMessage.id), {
            "dedupe_key": key, "notification_type": kind, "channel": "email", "recipient_name": "Ana",
            "recipient_address": address, "language": "en", "mandatory": kind == "decision", "context": {},
            "status": status, "status_reason": reason, "attempts": 5 if status == "dead" else 0,
            "next_attempt_at": died, "created_at": died - timedelta(days=1),
        })


def statuses(db: Database) -> dict[int, str]:
    with db.transaction() as session:
        return {row.id: row.status for row in session.execute(select(OutboxMessage.id, OutboxMessage.status))}


def test_bulk_retry_names_how_many_warns_about_opt_outs_and_asks(cli_db: Database) -> None:
    with cli_db.transaction() as session:
        org = session.scalar(insert(Organization).returning(Organization.id), {"name": "Meta", "type": "partner"})
        session.execute(insert(Contact), {"organization_id": org, "name": "Opted Out", "email": "out@example.org",
                                          "language": "en", "opt_outs": ["decision"]})
    old = add(cli_db, "old", died=DIED - timedelta(days=10))
    recent = add(cli_db, "recent")
    mandatory = add(cli_db, "mandatory", kind="decision", address="out@example.org")
    pending = add(cli_db, "pending", status="pending", reason=None)

    answer_no = runner.invoke(app, ["outbox", "retry", "--dead"], input="n\n")
    assert answer_no.exit_code == 1 and "Aborted" in answer_no.output
    assert "Requeue 3 dead-lettered notifications?" in answer_no.output
    assert f"1 of them go to recipients who have opted out (ids {mandatory})" in answer_no.output
    assert Counter(statuses(cli_db).values()) == {"dead": 3, "pending": 1}, "nothing changed"

    by_type = runner.invoke(app, ["outbox", "retry", "--dead", "--type", "invitation", "--since", "2024-03-01"], input="y\n")
    assert by_type.exit_code == 0, by_type.output
    assert "Requeue 1 dead-lettered notification?" in by_type.output and "opted out" not in by_type.output
    assert "1 dead-lettered notification is pending again" in by_type.output
    assert statuses(cli_db) == {old: "dead", recent: "pending", mandatory: "dead", pending: "pending"}

    everything = runner.invoke(app, ["outbox", "retry", "--dead", "--yes"])
    assert everything.exit_code == 0, everything.output
    assert "2 dead-lettered notifications are pending again" in everything.output
    assert "opted out" in everything.output
    assert set(statuses(cli_db).values()) == {"pending"}
    with cli_db.transaction() as session:
        assert set(session.scalars(select(OutboxMessage.attempts))) == {0}

    nothing = runner.invoke(app, ["outbox", "retry", "--dead"])
    assert nothing.exit_code == 0 and "nothing requeued" in nothing.output


def test_retrying_a_suppressed_row_asks_first(cli_db: Database) -> None:
    suppressed = add(cli_db, "s", status="suppressed", reason="recipient opted out of reminder", kind="reminder")
    nobody = add(cli_db, "n", status="suppressed", reason="no recipient: nobody on file for partners", address="")

    refused = runner.invoke(app, ["outbox", "retry", str(suppressed)], input="n\n")
    assert refused.exit_code == 1 and "recipient opted out of reminder. Send it anyway?" in refused.output
    assert statuses(cli_db)[suppressed] == "suppressed"
    accepted = runner.invoke(app, ["outbox", "retry", str(suppressed)], input="y\n")
    assert accepted.exit_code == 0 and f"outbox message {suppressed} to a@example.org is pending again" in accepted.output
    assert statuses(cli_db)[suppressed] == "pending"

    no_recipient = runner.invoke(app, ["outbox", "retry", str(nobody), "--yes"])
    assert no_recipient.exit_code == 1 and "has no recipient" in no_recipient.output
    assert statuses(cli_db)[nobody] == "suppressed"


@pytest.mark.parametrize("arguments, message", [
    ([], "give either an outbox message id or --dead"),
    (["7", "--dead"], "give either an outbox message id or --dead"),
    (["7", "--type", "invitation"], "--since and --type go with --dead"),
    (["--dead", "--type", "telegram"], "--type: unknown notification type 'telegram'"),
    (["999"], "there is no outbox message with id 999"),
])
def test_retry_refuses_what_it_cannot_do(cli_db: Database, arguments: list[str], message: str) -> None:
    outcome = runner.invoke(app, ["outbox", "retry", *arguments])
    assert outcome.exit_code != 0 and message in " ".join(outcome.output.split())
