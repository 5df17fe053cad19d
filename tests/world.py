"""A small, realistic world for tests: the sample reference data and one engagement of each kind."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Table, insert, select

from models import Organization
from models.base import Base
from models.db import Database
from states.clock import SimulatedClock
from states.directory import load_sample
from states.workflow import apply_transition, create_engagement

SECRETARIAT = {"role": "secretariat", "identity": "staff@state.example"}
SYSTEM = {"role": "system", "identity": "reminder-sweep"}
MEXICO = {"role": "national_authority", "identity": "enlace@conadic-mx.example"}
META = {"role": "partner", "identity": "policy@meta.example"}
QUIMICA = {"role": "partner", "identity": "mfernandez@quimica-andina.example"}
FRANCE_CHAIR = {"role": "co_chair", "identity": "swg22.france@cochairs.example"}
UNODC_CHAIR = {"role": "co_chair", "identity": "swg22.unodc@cochairs.example"}
CANADA_CHAIR = {"role": "co_chair", "identity": "swg11.canada@cochairs.example"}
INCB_CHAIR = {"role": "co_chair", "identity": "swg11.incb@cochairs.example"}
NIGERIA_CHAIR = {"role": "co_chair", "identity": "swg31.nigeria@cochairs.example"}
WHO_CHAIR = {"role": "co_chair", "identity": "swg31.who@cochairs.example"}
UK_CHAIR = {"role": "co_chair", "identity": "swg31.uk@cochairs.example"}

REPORT = {"held_on": "2024-02-12", "organizing_agency": "CONADIC", "public_partners": 4, "private_partners": 9,
          "narrative": "Chemical and shipping firms discussed precursor controls.", "areas_of_discussion": ["precursors"]}
OUTCOME = {"summary": "Framework and action plan on youth prevention agreed", "commitments": ["Shared reporting"]}

ENGAGEMENTS: dict[str, dict[str, Any]] = {
    "national_dialogue": {
        "title": "Mexico national dialogue", "country": "MX", "details": {"organizing_agency": "CONADIC"},
        "participants": [{"organization": "Government of Mexico", "role": "organizer"},
                         {"organization": "Química Andina S.A.", "role": "partner"}],
    },
    "swg_presentation": {
        "title": "Meta presents at SWG 2.2", "swg_code": "2.2", "details": {"topic": "Detecting drug sales online"},
        "participants": [{"organization": "Meta", "role": "presenter"}],
    },
    "alliance_meeting": {
        "title": "Prevent Alliance workshop", "meeting_id": 1, "details": {"purpose": "Youth prevention framework"},
        "participants": [{"organization": "Meta", "role": "invitee"}, {"organization": "UNODC", "role": "host"}],
    },
    "toolkit_launch": {"title": "PPP toolkit launch", "meeting_id": 2, "details": {},
                       "participants": [{"organization": "UNODC", "role": "presenter"}]},
    "website_submission": {
        "title": "Shipping screening video", "details": {"media": "video", "url": "https://videos.example/screening",
                                                         "summary": "How we screen consignments"},
        "participants": [{"organization": "Atlantique Maritime", "role": "partner"}],
    },
    "recommendation": {
        "title": "Share precursor alerts", "details": {"topic": "information_sharing", "text": "Create a shared alert list"},
        "participants": [{"organization": "Química Andina S.A.", "role": "partner"}],
    },
    "achievement": {
        "title": "Removed 10,000 drug listings", "details": {"summary": "Automated detection", "received_via": "mailbox"},
        "participants": [{"organization": "Meta", "role": "partner"}],
    },
    "private_sector_forum": {
        "title": "Banking forum", "meeting_id": 7, "details": {"focus": "banking_forum", "purpose": "Illicit finance"},
        "participants": [{"organization": "Banco Continental", "role": "invitee"}, {"organization": "FATF", "role": "host"}],
    },
}


def clock_at(year: int, month: int, day: int) -> SimulatedClock:
    """A simulated clock at noon UTC on the given day."""
    return SimulatedClock(datetime(year, month, day, 12, tzinfo=timezone.utc))


# Per dialect: every row ``load_sample`` wrote into the first empty database of this process, table by table.
_SAMPLE_ROWS: dict[str, list[tuple[Table, list[dict[str, Any]]]]] = {}


def seeded(db: Database) -> Database:
    """``db`` with the sample reference data, partners, contacts and meetings loaded.

    The first empty database of each dialect gets them from ``load_sample`` (about 120 statements);
    the next ones get a copy of the rows it wrote, one multi-row INSERT a table (the same rows and ids:
    every test's database starts empty, its identities at 1). A database that is not empty gets
    ``load_sample``, which updates what is there.
    """
    with db.engine.connect() as connection:
        empty = connection.scalar(select(Organization.id).limit(1)) is None
    rows = _SAMPLE_ROWS.get(db.dialect)
    if not empty or rows is None:
        load_sample(db)
        if empty:
            with db.engine.connect() as connection:
                _SAMPLE_ROWS[db.dialect] = [
                    (table, [row._asdict() for row in connection.execute(select(table))])
                    for table in Base.metadata.sorted_tables
                ]
        return db
    with db.engine.begin() as connection:
        for table, values in rows:
            if values:
                connection.execute(insert(table), values)
        if db.dialect == "postgresql":  # explicit ids leave the sequences behind: move them on
            moves = [f"setval(pg_get_serial_sequence('{table.name}', 'id'), {max(row['id'] for row in values)})"
                     for table, values in rows if values and "id" in table.c]
            connection.exec_driver_sql(f"SELECT {', '.join(moves)}")
    return db


def new_engagement(db: Database, kind: str, clock: SimulatedClock, **overrides: Any) -> int:
    """Create an engagement of ``kind`` from the sample above."""
    return create_engagement(db, {"kind": kind, **ENGAGEMENTS[kind], **overrides}, SECRETARIAT, clock=clock)


def awaiting_approval(db: Database, clock: SimulatedClock, swg: str = "3.1", partner: str = "Atlantique Maritime") -> int:
    """An invitation for ``partner`` to present at SWG ``swg``, waiting for its co-chairs' approval."""
    engagement = new_engagement(db, "swg_presentation", clock, title=f"{partner} at SWG {swg}", swg_code=swg,
                                details={"topic": "Port workers as prevention partners"},
                                participants=[{"organization": partner, "role": "presenter"}])
    apply_transition(db, engagement, "request_approval", SYSTEM, clock=clock)
    return engagement
