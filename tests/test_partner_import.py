"""The partner CSV import on SQLite and PostgreSQL: what it counts new, updated and unchanged is what it wrote."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

import states.directory
from models import Contact, Participant
from models.db import Database
from states.designation import designated_contacts
from states.directory import Tally, import_partners_csv
from states.errors import ConflictError
from tests.test_workflow import snapshot
from tests.world import clock_at, new_engagement, seeded

HEADER = "name,industry,country,region,contact_name,contact_email,contact_language\n"
PARTNERS = HEADER + (
    "Acme,chemical,DE,Nord,Ann,ann@acme.example,en\n"
    "Beta,shipping,NL,,Bob,bob@beta.example,es\n"
    "Acme,chemical,DE,Nord,Carla,carla@acme.example,fr\n"
    "Gamma,banking,FR,,,,\n"
    "Meta,social_media,US,Americas,Meta Policy,policy@meta.example,en\n"
)


@pytest.fixture
def world(db: Database) -> Database:
    return seeded(db)


@contextmanager
def rows_written(db: Database) -> Iterator[list[tuple[str, int]]]:
    """(statement, rows it changed) of every INSERT and UPDATE of organizations or contacts issued meanwhile."""
    written: list[tuple[str, int]] = []

    def seen(_connection: object, cursor: object, statement: str, *_: object) -> None:
        words = statement.split()
        if words[0] in ("INSERT", "UPDATE") and (words[2] if words[0] == "INSERT" else words[1]) in (
                "organizations", "contacts"):
            written.append((" ".join(words[:3]), cursor.rowcount))  # type: ignore[attr-defined]

    event.listen(db.engine, "after_cursor_execute", seen)
    try:
        yield written
    finally:
        event.remove(db.engine, "after_cursor_execute", seen)


def row_versions(db: Database) -> object:
    """PostgreSQL's version of every organization and contact row (``xmin`` changes on every write); None on SQLite."""
    if db.dialect != "postgresql":
        return None
    with db.engine.connect() as connection:
        return [connection.exec_driver_sql(f"SELECT id, xmin::text FROM {table} ORDER BY id").all()
                for table in ("organizations", "contacts")]


def test_the_summary_counts_new_updated_and_unchanged(world: Database) -> None:
    report = import_partners_csv(world, PARTNERS)
    assert report.errors == [] and report.rows == 5
    # Meta is known: its industry and country are the file's, its contact's name is not
    assert (report.organizations, report.contacts) == (Tally(new=3, unchanged=1), Tally(new=3, updated=1))
    assert report.summary == ("Imported 5 rows: organizations 3 new, 0 updated, 1 unchanged; "
                              "contacts 3 new, 1 updated, 0 unchanged")
    with world.sessions() as session:
        assert session.scalar(select(Contact.name).where(Contact.email == "policy@meta.example")) == "Meta Policy"
        acme = [contact.id for contact in session.scalars(
            select(Contact).where(Contact.email.in_(["ann@acme.example", "carla@acme.example"])).order_by(Contact.email))]
        assert acme[0] < acme[1]  # the file's first contact of a new organization becomes its primary contact


def test_a_repeated_import_writes_nothing(world: Database) -> None:
    import_partners_csv(world, PARTNERS)
    before, versions = snapshot(world), row_versions(world)
    with rows_written(world) as written:
        report = import_partners_csv(world, PARTNERS)
    assert (report.organizations, report.contacts) == (Tally(unchanged=4), Tally(unchanged=4))
    assert report.summary.endswith("organizations 0 new, 0 updated, 4 unchanged; contacts 0 new, 0 updated, 4 unchanged")
    assert written and all(count == 0 for _, count in written), written
    assert snapshot(world) == before and row_versions(world) == versions


def test_one_changed_contact_updates_that_contact_alone(world: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(states.directory, "CSV_BATCH_ROWS", 2)
    import_partners_csv(world, PARTNERS)
    before = snapshot(world)
    with rows_written(world) as written:
        report = import_partners_csv(world, PARTNERS.replace("Carla,carla@acme.example,fr", "Carla Ruiz,carla@acme.example,es"))
    assert (report.organizations, report.contacts) == (Tally(unchanged=4), Tally(updated=1, unchanged=3))
    assert sorted(count for _, count in written if count) == [1]
    after = snapshot(world)
    assert {name for name in before if before[name] != after[name]} == {"contacts"}
    changed = [row for row in after["contacts"] if row not in before["contacts"]]
    assert [(row.email, row.name, row.language) for row in changed] == [("carla@acme.example", "Carla Ruiz", "es")]
    assert len(after["contacts"]) == len(before["contacts"])


def test_an_import_keeps_every_participants_designated_contact(world: Database) -> None:
    import_partners_csv(world, PARTNERS)
    engagement = new_engagement(world, "achievement", clock_at(2024, 3, 1), participants=[
        {"organization": "Acme", "role": "partner", "contact_email": "carla@acme.example"},
        {"organization": "Meta", "role": "partner"}])

    def designated() -> list[object]:
        with world.engine.connect() as connection:
            return connection.execute(designated_contacts(Contact.email).order_by(Contact.email),
                                      {"engagement_id": engagement, "roles": ["partner"]}).scalars().all()

    with world.sessions() as session:
        participants = session.execute(select(Participant.organization_id, Participant.contact_id)
                                       .order_by(Participant.id)).all()
    before = designated()
    report = import_partners_csv(world, HEADER + (
        "Acme,chemical,AT,Süd,Anna,ANN@acme.example,fr\n"
        "Acme,chemical,AT,Süd,Dora,dora@acme.example,en\n"
        "Meta,social_media,US,Americas,Meta Trust,trust@meta.example,en\n"
        "Meta,social_media,US,Americas,Meta Policy Team,policy@meta.example,es\n"
    ))
    assert (report.organizations, report.contacts) == (Tally(updated=1, unchanged=1), Tally(new=2, updated=2))
    with world.sessions() as session:
        assert session.execute(select(Participant.organization_id, Participant.contact_id)
                               .order_by(Participant.id)).all() == participants
    assert designated() == before == ["carla@acme.example", "policy@meta.example"]


def test_refused_rows_are_named_by_line_and_nothing_is_written(world: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(states.directory, "CSV_BATCH_ROWS", 2)
    before = snapshot(world)
    report = import_partners_csv(world, HEADER + (
        "Acme,chemical,DE,,Ann,ann@acme.example,en\n"
        "Acme,chemical,DE,,Eve,Policy@Meta.example,en\n"
        "Beta,plastics,NL,,,,\n"
        "Beta,shipping,NL,,Bob,bob@beta.example,en\n"
        "Gamma,banking,FR,,Ann Again,ann@ACME.example,en\n"
    ))
    assert [error[:17] for error in report.errors] == ["line 4: industry:", "line 6: contact_e"]
    assert report.errors[1] == "line 6: contact_email: ann@acme.example already on line 2"
    report = import_partners_csv(world, HEADER + (
        "Acme,chemical,DE,,Ann,ann@acme.example,en\n"
        "Acme,chemical,DE,,Eve,Policy@Meta.example,en\n"
        "Beta,shipping,NL,,Bob,bob@beta.example,en\n"
        "Gamma,banking,FR,,Rui,mfernandez@QUIMICA-andina.example,es\n"
    ))
    assert report.errors == [
        "line 3: contact_email: Policy@meta.example is already a contact of Meta",
        "line 5: contact_email: mfernandez@quimica-andina.example is already a contact of Química Andina S.A.",
    ]
    assert report.summary == "2 problems in 4 rows; nothing was imported"
    assert (report.organizations, report.contacts) == (Tally(), Tally())
    assert snapshot(world) == before


def test_an_address_taken_by_another_writer_fails_its_batch_alone(world: Database,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer gives one of the file's addresses to another organization after the check: that batch is undone."""
    monkeypatch.setattr(states.directory, "CSV_BATCH_ROWS", 2)
    monkeypatch.setattr(states.directory, "_foreign_contacts", lambda *_: [])  # the check ran before the other writer
    before = snapshot(world)
    with pytest.raises(ConflictError, match="lines 4-5: another writer added the same organizations or contacts"):
        import_partners_csv(world, HEADER + (
            "Acme,chemical,DE,,Ann,ann@acme.example,en\n"
            "Beta,shipping,NL,,Bob,bob@beta.example,en\n"
            "Gamma,banking,FR,,Eve,POLICY@meta.example,en\n"
            "Delta,banking,FR,,Dan,dan@delta.example,en\n"
        ))
    after = snapshot(world)
    with world.sessions() as session:
        assert session.scalars(select(Contact.email).where(Contact.id > max(row.id for row in before["contacts"]))
                               .order_by(Contact.id)).all() == ["ann@acme.example", "bob@beta.example"]
        assert session.scalar(select(Contact.name).where(Contact.email == "policy@meta.example")) != "Eve"
    assert len(after["organizations"]) == len(before["organizations"]) + 2
