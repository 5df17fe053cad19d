"""What is published now, from the database (domain, no Prefect)."""

from __future__ import annotations

from datetime import datetime, timezone

from states.clock import SimulatedClock
from states.publication import published_items
from states.workflow import apply_transition, create_engagement
from tests.world import seeded
from website import publish

STAFF = {"role": "secretariat", "identity": "staff@state.example"}
MX = {"role": "national_authority", "identity": "enlace@conadic-mx.example"}


def _dialogue(db, clock):
    engagement = create_engagement(db, {
        "kind": "national_dialogue", "title": "National dialogue of Mexico", "country": "MX",
        "details": {"organizing_agency": "CONADIC"},
        "participants": [{"organization": "Government of Mexico", "role": "organizer"},
                         {"organization": "Química Andina S.A.", "role": "partner"}],
    }, MX, clock=clock)
    for trigger in ("convene", "hold"):
        apply_transition(db, engagement, trigger, MX, clock=clock)
    apply_transition(db, engagement, "submit_report", MX, clock=clock, data={
        "held_on": "2024-01-29", "organizing_agency": "CONADIC", "public_partners": 6, "private_partners": 14,
        "narrative": "Precursors <script>alert(1)</script> & shipping.", "areas_of_discussion": ["precursors"],
    })
    apply_transition(db, engagement, "start_review", STAFF, clock=clock)
    return engagement


def test_published_dialogue_with_facts(db, tmp_path):
    clock = SimulatedClock(datetime(2024, 2, 12, 9, tzinfo=timezone.utc))
    seeded(db)
    engagement = _dialogue(db, clock)
    assert published_items(db) == []
    apply_transition(db, engagement, "publish", STAFF, clock=clock)
    [item] = published_items(db)
    assert item.engagement_id == engagement and item.kind == "national_dialogue"
    assert item.facts["Public partners"] == "6" and item.facts["Private partners"] == "14"
    assert item.facts["Organizing agency"] == "CONADIC" and item.facts["Country"] == "MX"
    assert item.partners == ["Química Andina S.A."]
    assert item.published_at == clock.now()
    assert "&lt;script&gt;" in item.body
    site = tmp_path / "site"
    report = publish(site, published_items(db))
    assert f"national_dialogue/{engagement}.html" in report.pages_written
    assert publish(site, published_items(db)).pages_written == []  # idempotent
    apply_transition(db, engagement, "unpublish", STAFF, clock=clock)
    assert published_items(db) == []
    removed = publish(site, published_items(db)).pages_removed
    assert {f"national_dialogue/{engagement}.html", f"es/national_dialogue/{engagement}.html",
            f"fr/national_dialogue/{engagement}.html", "countries/mx.html"} <= set(removed)
    assert not any(path.endswith(f"/{engagement}.html") for path in map(str, site.rglob("*.html")))


def test_recommendation_deliverable_fact(sqlite_db):
    clock = SimulatedClock(datetime(2024, 4, 10, 9, tzinfo=timezone.utc))
    seeded(sqlite_db)
    partner = {"role": "partner", "identity": "mfernandez@quimica-andina.example"}
    engagement = create_engagement(sqlite_db, {
        "kind": "recommendation", "title": "Recommendation from Química Andina",
        "details": {"topic": "information_sharing", "text": "Share alerts."},
        "participants": [{"organization": "Química Andina S.A.", "role": "partner",
                          "contact_email": "mfernandez@quimica-andina.example"}],
    }, partner, clock=clock)
    apply_transition(sqlite_db, engagement, "submit", partner, clock=clock)
    for trigger in ("start_review", "accept", "include_in_deliverable", "publish"):
        apply_transition(sqlite_db, engagement, trigger, STAFF, clock=clock)
    [item] = published_items(sqlite_db)
    assert item.facts["Coalition deliverable"] == "Yes" and item.facts["Topic"] == "Information sharing"
    assert item.language == "en"  # not stated by the partner: the language of the form it came from (English here)
