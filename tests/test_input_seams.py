"""The domain seams apply the input policy on SQLite and PostgreSQL: ids, choices, languages, the partner CSV."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

import states.directory
from models import Contact, Engagement, Organization
from models.db import Database
from notifications.dispatcher import requeue
from states.approvals import approval_status, record_decision
from states.directory import Tally, import_partners_csv
from states.errors import NotFoundError
from states.inputs import InputError
from states.queries import Reader, get_engagement, list_engagements, list_organizations
from states.workflow import apply_transition, create_engagement
from tests.test_workflow import snapshot
from tests.world import ENGAGEMENTS, MEXICO, REPORT, SECRETARIAT, clock_at, new_engagement, seeded


@pytest.fixture
def world(db: Database) -> Database:
    return seeded(db)


def test_ids_beyond_the_database_are_refused_by_every_seam(world: Database) -> None:
    before = snapshot(world)
    for huge in (2**31, 2**63, 10**30, -1, 0, True):
        with pytest.raises(InputError, match="engagement_id: must be"):
            apply_transition(world, huge, "convene", MEXICO)
        with pytest.raises(InputError, match="engagement_id: must be"):
            record_decision(world, huge, "swg22.france@cochairs.example", "approve")
        with pytest.raises(InputError, match="engagement_id: must be"):
            approval_status(world, huge)
        with pytest.raises(InputError, match="message_id: must be"):
            requeue(world, huge)
        with Reader(world.url) as reader, pytest.raises(InputError, match="engagement_id: must be"):
            get_engagement(reader, huge)
    with pytest.raises(InputError, match="decision: 'maybe' is not one of: approve, decline"):
        record_decision(world, 1, "swg22.france@cochairs.example", "maybe")
    with pytest.raises(InputError, match="identity: must be a single line"):
        record_decision(world, 1, "swg22.france@cochairs.example\x00", "approve")
    assert snapshot(world) == before


def test_unknown_choices_are_refused_with_the_valid_ones(world: Database) -> None:
    with Reader(world.url) as reader:
        with pytest.raises(InputError, match="kind: 'party' is not a kind of engagement; choose one of: national_dialogue"):
            list_engagements(reader, kind="party")
        with pytest.raises(InputError, match="state: 'launched' is not a state of recommendation; choose one of: accepted"):
            list_engagements(reader, kind="recommendation", state="launched")
        with pytest.raises(InputError, match="type: 'club' is not an organization type; choose one of: partner"):
            list_organizations(reader, type="club")
        assert list_engagements(reader, kind="toolkit_launch", state="launched") == []


def test_missing_swg_or_meeting_is_named(world: Database) -> None:
    clock = clock_at(2024, 1, 15)
    with pytest.raises(NotFoundError, match="meeting_id: there is no meeting with id 999"):
        new_engagement(world, "alliance_meeting", clock, meeting_id=999)
    with pytest.raises(NotFoundError, match="swg_code: there is no SWG 1.3"):
        new_engagement(world, "swg_presentation", clock, swg_code="1.3")


def test_partner_text_language_comes_from_the_text_or_the_form(world: Database) -> None:
    clock = clock_at(2024, 3, 1)
    spanish = create_engagement(world, {"kind": "recommendation", **ENGAGEMENTS["recommendation"]}, SECRETARIAT,
                                clock=clock, language="es")
    french = new_engagement(world, "achievement", clock, details={"summary": "Retraits", "language": "fr"})
    dialogue = new_engagement(world, "national_dialogue", clock)
    for trigger in ("convene", "hold"):
        apply_transition(world, dialogue, trigger, MEXICO, clock=clock)
    apply_transition(world, dialogue, "submit_report", MEXICO, data=REPORT, clock=clock, language="es")
    with world.sessions() as session:
        languages = [session.get(Engagement, eid).details["language"] for eid in (spanish, french, dialogue)]
    assert languages == ["es", "fr", "es"]


def test_partner_csv_is_written_in_batches_and_keeps_opt_outs(world: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(states.directory, "CSV_BATCH_ROWS", 2)
    with world.transaction() as session:
        session.scalar(select(Contact).where(Contact.email == "policy@meta.example")).opt_outs = ["reminder"]
    report = import_partners_csv(world, (
        "name,industry,country,region,contact_name,contact_email,contact_language\n"
        "Acme,chemical,DE,\"Nord\",Ann,ann@acme.example,de\n"
    ))
    assert report.errors == ["line 2: contact_language: Input should be 'en', 'es' or 'fr'"]
    report = import_partners_csv(world, (
        "name,industry,country,region,contact_name,contact_email,contact_language\n"
        "Acme,chemical,DE,Nord,Ann,ann@acme.example,es\n"
        "Beta,shipping,NL,,Bob,BOB@beta.example,\n"
        "Meta,social_media,US,,Meta Policy Team,policy@meta.example,en\n"
        "Gamma,banking,FR,,,,\n"
        "Acme,chemical,AT,Süd,Carla,carla@acme.example,fr\n"
    ))
    assert report.errors == [] and (report.rows, report.organizations, report.contacts) == (5, Tally(3, 1), Tally(3, 1))
    assert report.summary == ("Imported 5 rows: organizations 3 new, 1 updated, 0 unchanged; "
                              "contacts 3 new, 1 updated, 0 unchanged")
    with world.sessions() as session:
        acme = session.scalar(select(Organization).where(Organization.name == "Acme"))
        assert (acme.country, acme.region, sorted(c.email for c in acme.contacts)) == \
            ("AT", "Süd", ["ann@acme.example", "carla@acme.example"])
        assert session.scalar(select(Contact.opt_outs).where(Contact.email == "policy@meta.example")) == ["reminder"]
        assert session.scalar(select(Contact.email).where(Contact.name == "Bob")) == "bob@beta.example"


def test_partner_csv_names_lines_headers_and_limits(world: Database) -> None:
    before = snapshot(world)
    cases = {
        "name,industry,name,country\nA,chemical,B,DE\n": ["line 1: duplicate column: name"],
        "name,industry,country,colour\nA,chemical,DE,red\n": [
            "line 1: unknown column: colour; the columns are: name, industry, country, region, contact_name, "
            "contact_email, contact_language"],
        "": ["line 1: the file is empty; expected the columns name,industry,country,..."],
        "name,industry,country\n\"A\nB\",chemical,DE\n\n\"C\",chemical,DE,extra\n": [
            "line 2: name: must be a single line without control, format or separator characters (no CR, LF, NEL, "
            "U+2028); found U+000A at position 1", "line 5: more values than columns (4 for 3)"],
        "name,industry,country\nA,chemical,DE\n\"" + "W" * 200_000 + "\",chemical,DE\n": [
            "line 3: a value is longer than the limit of 131,072 characters; the rest of the file was not read"],
        "name,industry,country,region\nA,chemical,DE,\"x\x00y\"\n": [
            "line 2: region: must be a single line without control, format or separator characters (no CR, LF, NEL, "
            "U+2028); found U+0000 at position 1"],
        "name,industry,country,contact_name,contact_email\nNew,chemical,DE,Eve,Policy@Meta.example\n": [
            "line 2: contact_email: Policy@meta.example is already a contact of Meta"],
    }
    for content, errors in cases.items():
        report = import_partners_csv(world, content)
        assert report.errors == errors, content[:80]
        assert report.summary.endswith("nothing was imported")
    assert snapshot(world) == before


def test_a_header_problem_counts_its_columns_in_each_language(world: Database) -> None:
    one = import_partners_csv(world, "name,industry\nA,chemical\n").errors[0].phrase
    two = import_partners_csv(world, "name\nA\n").errors[0].phrase
    assert [one.html(language) for language in ("en", "es", "fr")] == [
        "line 1: missing column: country", "línea 1: falta la columna country", "ligne 1\u00a0: colonne manquante\u00a0: country"]
    assert [two.html(language) for language in ("en", "es", "fr")] == [
        "line 1: missing columns: country, industry", "línea 1: faltan columnas: country, industry",
        "ligne 1\u00a0: colonnes manquantes\u00a0: country, industry"]


def test_contacts_are_indexed_by_lower_case_email(world: Database) -> None:
    query = "SELECT id FROM contacts WHERE lower(email) = 'policy@meta.example'"
    if world.engine.dialect.name == "sqlite":
        with world.engine.connect() as connection:
            plan = " ".join(str(row) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {query}")))
        assert "ix_contacts_lower_email" in plan
    else:
        indexes = {index["name"]: index for index in inspect(world.engine).get_indexes("contacts")}
        assert indexes["ix_contacts_lower_email"]["expressions"] == ["lower(email::text)"]
