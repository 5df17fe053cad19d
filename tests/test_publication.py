"""What is published now, from the database (domain, no Prefect)."""

from __future__ import annotations

from datetime import date, datetime, timezone

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


#: Partner and staff text that looks like an ISO day (all but the last are no date at all).
DATE_LIKE = ("2024-02-30", "2024-13-01", "0000-01-01", "2024-01-01/2024-02-31", "2024-02-29")
CHAIRS = ("swg31.nigeria@cochairs.example", "swg31.who@cochairs.example")
ATLANTIQUE = {"role": "partner", "identity": "cdubois@atlantique-maritime.example"}


def _published_presentation(db, clock, topic: str) -> int:
    engagement = create_engagement(db, {
        "kind": "swg_presentation", "title": f"Presentation on {topic}", "swg_code": "3.1", "details": {"topic": topic},
        "participants": [{"organization": "Atlantique Maritime", "role": "presenter"}],
    }, STAFF, clock=clock)
    apply_transition(db, engagement, "request_approval", STAFF, clock=clock)
    for chair in CHAIRS:
        apply_transition(db, engagement, "approve", {"role": "co_chair", "identity": chair}, clock=clock)
    apply_transition(db, engagement, "accept", ATLANTIQUE, clock=clock)
    for trigger in ("record_presentation", "publish"):
        apply_transition(db, engagement, trigger, STAFF, clock=clock)
    return engagement


def _published_dialogue(db, clock, agency: str) -> int:
    engagement = create_engagement(db, {
        "kind": "national_dialogue", "title": f"Dialogue organized by {agency}", "country": "MX",
        "details": {"organizing_agency": agency},
        "participants": [{"organization": "Government of Mexico", "role": "organizer"}],
    }, MX, clock=clock)
    for trigger in ("convene", "hold"):
        apply_transition(db, engagement, trigger, MX, clock=clock)
    apply_transition(db, engagement, "submit_report", MX, clock=clock, data={
        "held_on": "2024-01-29", "organizing_agency": agency, "public_partners": 1, "private_partners": 2})
    for trigger in ("start_review", "publish"):
        apply_transition(db, engagement, trigger, STAFF, clock=clock)
    return engagement


def test_text_that_looks_like_a_date_is_published_as_written_and_a_broken_item_is_skipped(db, tmp_path):
    from sqlalchemy import update

    from models import Engagement
    from states.publication import publish_site
    from website import SkippedItem

    clock = SimulatedClock(datetime(2024, 2, 12, 9, tzinfo=timezone.utc))
    seeded(db)
    written = {value: (_published_presentation(db, clock, value), _published_dialogue(db, clock, value))
               for value in DATE_LIKE}
    broken = _published_dialogue(db, clock, "CONADIC")
    with db.transaction() as session:  # a row an older version wrote: its publication stamp is no time at all
        row = session.get(Engagement, broken)
        session.execute(update(Engagement).where(Engagement.id == broken)
                        .values(details={**row.details, "published_at": "2024-02-30T09:00:00"}))
    site = tmp_path / "site"

    report = publish_site(db, site, today=date(2024, 3, 1))

    assert [item.engagement_id for item in report.skipped] == [broken]
    assert isinstance(report.skipped[0], SkippedItem) and "day is out of range" in report.skipped[0].reason
    assert report.items == 2 * len(DATE_LIKE)
    for value, (presentation, dialogue) in written.items():
        for language in ("", "es/", "fr/"):
            talk = (site / f"{language}swg_presentation/{presentation}.html").read_text("utf-8")
            presented = {"": "presented", "es/": "presentó", "fr/": "a présenté"}[language]
            assert f"<dd>{value}</dd>" in talk and f"{presented}: {value}" in talk.replace("\u00a0:", ":"), (value, language)
            meeting = (site / f"{language}national_dialogue/{dialogue}.html").read_text("utf-8")
            assert meeting.count(f"<dd>{value}</dd>") == 1, (value, language)  # the organizing agency, as written
            assert {"": "29 January 2024", "es/": "29 de enero de 2024", "fr/": "29 janvier 2024"}[language] in meeting
    assert "29 February 2024" not in (site / f"swg_presentation/{written['2024-02-29'][0]}.html").read_text("utf-8")
    assert not list(site.rglob(f"{broken}.html"))
    assert not [path for path in site.rglob("*.html") if f"/{broken}.html" in path.read_text("utf-8")]

    from flows.publication import publication_markdown, render_site
    from flows.runtime import Runtime, use_runtime
    from settings import Settings

    settings = Settings(data_dir=tmp_path, database_url=db.url)
    with use_runtime(Runtime(settings, db, clock)):
        result = render_site.fn()  # the publication flow's task, as its run calls it
    assert result["skipped"] == [{"engagement_id": broken, "reason": report.skipped[0].reason}]
    assert f"\n- skipped engagement {broken} (could not be rendered): `" in publication_markdown(result)

    with db.transaction() as session:  # mended: published on the next run
        row = session.get(Engagement, broken)
        session.execute(update(Engagement).where(Engagement.id == broken)
                        .values(details={**row.details, "published_at": "2024-02-12T09:00:00+00:00"}))
    again = publish_site(db, site, today=date(2024, 3, 1))
    assert again.skipped == [] and (site / f"national_dialogue/{broken}.html").is_file()
