"""Signed action links over HTTP, on SQLite and PostgreSQL: GET shows, a CSRF-checked POST decides."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import ActionLink, ApprovalVote, DialogueReport, Engagement, TransitionLog
from models.enums import Channel
from states import action_links
from states.approvals import record_decision
from states.sweep import run_sweep
from states.workflow import apply_transition
from tests.world import MEXICO, new_engagement

from tests.portal.portal_world import PortalWorld, awaiting_approval, csrf_of

FRANCE = "swg22.france@cochairs.example"
UNODC = "swg22.unodc@cochairs.example"


def test_approval_mail_carries_a_link_and_get_changes_nothing(world: PortalWorld) -> None:
    engagement = awaiting_approval(world)
    before = world.counts()
    page = world.client.get(world.link_of(FRANCE))
    assert page.status_code == 200
    html = page.text
    for expected in ("Meta presents at SWG 2.2", "Meta", "2.2", "Detecting drug sales online", FRANCE, UNODC,
                     "tous les coprésidents doivent approuver", "Approuver", "Refuser"):
        assert expected in html, expected
    assert '<html lang="fr">' in html  # the co-chair's language
    assert "<script" not in html and "style=" not in html
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    # a link scanner fetching it again, in another language, changes nothing either
    assert world.client.get(world.link_of(FRANCE) + "?lang=es").status_code == 200
    assert world.counts() == before
    with world.db.transaction() as session:
        assert session.get(Engagement, engagement).state == "awaiting_approval"


def test_post_with_csrf_records_the_decision_under_the_link_owner(world: PortalWorld) -> None:
    engagement = awaiting_approval(world)
    path = world.link_of(UNODC)
    token = csrf_of(world.client.get(path).text)
    done = world.client.post(path, data={"csrf": token, "action": "approve", "comment": "Glad to hear them"})
    assert done.status_code == 200, done.text
    assert "more co-chairs must still decide" in done.text
    with world.db.transaction() as session:
        vote = session.scalar(select(ApprovalVote).where(ApprovalVote.engagement_id == engagement))
        log = session.scalars(select(TransitionLog).where(TransitionLog.trigger == "approve")).one()
        link = session.scalar(select(ActionLink).where(ActionLink.email == UNODC))
    assert (vote.decision, vote.channel, vote.comment) == ("approve", "email_link", "Glad to hear them")
    assert (log.actor, log.actor_role, log.channel) == (UNODC, "co_chair", "email_link")
    assert link.used_action == "approve" and link.used_at is not None
    # the second co-chair settles it: the policy "all" is met
    path = world.link_of(FRANCE)
    done = world.client.post(path, data={"csrf": csrf_of(world.client.get(path).text), "action": "approve"})
    assert done.status_code == 200 and "approuvé" in done.text  # the French co-chair's page says it in French


def test_double_post_replays_and_other_action_is_refused(world: PortalWorld) -> None:
    awaiting_approval(world)
    path = world.link_of(UNODC)
    token = csrf_of(world.client.get(path).text)
    first = world.client.post(path, data={"csrf": token, "action": "approve"})
    again = world.client.post(path, data={"csrf": token, "action": "approve"})
    assert first.status_code == again.status_code == 200
    after = world.counts()
    assert after[0] == 3  # create, request_approval, ONE approve
    other = world.client.post(path, data={"csrf": token, "action": "decline"})
    assert other.status_code == 409 and "already used" in other.text
    assert world.client.get(path).status_code == 409
    assert world.counts() == after


def test_a_double_post_replays_even_when_the_engagement_moved_on_in_between(world: PortalWorld) -> None:
    # The first POST's decision is committed; before it marks the link used, France settles the approval.
    engagement = awaiting_approval(world)
    path = world.link_of(UNODC)
    token = csrf_of(world.client.get(path).text)
    key = action_links.idempotency_key(action_links.token_hash(path.rsplit("/", 1)[1]), "approve")
    record_decision(world.db, engagement, UNODC, "approve", channel=Channel.EMAIL_LINK, clock=world.clock,
                    idempotency_key=key, settings=world.settings)
    record_decision(world.db, engagement, FRANCE, "approve", clock=world.clock, settings=world.settings)
    before = world.counts()
    again = world.client.post(path, data={"csrf": token, "action": "approve"})
    assert again.status_code == 200 and "already been applied" in again.text
    assert world.counts()[:3] == before[:3]  # no audit row, vote or mail more


def test_same_decision_from_the_reminders_link_shows_as_recorded(world: PortalWorld) -> None:
    awaiting_approval(world)
    world.clock.advance(timedelta(days=7, seconds=1))
    run_sweep(world.db, world.clock, settings=world.settings)  # the reminder carries a second link
    request, reminder = world.link_of(UNODC, "approval_request"), world.link_of(UNODC, "reminder")
    assert request != reminder
    token = csrf_of(world.client.get(request).text)
    assert world.client.post(request, data={"csrf": token, "action": "approve"}).status_code == 200
    before = world.counts()
    again = world.client.post(reminder, data={"csrf": token, "action": "approve"})
    assert again.status_code == 200 and "already decided to approve" in again.text
    assert world.counts()[:3] == before[:3]  # no audit row, vote or mail more
    # a decision taken elsewhere (the CLI) is not this link's: the link's page says so and records nothing
    other = awaiting_approval(world, title="Meta presents again")
    record_decision(world.db, other, UNODC, "approve", clock=world.clock, settings=world.settings)
    before = world.counts()
    refused = world.client.post(world.link_of(UNODC), data={"csrf": token, "action": "approve"})
    assert refused.status_code == 409 and "already decided" in refused.text
    assert world.counts() == before


def test_missing_or_wrong_csrf_is_refused_and_writes_nothing(world: PortalWorld) -> None:
    awaiting_approval(world)
    path = world.link_of(UNODC)
    world.client.get(path)
    before = world.counts()
    assert world.client.post(path, data={"action": "approve"}).status_code == 403
    assert world.client.post(path, data={"action": "approve", "csrf": "0" * 64}).status_code == 403
    world.client.cookies.clear()  # a cross-site form: the browser sends no cookie
    assert world.client.post(path, data={"action": "approve", "csrf": "0" * 64}).status_code == 403
    assert world.counts() == before


def test_forged_expired_and_moved_on_links_are_refused(world: PortalWorld) -> None:
    engagement = awaiting_approval(world)
    path = world.link_of(UNODC)
    token = csrf_of(world.client.get(path).text)
    before = world.counts()
    forged = path[:-4] + ("AAAA" if not path.endswith("AAAA") else "BBBB")
    assert world.client.get(forged).status_code == 404
    assert world.client.post(forged, data={"csrf": token, "action": "approve"}).status_code == 404
    assert world.client.get("/a/" + "x" * 500).status_code == 404
    assert world.counts() == before
    # France declines through the CLI seam: under "all", the request is declined; UNODC's link moved on
    record_decision(world.db, engagement, FRANCE, "decline", clock=world.clock, settings=world.settings)
    moved = world.client.post(path, data={"csrf": token, "action": "approve"})
    assert moved.status_code == 409 and "moved on" in moved.text
    with world.db.transaction() as session:
        assert session.scalar(select(ApprovalVote).where(ApprovalVote.decision == "approve")) is None
    # a link past its lifetime
    other = awaiting_approval(world, title="Meta presents again")
    path = world.link_of(UNODC)
    world.clock.advance(timedelta(days=world.settings.link_lifetime_days, seconds=1))
    expired = world.client.post(path, data={"csrf": token, "action": "approve"})
    assert expired.status_code == 410 and "expired" in expired.text
    with world.db.transaction() as session:
        assert session.get(Engagement, other).state == "awaiting_approval"


def test_a_partner_link_cannot_approve_and_partner_accepts(world: PortalWorld) -> None:
    engagement = awaiting_approval(world)
    for chair in (UNODC, FRANCE):
        record_decision(world.db, engagement, chair, "approve", clock=world.clock, settings=world.settings)
    path = world.link_of("policy@meta.example", "invitation")
    page = world.client.get(path)
    assert page.status_code == 200 and "Accept the invitation" in page.text
    token = csrf_of(page.text)
    before = world.counts()
    assert world.client.post(path, data={"csrf": token, "action": "approve"}).status_code == 404
    assert world.counts() == before
    done = world.client.post(path, data={"csrf": token, "action": "accept"})
    assert done.status_code == 200 and "accepted" in done.text
    with world.db.transaction() as session:
        log = session.scalars(select(TransitionLog).where(TransitionLog.trigger == "accept")).one()
    assert (log.actor, log.actor_role, log.channel) == ("policy@meta.example", "partner", "email_link")


def test_dialogue_report_form_names_bad_fields_and_keeps_script_inert(world: PortalWorld) -> None:
    engagement = new_engagement(world.db, "national_dialogue", world.clock)
    for trigger in ("convene", "hold"):
        apply_transition(world.db, engagement, trigger, MEXICO, clock=world.clock, settings=world.settings)
    world.clock.advance(timedelta(days=15))
    run_sweep(world.db, world.clock, settings=world.settings)  # the reminder asks for the report
    path = world.link_of("enlace@conadic-mx.example", "reminder")
    page = world.client.get(path)
    assert page.status_code == 200 and "Informe del diálogo nacional" in page.text  # the authority reads Spanish
    token = csrf_of(page.text)
    before = world.counts()
    payload = "<script>alert(1)</script>"
    bad = world.client.post(path, data={
        "csrf": token, "action": "submit_report", "held_on": "2024-02-12", "organizing_agency": "CONADIC",
        "public_partners": "four", "private_partners": "-1", "narrative": payload,
    })
    assert bad.status_code == 422
    # each field says what is wrong with it, in the page's language, all at once
    for field, message in (("public_partners", "Introduzca un número entero."),
                           ("private_partners", "Introduzca un número entero.")):
        assert f'aria-invalid="true" aria-describedby="{field}-error"' in bad.text
        assert f'<p class="field-error" id="{field}-error">{message}</p>' in bad.text
    assert 'value="CONADIC"' in bad.text  # the values are kept
    assert payload not in bad.text and "&lt;script&gt;" in bad.text  # kept in the form, inert
    assert world.counts() == before
    done = world.client.post(path, data={
        "csrf": token, "action": "submit_report", "held_on": "2024-02-12", "organizing_agency": "CONADIC",
        "public_partners": "4", "private_partners": "9", "narrative": payload, "areas": "precursors\nshipping\n",
    })
    assert done.status_code == 200, done.text
    with world.db.transaction() as session:
        report = session.get(DialogueReport, engagement)
        assert session.get(Engagement, engagement).state == "report_submitted"
    assert (report.public_partners, report.private_partners, report.areas_of_discussion) == (4, 9, ["precursors", "shipping"])


def test_oversized_body_is_refused(world: PortalWorld) -> None:
    awaiting_approval(world)
    path = world.link_of(UNODC)
    token = csrf_of(world.client.get(path).text)
    before = world.counts()
    response = world.client.post(path, data={"csrf": token, "action": "approve", "comment": "x" * 100_000})
    assert response.status_code == 413
    assert world.counts() == before
