"""What a transition writes to the outbox when a notification reaches nobody, and for chat recipients."""

from __future__ import annotations

from sqlalchemy import insert, select

from models import Organization, OutboxMessage, UndeliverableAddress
from models.db import Database
from settings import Settings
from states.workflow import apply_transition, create_engagement
from world import FRANCE_CHAIR, REPORT, SECRETARIAT, UNODC_CHAIR, clock_at, new_engagement, seeded

CHAT_URL = "json://127.0.0.1:9/hooks/" + "secret-token-" * 20


def test_a_notification_with_no_recipient_is_kept_as_suppressed_with_its_reason(db: Database) -> None:
    seeded(db)
    with db.transaction() as session:
        session.execute(insert(Organization), {"name": "Ministry Without Contacts", "type": "national_authority"})
    clock = clock_at(2024, 1, 15)
    eid = create_engagement(db, {"kind": "national_dialogue", "title": "Dialogue nobody hears of", "country": "MX",
                                 "details": {"organizing_agency": "MWC"},
                                 "participants": [{"organization": "Ministry Without Contacts", "role": "organizer"}]},
                            SECRETARIAT, clock=clock)
    settings = Settings(chat_urls=[CHAT_URL])
    for trigger, data in (("convene", None), ("hold", None), ("submit_report", REPORT)):
        if trigger == "submit_report":
            clock = clock_at(2024, 2, 20)
        outcome = apply_transition(db, eid, trigger, SECRETARIAT, data=data, clock=clock, settings=settings)
    assert outcome.notifications == 3  # secretariat by e-mail and chat, and the organizer's row that reaches nobody
    with db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.transition_id == outcome.log_id)
                               .order_by(OutboxMessage.id)).all()
    by_channel = {(row.channel, row.status): row for row in rows}
    nobody = by_channel["email", "suppressed"]
    assert (nobody.recipient_address, nobody.mandatory) == ("", True)
    assert nobody.status_reason == "no recipient: nobody on file for organizer"
    chat = by_channel["chat", "pending"]
    assert chat.recipient_address == CHAT_URL
    assert "secret-token" not in chat.dedupe_key and len(chat.dedupe_key) < 80


def test_an_address_mail_cannot_reach_gets_a_suppressed_row_whoever_it_is(db: Database) -> None:
    seeded(db)
    clock = clock_at(2024, 3, 1)
    settings = Settings(chat_urls=[CHAT_URL])
    bounced = [FRANCE_CHAIR["identity"], settings.secretariat_email]  # a co-chair's and the Secretariat's
    with db.transaction() as session:
        session.execute(insert(UndeliverableAddress), [
            {"email": email, "reason": "550 no such user", "since": clock.now(), "message_key": f"dsn-{i}"}
            for i, email in enumerate(bounced)])
    engagement = new_engagement(db, "swg_presentation", clock, title="Snap at SWG 2.2", swg_code="2.2",
                                participants=[{"organization": "Meta", "role": "presenter"}])
    asked = apply_transition(db, engagement, "request_approval", SECRETARIAT, clock=clock, settings=settings)
    decided = apply_transition(db, engagement, "decline", UNODC_CHAIR, clock=clock, settings=settings)
    with db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.transition_id.in_(
            [asked.log_id, decided.log_id])).order_by(OutboxMessage.id)).all()
    status = {(row.recipient_address, row.channel): (row.status, row.status_reason) for row in rows}
    unreachable = ("suppressed", "address undeliverable: 550 no such user")
    assert status[FRANCE_CHAIR["identity"], "email"] == unreachable
    assert status[settings.secretariat_email, "email"] == unreachable
    assert status[CHAT_URL, "chat"] == ("pending", None)  # the Secretariat's chat still hears of it
    assert status[UNODC_CHAIR["identity"], "email"][0] == "pending"
