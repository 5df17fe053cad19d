"""The one transactional path, on SQLite and PostgreSQL: state, audit and outbox together or not at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from models import ApprovalVote, DialogueReport, Engagement, OutboxMessage, TransitionLog
from models.base import Base
from models.db import Database
from states.directory import import_partners_csv
from states.errors import (
    AlreadyDecidedError, ConflictError, GuardFailedError, NotAllowedError, NotFoundError, UnknownTriggerError,
)
from states.inputs import InputError
from states.workflow import apply_transition, create_engagement
from tests.world import (
    CANADA_CHAIR, FRANCE_CHAIR, MEXICO, META, NIGERIA_CHAIR, QUIMICA, REPORT, SECRETARIAT, SYSTEM, UK_CHAIR,
    UNODC_CHAIR, WHO_CHAIR, clock_at, new_engagement, seeded,
)


def snapshot(db: Database) -> dict[str, object]:
    """Every row of every table: what 'the database is unchanged' compares."""
    with db.engine.connect() as connection:
        return {
            table.name: connection.execute(text(f'SELECT * FROM "{table.name}" ORDER BY 1')).all()
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
def world(db: Database) -> Database:
    return seeded(db)


def test_a_dialogue_goes_from_planned_to_published_with_audit_and_outbox(world: Database) -> None:
    clock = clock_at(2024, 1, 15)
    eid = new_engagement(world, "national_dialogue", clock)
    apply_transition(world, eid, "convene", MEXICO, clock=clock)
    clock.advance(timedelta(days=28))
    apply_transition(world, eid, "hold", MEXICO, comment="Held in Mexico City", clock=clock)
    outcome = apply_transition(world, eid, "submit_report", MEXICO, data=REPORT, clock=clock, channel="mailbox")
    assert (outcome.from_state, outcome.to_state, outcome.version) == ("held", "report_submitted", 4)
    assert outcome.notifications == 2  # the secretariat and the national authority
    apply_transition(world, eid, "start_review", SECRETARIAT, clock=clock)
    apply_transition(world, eid, "publish", SECRETARIAT, clock=clock)
    with world.sessions() as session:
        row = session.get(Engagement, eid)
        assert (row.state, row.version, row.next_due_at) == ("published", 6, None)
        report = session.get(DialogueReport, eid)
        assert (report.public_partners, report.private_partners, report.organizing_agency) == (4, 9, "CONADIC")
        logs = session.scalars(select(TransitionLog).where(TransitionLog.engagement_id == eid).order_by(TransitionLog.id)).all()
        assert [(log.trigger, log.from_state, log.to_state) for log in logs] == [
            ("create", "", "planned"), ("convene", "planned", "convened"), ("hold", "convened", "held"),
            ("submit_report", "held", "report_submitted"), ("start_review", "report_submitted", "under_review"),
            ("publish", "under_review", "published"),
        ]
        submit = logs[3]
        assert (submit.actor, submit.actor_role, submit.channel, submit.data["private_partners"]) == (
            "enlace@conadic-mx.example", "national_authority", "mailbox", 9)
        assert logs[2].comment == "Held in Mexico City"
        outbox = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(m.notification_type, m.recipient_address, m.language) for m in outbox] == [
            ("dialogue_report_received", "syntheticscoalition@state.example", "en"),
            ("dialogue_report_received", "enlace@conadic-mx.example", "es"),
            ("publication_notice", "mfernandez@quimica-andina.example", "es"),
        ]
        assert all(m.transition_id is not None and m.status == "pending" for m in outbox)
        assert outbox[2].context["engagement_title"] == "Mexico national dialogue"


@pytest.mark.parametrize(
    ("trigger", "actor", "kwargs", "error", "message"),
    [
        ("fly", SECRETARIAT, {}, UnknownTriggerError, "'fly' is not a step of a national dialogue"),
        ("publish", SECRETARIAT, {}, UnknownTriggerError, "is 'held': cannot 'publish' from there"),
        ("submit_report", META, {"data": REPORT}, NotAllowedError, "a partner may not 'submit_report'"),
        ("submit_report", {"role": "national_authority", "identity": "oncb@thailand-gov.example"}, {"data": REPORT},
         NotAllowedError, "not a contact of an organization taking part"),
        ("submit_report", MEXICO, {}, GuardFailedError, "a report is required"),
        ("submit_report", MEXICO, {"data": {**REPORT, "public_partners": -2}}, InputError,
         "data.public_partners: Input should be greater than or equal to 0"),
        ("submit_report", MEXICO, {"data": {**REPORT, "held_on": "2031-01-01"}}, GuardFailedError,
         "held_on 2031-01-01 is in the future"),
        ("submit_report", MEXICO, {"data": {**REPORT, "mood": "good"}}, InputError, "data.mood: Extra inputs"),
        ("hold", {"role": "wizard", "identity": "x"}, {}, InputError, "actor.role: Input should be"),
        ("close_unreported", SECRETARIAT, {"comment": "x" * 2001}, InputError, "comment: String should have at most"),
    ],
)
def test_refusals_name_the_problem_and_change_nothing(world: Database, trigger, actor, kwargs, error, message) -> None:  # noqa: ANN001
    clock = clock_at(2024, 2, 1)
    eid = new_engagement(world, "national_dialogue", clock)
    apply_transition(world, eid, "convene", MEXICO, clock=clock)
    apply_transition(world, eid, "hold", MEXICO, clock=clock)
    before = snapshot(world)
    with pytest.raises(error, match=message):
        apply_transition(world, eid, trigger, actor, clock=clock, **kwargs)
    assert snapshot(world) == before


def test_unknown_engagement_is_refused(world: Database) -> None:
    with pytest.raises(NotFoundError, match="no engagement with id 999"):
        apply_transition(world, 999, "convene", SECRETARIAT)


def test_a_submission_after_the_window_closes_is_refused_clearly(world: Database) -> None:
    clock = clock_at(2024, 10, 2)
    eid = new_engagement(world, "website_submission", clock)
    before = snapshot(world)
    with pytest.raises(GuardFailedError, match="closed on 30 September 2024; it no longer accepts submissions"):
        apply_transition(world, eid, "submit", {"role": "partner", "identity": "cdubois@atlantique-maritime.example"},
                         clock=clock)
    assert snapshot(world) == before


def test_only_recommendations_received_by_30_april_join_the_deliverable(world: Database) -> None:
    results = {}
    for day in ((2024, 4, 30), (2024, 5, 1)):
        clock = clock_at(*day)
        eid = new_engagement(world, "recommendation", clock)
        for trigger, actor in (("submit", QUIMICA), ("start_review", SECRETARIAT), ("accept", SECRETARIAT)):
            apply_transition(world, eid, trigger, actor, clock=clock)
        try:
            results[day] = apply_transition(world, eid, "include_in_deliverable", SECRETARIAT, clock=clock).to_state
        except GuardFailedError as error:
            results[day] = str(error)
    assert results[(2024, 4, 30)] == "in_deliverable"
    assert "after the early deadline of 30 April 2024" in results[(2024, 5, 1)]


def _awaiting(world: Database, swg: str) -> int:
    clock = clock_at(2024, 2, 1)
    eid = new_engagement(world, "swg_presentation", clock, swg_code=swg)
    assert apply_transition(world, eid, "request_approval", SECRETARIAT, clock=clock).notifications >= 1
    return eid


def _state(world: Database, eid: int) -> str:
    with world.sessions() as session:
        return session.get(Engagement, eid).state


def test_all_policy_needs_every_co_chair(world: Database) -> None:
    eid = _awaiting(world, "2.2")
    assert apply_transition(world, eid, "approve", FRANCE_CHAIR, comment="d'accord").to_state == "awaiting_approval"
    assert apply_transition(world, eid, "approve", UNODC_CHAIR).to_state == "approved"


def test_all_policy_one_decline_refuses(world: Database) -> None:
    eid = _awaiting(world, "2.2")
    assert apply_transition(world, eid, "decline", UNODC_CHAIR, comment="off topic").to_state == "declined"


def test_any_policy_first_approval_wins(world: Database) -> None:
    eid = _awaiting(world, "1.1")
    assert apply_transition(world, eid, "approve", CANADA_CHAIR).to_state == "approved"


def test_quorum_policy(world: Database) -> None:
    eid = _awaiting(world, "3.1")
    assert apply_transition(world, eid, "decline", NIGERIA_CHAIR).to_state == "awaiting_approval"
    assert apply_transition(world, eid, "approve", WHO_CHAIR).to_state == "awaiting_approval"
    assert apply_transition(world, eid, "approve", UK_CHAIR).to_state == "approved"
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ApprovalVote)) == 3


def test_co_chair_of_another_swg_and_second_vote_are_refused(world: Database) -> None:
    eid = _awaiting(world, "2.2")
    with pytest.raises(NotAllowedError, match="is a co-chair of SWG 1.1, not of SWG 2.2"):
        apply_transition(world, eid, "approve", CANADA_CHAIR)
    with pytest.raises(NotAllowedError, match="not a co-chair of SWG 2.2"):
        apply_transition(world, eid, "approve", {"role": "co_chair", "identity": "someone@else.example"})
    apply_transition(world, eid, "approve", FRANCE_CHAIR, channel="prefect_ui")
    before = snapshot(world)
    with pytest.raises(AlreadyDecidedError, match="already decided to approve .* via prefect_ui"):
        apply_transition(world, eid, "decline", FRANCE_CHAIR, channel="cli")
    assert snapshot(world) == before


def test_idempotency_key_applies_once(world: Database) -> None:
    clock = clock_at(2024, 2, 1)
    eid = new_engagement(world, "toolkit_launch", clock)
    first = apply_transition(world, eid, "schedule_presentation", SYSTEM | {"role": "secretariat"}, idempotency_key="k-1")
    again = apply_transition(world, eid, "schedule_presentation", SECRETARIAT, idempotency_key="k-1")
    assert (first.replayed, again.replayed, again.log_id, again.version) == (False, True, first.log_id, first.version)
    with world.sessions() as session:
        assert session.get(Engagement, eid).version == 2


def test_a_stale_version_is_a_conflict_and_writes_nothing(world: Database) -> None:
    clock = clock_at(2024, 2, 1)
    eid = new_engagement(world, "toolkit_launch", clock)
    apply_transition(world, eid, "schedule_presentation", SECRETARIAT, clock=clock)
    before = snapshot(world)
    with pytest.raises(ConflictError, match="changed since you saw it .version 1, now 2"):
        apply_transition(world, eid, "cancel", SECRETARIAT, comment="dropped", expected_version=1, clock=clock)
    assert snapshot(world) == before


def test_opted_out_contacts_are_suppressed_unless_the_notice_is_mandatory(world: Database) -> None:
    with world.transaction() as session:
        session.execute(text("UPDATE contacts SET opt_outs = :o WHERE email = :e"),
                        {"o": '["reminder", "email"]', "e": "policy@meta.example"})
    clock = clock_at(2024, 2, 1)
    eid = _awaiting(world, "1.1")
    apply_transition(world, eid, "approve", CANADA_CHAIR, clock=clock)  # followed by the mandatory invitation
    clock.advance(timedelta(days=7))
    apply_transition(world, eid, "remind", SYSTEM, clock=clock)
    with world.sessions() as session:
        rows = session.execute(select(OutboxMessage.notification_type, OutboxMessage.status, OutboxMessage.status_reason)
                               .where(OutboxMessage.recipient_address == "policy@meta.example")
                               .order_by(OutboxMessage.id)).all()
    assert rows == [
        ("invitation", "pending", "mandatory notice, sent despite opt-out of email"),
        ("reminder", "suppressed", "recipient opted out of email"),
    ]


def test_reminder_and_escalation_steps_keep_the_state_and_move_the_schedule(world: Database) -> None:
    eid = _awaiting(world, "2.2")
    apply_transition(world, eid, "approve", FRANCE_CHAIR)
    with world.sessions() as session:
        due = session.get(Engagement, eid).next_due_at
    clock = clock_at(2024, 2, 8)
    reminded = apply_transition(world, eid, "remind", SYSTEM, clock=clock, channel="flow", flow_run_id="run-1")
    assert (reminded.from_state, reminded.to_state, reminded.notifications) == ("awaiting_approval", "awaiting_approval", 1)
    escalated = apply_transition(world, eid, "escalate", SYSTEM, clock=clock_at(2024, 2, 15), channel="flow")
    assert escalated.notifications == 1
    with world.sessions() as session:
        row = session.get(Engagement, eid)
        assert (row.reminders_sent, row.escalated, row.next_due_at) == (1, True, None)
        reminder = session.scalar(select(OutboxMessage).where(OutboxMessage.notification_type == "reminder"))
        assert reminder.recipient_address == "swg22.unodc@cochairs.example"  # France already decided
        assert reminder.context["reminder_number"] == 1
        assert session.scalar(select(TransitionLog.flow_run_id).where(TransitionLog.trigger == "remind")) == "run-1"
    assert due is not None


def test_create_refuses_bad_input_naming_the_field(world: Database) -> None:
    before = snapshot(world)
    cases = [
        ({"kind": "website_submission", "title": "A video", "details": {"media": "video", "url": "not a url",
                                                                        "summary": "s"}}, InputError, "details.url"),
        ({"kind": "swg_presentation", "title": "No SWG", "details": {"topic": "Something"}}, InputError,
         "needs swg_code"),
        ({"kind": "recommendation", "title": "Bad country", "country": "ZZ", "details": {"topic": "policy", "text": "t"}},
         InputError, "country: 'ZZ' is not an ISO 3166-1 alpha-2"),
        ({"kind": "achievement", "title": "Unknown org", "details": {"summary": "s"},
          "participants": [{"organization": "Nobody Inc", "role": "partner"}]}, NotFoundError, "Nobody Inc"),
    ]
    for spec, error, message in cases:
        with pytest.raises(error, match=message):
            create_engagement(world, spec, SECRETARIAT)
    assert snapshot(world) == before


def test_partner_csv_reports_every_bad_row_and_imports_nothing(world: Database) -> None:
    before = snapshot(world)
    report = import_partners_csv(world, (
        "name,industry,country,contact_name,contact_email\n"
        "Good Chemicals,chemical,DE,Anna,anna@good.example\n"
        "Bad Industry,plastics,DE,,\n"
        "Bad Country,banking,XX,,\n"
        "Bad Mail,shipping,NL,Piet,not-an-email\n"
        "Header Injection,shipping,NL,\"Eve\r\nBcc: all@x.example\",eve@x.example\n"
    ))
    assert report.organizations.total == 0
    joined = "\n".join(report.errors)
    assert "line 3: industry" in joined and "line 4: country: 'XX'" in joined
    assert "line 5: contact_email" in joined and "line 6: contact_name: must be a single line" in joined
    assert snapshot(world) == before
    good = import_partners_csv(world, "name,industry,country\nGood Chemicals,chemical,DE\n")
    assert (good.organizations.new, good.errors) == (1, [])
