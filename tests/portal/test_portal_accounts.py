"""Sign-in by mailed link, a co-chair's pending decisions, the Secretariat's board."""

from __future__ import annotations

from sqlalchemy import func, select

from models import ApprovalVote, OutboxMessage, TransitionLog
from states.approvals import record_decision
from states.workflow import apply_transition
from tests.world import SECRETARIAT, new_engagement

from tests.portal.portal_world import PortalWorld, awaiting_approval, csrf_of

UNODC = "swg22.unodc@cochairs.example"


def _sign_in(world: PortalWorld, email: str) -> None:
    token = csrf_of(world.client.get("/signin").text)
    asked = world.client.post("/signin", data={"csrf": token, "email": email})
    assert asked.status_code == 200 and email in asked.text
    path = world.link_of(email, "sign_in")
    page = world.client.get(path)  # a scanner's GET signs nobody in
    assert page.status_code == 200 and "engage_session" not in page.headers.get("set-cookie", "")
    done = world.client.post(path, data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert done.status_code == 303 and "engage_session" in done.headers["set-cookie"]
    stale = world.client.post(path, data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert stale.status_code == 403  # the CSRF nonce was rotated at sign-in
    again = world.client.post(path, data={"csrf": csrf_of(world.client.get("/signin").text)}, follow_redirects=False)
    assert again.status_code == 409  # one-time


def _mails(world: PortalWorld) -> int:
    with world.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage))


def test_unknown_address_gets_the_same_answer_and_no_mail(world: PortalWorld) -> None:
    token = csrf_of(world.client.get("/signin").text)
    before = _mails(world)
    answer = world.client.post("/signin", data={"csrf": token, "email": "stranger@example.org"})
    assert answer.status_code == 200 and "stranger@example.org" in answer.text
    assert _mails(world) == before
    assert world.client.post("/signin", data={"csrf": token, "email": "not an address"}).status_code == 422
    assert world.client.get("/pending", follow_redirects=False).status_code == 303
    assert world.client.get("/board", follow_redirects=False).status_code == 303


def test_co_chair_decides_from_the_pending_list(world: PortalWorld) -> None:
    first = awaiting_approval(world)
    second = awaiting_approval(world, title="Meta presents again at SWG 2.2")
    _sign_in(world, UNODC)
    page = world.client.get("/pending")
    assert page.status_code == 200
    assert "Meta presents at SWG 2.2" in page.text and "Meta presents again at SWG 2.2" in page.text
    token = csrf_of(page.text)
    assert world.client.post(f"/pending/{first}", data={"action": "approve"}).status_code == 403  # no CSRF
    done = world.client.post(f"/pending/{first}", data={"csrf": token, "action": "approve"})
    assert done.status_code == 200 and "more co-chairs must still decide" in done.text
    assert "Meta presents at SWG 2.2</h2>" not in done.text and "Meta presents again" in done.text
    with world.db.transaction() as session:
        vote = session.scalar(select(ApprovalVote).where(ApprovalVote.engagement_id == first))
        assert session.scalar(select(func.count()).select_from(ApprovalVote).where(ApprovalVote.engagement_id == second)) == 0
    assert (vote.decision, vote.channel) == ("approve", "website")
    assert world.client.get("/board", follow_redirects=False).status_code == 303  # co-chairs see no board


def test_the_pending_list_shows_the_whole_decision(world: PortalWorld) -> None:
    engagement = awaiting_approval(world, meeting_id=2)
    record_decision(world.db, engagement, "swg22.france@cochairs.example", "approve", "Timely for the session",
                    clock=world.clock, settings=world.settings)
    _sign_in(world, UNODC)
    page = world.client.get("/pending").text
    for shown in ("Meta", "SWG 2.2 information-sharing session (20 February 2024)", "all co-chairs must approve",
                  "Approve — “Timely for the session”", "the invitation goes to the partner at once"):
        assert shown in page, shown
    spanish = world.client.get("/pending?lang=es").text
    assert "Cuando se cumpla la regla de aprobación" in spanish


def test_secretariat_board_shows_waits_and_flow_runs(world: PortalWorld) -> None:
    world.settings.prefect_ui_url = "http://127.0.0.1:4200"
    engagement = new_engagement(world.db, "swg_presentation", world.clock)
    apply_transition(world.db, engagement, "request_approval", SECRETARIAT, clock=world.clock, settings=world.settings,
                     flow_run_id="6f1c2b4e-0000-4000-8000-000000000001")
    _sign_in(world, world.settings.secretariat_email)
    assert world.client.get("/board", follow_redirects=False).headers["location"] == "/desk"  # the desk replaced it
    page = world.client.get(f"/desk/engagements/{engagement}")
    assert page.status_code == 200
    for expected in ("SWG presentation", "Awaiting approval", "Co-chairs",
                     'href="http://127.0.0.1:4200/runs/flow-run/6f1c2b4e-0000-4000-8000-000000000001"'):
        assert expected in page.text, expected
    with world.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(TransitionLog)) == 2
