"""The Secretariat's desk over HTTP, on SQLite and PostgreSQL: who may open it, what its queue lists, the steps and
forms it derives from the lifecycles, and one engagement of each kind driven from creation to a final state."""

from __future__ import annotations

import re
import socket
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from models import Engagement, OutboxMessage, SubmissionWindow, TransitionLog
from models.enums import Role
from portal.desk_labels import Labels
from portal.desk import _steps
from portal.model_forms import form_fields
from portal.web import pages
from states.desk_queue import staff_steps, waits_on
from states.inputs import DETAILS_SCHEMAS
from states.lifecycles import LIFECYCLES
from states.workflow import apply_transition
from tests.portal.portal_world import PortalWorld, csrf_of
from tests.world import ENGAGEMENTS, FRANCE_CHAIR, META, OUTCOME, REPORT, SECRETARIAT, UNODC_CHAIR, new_engagement

CO_CHAIR = "swg22.unodc@cochairs.example"
DESK_PAGES = ("/desk", "/desk/engagements", "/desk/engagements.csv", "/desk/engagements/1", "/desk/new",
              "/desk/new/achievement", "/desk/directory", "/desk/directory/1", "/desk/report", "/desk/report/report-en.html")
DESK_POSTS = ("/desk/engagements/1/steps/submit", "/desk/new/achievement", "/desk/jobs/publish", "/desk/outbox/1/retry",
              "/desk/directory", "/desk/directory/import", "/desk/directory/1/contacts", "/desk/directory/windows",
              "/desk/report")


def sign_in(world: PortalWorld, email: str) -> None:
    """Sign ``email`` in through the mailed link, as a person would."""
    token = csrf_of(world.client.get("/signin").text)
    assert world.client.post("/signin", data={"csrf": token, "email": email}).status_code == 200
    path = world.link_of(email, "sign_in")
    done = world.client.post(path, data={"csrf": csrf_of(world.client.get(path).text)}, follow_redirects=False)
    assert done.status_code == 303


def staff(world: PortalWorld) -> str:
    sign_in(world, world.settings.secretariat_email)
    return world.settings.secretariat_email


def _state(world: PortalWorld, engagement_id: int) -> str:
    with world.db.transaction() as session:
        return session.get(Engagement, engagement_id).state


def _form_of(html: str, action: str) -> str:
    match = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S)
    assert match, f"no form posting to {action}"
    return match.group(0)


def step(world: PortalWorld, engagement_id: int, trigger: str, *, comment: str = "", expect: int = 303,
         **data: Any) -> Any:  # noqa: ANN401 - the response
    """Take a step from the engagement's page, as a person would: its form, its CSRF token and version."""
    page = world.client.get(f"/desk/engagements/{engagement_id}")
    assert page.status_code == 200
    form = _form_of(page.text, f"/desk/engagements/{engagement_id}/steps/{trigger}")
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    fields = {"csrf": csrf_of(form), "version": version, "comment": comment}
    for name, value in data.items():
        assert f'name="data.{name}"' in form, f"{trigger} has no input for {name}"
        fields[f"data.{name}"] = "\n".join(value) if isinstance(value, list) else str(value)
    answer = world.client.post(f"/desk/engagements/{engagement_id}/steps/{trigger}", data=fields, follow_redirects=False)
    assert answer.status_code == expect, answer.text[:2000]
    return answer


def _creation_fields(kind: str, **overrides: Any) -> dict[str, str]:
    sample = {**ENGAGEMENTS[kind], **overrides}
    fields = {"title": sample["title"], "swg_code": sample.get("swg_code", ""), "country": sample.get("country", ""),
              "meeting_id": str(sample.get("meeting_id", ""))}
    for row, person in enumerate(sample["participants"]):
        fields |= {f"organization_{row}": person["organization"], f"role_{row}": person["role"]}
    fields |= {f"details.{name}": str(value) for name, value in sample["details"].items()}
    return fields


def create(world: PortalWorld, kind: str, *, start_approval: bool = False, **overrides: Any) -> int:
    """Create an engagement through the desk's form for ``kind``."""
    page = world.client.get(f"/desk/new/{kind}")
    assert page.status_code == 200
    fields = _creation_fields(kind, **overrides) | {"csrf": csrf_of(page.text)}
    if start_approval:
        fields["start_approval"] = "yes"
    done = world.client.post(f"/desk/new/{kind}", data=fields, follow_redirects=False)
    assert done.status_code == 303, done.text[:2000]
    return int(re.search(r"/desk/engagements/(\d+)", done.headers["location"]).group(1))


def counts(world: PortalWorld) -> tuple[int, ...]:
    with world.db.transaction() as session:
        return (*world.counts(), session.scalar(select(func.count()).select_from(Engagement)))


def test_anonymous_is_sent_to_sign_in_and_a_co_chair_is_told_why(world: PortalWorld) -> None:
    new_engagement(world.db, "achievement", world.clock)
    for path in DESK_PAGES:
        answer = world.client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/signin"), path
    for path in DESK_POSTS:
        assert world.client.post(path, data={}, follow_redirects=False).status_code == 303, path
    assert world.client.get("/board", follow_redirects=False).headers["location"] == "/desk"
    sign_in(world, CO_CHAIR)
    for path in DESK_PAGES:
        answer = world.client.get(path)
        assert answer.status_code == 403, path
        assert "for Secretariat staff" in answer.text and CO_CHAIR in answer.text and 'href="/pending"' in answer.text
    before = counts(world)
    token = csrf_of(world.client.get("/pending").text)
    for path in DESK_POSTS:
        assert world.client.post(path, data={"csrf": token}).status_code == 403, path
    assert counts(world) == before


def test_read_only_staff_read_every_desk_page_and_change_nothing(world: PortalWorld) -> None:
    reader = "auditor@coalition.example"
    portal = world.client.app.state.portal
    portal.settings = portal.settings.model_copy(update={"readonly_staff_emails": [reader]})
    engagement = new_engagement(world.db, "achievement", world.clock)
    sign_in(world, reader)
    for path in ("/desk", "/desk/engagements", "/desk/engagements.csv", f"/desk/engagements/{engagement}",
                 "/desk/directory", "/desk/directory/1", "/desk/report"):
        page = world.client.get(path)
        assert page.status_code == 200, path
        assert '<form method="post"' not in page.text.replace('<form method="post" action="/signout"', ""), path
    assert 'href="/desk/new"' not in world.client.get("/desk").text
    assert "steps staff may take are not shown" in world.client.get(f"/desk/engagements/{engagement}").text
    for path in ("/desk/new", "/desk/new/achievement"):  # pages that are only a form
        refused = world.client.get(path)
        assert refused.status_code == 403 and "read-only access" in refused.text, path
    before = counts(world)
    token = csrf_of(world.client.get("/desk").text)
    for path in DESK_POSTS:
        refused = world.client.post(path.replace("/1/", f"/{engagement}/"), data={"csrf": token, "version": "1"})
        assert refused.status_code == 403 and "change nothing" in refused.text, path
    assert counts(world) == before and _state(world, engagement) == "draft"
    french = world.client.get("/desk/new?lang=fr")
    assert french.status_code == 403 and "lecture seule" in french.text


def test_every_desk_page_has_a_plain_title(world: PortalWorld) -> None:
    staff(world)
    for path, title in (("/desk", "Work queue"), ("/desk/directory", "Directory"), ("/desk/engagements", None),
                        ("/desk/new", None), ("/desk/report", None)):
        page = world.client.get(path)
        assert page.status_code == 200, path
        shown = page.text.split("<title>", 1)[1].split("</title>", 1)[0]
        assert "<" not in shown and len(shown) < 120, (path, shown)
        if title:
            assert shown == f"{title} · Coalition Engage"


def test_every_post_needs_the_csrf_token(world: PortalWorld) -> None:
    engagement = new_engagement(world.db, "achievement", world.clock)
    staff(world)
    before = counts(world)
    for path, data in ((f"/desk/engagements/{engagement}/steps/submit", {"version": "1"}),
                       ("/desk/new/achievement", _creation_fields("achievement")),
                       ("/desk/jobs/publish", {}), ("/desk/outbox/1/retry", {}),
                       ("/desk/directory", {"org.name": "Acme", "org.type": "government"}),
                       ("/desk/directory/import", {"csv": "name,industry,country\nAcme,chemical,FR\n"}),
                       ("/desk/directory/1/contacts", {"contact.name": "Ana", "contact.email": "ana@acme.example"})):
        for token in (None, "0" * 64):
            answer = world.client.post(path, data=data | ({"csrf": token} if token else {}))
            assert answer.status_code == 403, path
    assert counts(world) == before and _state(world, engagement) == "draft"
    assert not (world.settings.data_dir / "site").exists()


def test_every_staff_step_has_a_form_and_every_input_model_its_fields(world: PortalWorld) -> None:
    template = pages("en").get_template("_desk_step.html")
    for kind, lifecycle in LIFECYCLES.items():
        for state in lifecycle.states:
            expected = {t.trigger for t in lifecycle.transitions_from(state.name) if Role.SECRETARIAT in t.roles}
            shown = _steps(lifecycle, state.name)
            assert {s["trigger"] for s in shown} == expected, (kind, state.name)
            for item in shown:
                html = template.render(step=item, engagement=Engagement(id=1, version=1), csrf="x", L=Labels("en"))
                assert f'action="/desk/engagements/1/steps/{item["trigger"]}"' in html and "<button" in html
                model = next((t.data_model() for t in lifecycle.transitions_from(state.name, item["trigger"])
                              if t.data_schema), None)
                for name in (model.model_fields if model else {}):
                    assert f'name="data.{name}"' in html, (kind, item["trigger"], name)
    for kind, model in DETAILS_SCHEMAS.items():
        assert [f.name for f in form_fields(model, "details.")] == [f"details.{n}" for n in model.model_fields]
    staff(world)
    for kind, model in DETAILS_SCHEMAS.items():
        page = world.client.get(f"/desk/new/{kind}").text
        for name in model.model_fields:
            assert f'name="details.{name}"' in page, (kind, name)


# Each kind from creation to a final state, through the desk; co-chairs and partners answer through their links.
WALKS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "national_dialogue": [("convene", {}), ("hold", {}), ("submit_report", {**REPORT, "held_on": "2024-01-30"}), ("start_review", {}),
                          ("publish", {}), ("unpublish", {})],
    "swg_presentation": [("co_chairs", {}), ("partner_accepts", {}),
                         ("record_presentation", {}), ("publish", {}), ("unpublish", {})],
    "alliance_meeting": [("schedule", {}), ("send_invitations", {}), ("hold", {}), ("record_outcome", OUTCOME),
                         ("publish", {}), ("unpublish", {})],
    "toolkit_launch": [("schedule_presentation", {}), ("present", {}), ("launch", {}), ("publish", {}),
                       ("unpublish", {})],
    "website_submission": [("submit", {}), ("start_screening", {}), ("approve", {}), ("publish", {}), ("unpublish", {})],
    "recommendation": [("submit", {}), ("start_review", {}), ("accept", {}), ("include_in_deliverable", {}),
                       ("select_for_report", {}), ("publish", {}), ("unpublish", {})],
    "achievement": [("submit", {}), ("start_review", {}), ("accept", {}), ("include_in_final_report", {}),
                    ("select_for_report", {}), ("publish", {}), ("unpublish", {})],
    "private_sector_forum": [("schedule", {}), ("cancel", {"comment": "The forum moved to next year"})],
}


def _answer_link(world: PortalWorld, email: str, notification: str, action: str) -> None:
    path = world.link_of(email, notification)
    answer = world.client.post(path, data={"csrf": csrf_of(world.client.get(path).text), "action": action})
    assert answer.status_code == 200, answer.text[:1000]


def _site_text(world: PortalWorld) -> str:
    return "".join(path.read_text() for path in (world.settings.data_dir / "site").rglob("*.html"))


@pytest.mark.parametrize("kind", list(WALKS))
def test_one_engagement_of_each_kind_from_creation_to_its_end(world: PortalWorld, kind: str) -> None:
    me = staff(world)
    engagement = create(world, kind, start_approval=kind == "swg_presentation")
    title = ENGAGEMENTS[kind]["title"]
    for trigger, data in WALKS[kind]:
        if trigger == "co_chairs":
            assert _state(world, engagement) == "awaiting_approval"
            for chair in (UNODC_CHAIR, FRANCE_CHAIR):
                _answer_link(world, chair["identity"], "approval_request", "approve")
            approval = world.client.get(f"/desk/engagements/{engagement}").text.split("Approval by the co-chairs")[1]
            approval = approval.split("<h2>History")[0]
            assert "Policy: all co-chairs must approve." in approval and approval.count("E-mail link") == 2
            continue
        if trigger == "partner_accepts":
            _answer_link(world, META["identity"], "invitation", "accept")
            continue
        state = _state(world, engagement)
        page = world.client.get(f"/desk/engagements/{engagement}").text
        for allowed in staff_steps(LIFECYCLES[kind], state):
            assert f"/desk/engagements/{engagement}/steps/{allowed.trigger}" in page, (state, allowed.trigger)
        fields = {name: value for name, value in data.items() if name != "comment"}
        step(world, engagement, trigger, comment=data.get("comment", ""), **fields)
        if trigger == "publish":
            assert title in _site_text(world)  # republished at once, no schedule needed
        if trigger == "unpublish":
            assert title not in _site_text(world)
    assert LIFECYCLES[kind].state(_state(world, engagement)).final
    with world.db.transaction() as session:
        logs = session.scalars(select(TransitionLog).where(TransitionLog.engagement_id == engagement)).all()
    desk_steps = [log for log in logs if log.actor_role == "secretariat"]
    assert desk_steps and all((log.actor, log.channel) == (me, "website") for log in desk_steps)
    page = world.client.get(f"/desk/engagements/{engagement}").text
    assert "This engagement is finished." in page and "Created" in page
    assert "{&#39;" not in page and "_" not in page.split("<h2>Details</h2>")[1].split("<h2>")[0].replace("mailto", "")
    if kind == "alliance_meeting":
        assert "Summary: Framework and action plan on youth prevention agreed" in page
    if kind == "recommendation":
        assert "Information sharing" in page


def test_a_refusal_is_shown_at_the_form_and_nothing_is_written(world: PortalWorld) -> None:
    engagement = new_engagement(world.db, "website_submission", world.clock)
    for trigger in ("submit", "start_screening"):
        apply_transition(world.db, engagement, trigger, SECRETARIAT, clock=world.clock, settings=world.settings)
    staff(world)
    before = counts(world)
    refused = step(world, engagement, "reject", expect=409)  # the lifecycle asks for a comment
    form = _form_of(refused.text, f"/desk/engagements/{engagement}/steps/reject")
    assert 'role="alert"' in form and "comment" in form.lower() and "Nothing was changed" in form
    assert counts(world) == before and _state(world, engagement) == "screening"
    meeting = new_engagement(world.db, "alliance_meeting", world.clock)
    for trigger in ("schedule", "send_invitations", "hold"):
        apply_transition(world.db, meeting, trigger, SECRETARIAT, clock=world.clock, settings=world.settings)
    before = counts(world)
    refused = step(world, meeting, "record_outcome", expect=422, summary="Agreed", commitments=["x" * 201])
    assert "commitments" in _form_of(refused.text, f"/desk/engagements/{meeting}/steps/record_outcome")
    assert "Agreed" in refused.text  # what was typed is kept
    assert counts(world) == before and _state(world, meeting) == "held"
    stale = world.client.post(f"/desk/engagements/{meeting}/steps/cancel",
                              data={"csrf": csrf_of(refused.text), "version": "1", "comment": "late"})
    assert stale.status_code == 409, stale.text
    assert "changed since you saw it" in stale.text and _state(world, meeting) == "held", re.sub(r"<[^>]+>", " ", stale.text)[-3000:]


def test_creation_refusals_name_the_field_and_write_nothing(world: PortalWorld) -> None:
    staff(world)
    before = counts(world)
    page = world.client.get("/desk/new/swg_presentation")
    fields = _creation_fields("swg_presentation") | {"csrf": csrf_of(page.text), "swg_code": "", "title": "x"}
    answer = world.client.post("/desk/new/swg_presentation", data=fields)
    assert answer.status_code == 422 and "title" in answer.text and 'value="x"' in answer.text
    assert counts(world) == before
    # created, but its approval cannot start without a partner contact: said on its page
    fields = _creation_fields("swg_presentation", participants=[{"organization": "INCB", "role": "presenter"}])
    answer = world.client.post("/desk/new/swg_presentation", data=fields | {"csrf": csrf_of(page.text),
                                                                           "start_approval": "yes"})
    assert answer.status_code == 409
    assert "could not be started" in answer.text and "no partner with a contact" in answer.text
    with world.db.transaction() as session:
        created = session.scalars(select(Engagement)).one()
    assert created.state == "proposed" and created.title == "Meta presents at SWG 2.2"


def _walk_to(world: PortalWorld, kind: str, triggers: list[str], **overrides: Any) -> int:
    engagement = new_engagement(world.db, kind, world.clock, **overrides)
    for trigger in triggers:
        actor = {"approve": UNODC_CHAIR, "accept_invitation": META}.get(trigger, SECRETARIAT)
        if trigger == "approve":
            for chair in (UNODC_CHAIR, FRANCE_CHAIR):
                apply_transition(world.db, engagement, "approve", chair, clock=world.clock, settings=world.settings)
            continue
        apply_transition(world.db, engagement, "accept" if trigger == "accept_invitation" else trigger, actor,
                         clock=world.clock, settings=world.settings, data=OUTCOME if trigger == "record_outcome" else None)
    return engagement


def test_the_queue_lists_everything_that_waits_on_the_secretariat(world: PortalWorld) -> None:
    # As in the demo: new submissions, an approved presentation not invited, an accepted one not recorded,
    # an accepted achievement to select; and what waits on others, which the queue must leave out.
    waiting_on_us = {
        _walk_to(world, "achievement", ["submit"], title="Achievement sent in"): "Start the review",
        _walk_to(world, "website_submission", ["submit", "start_screening"], title="Video in screening"): "Approve",
        _walk_to(world, "swg_presentation", ["request_approval", "approve", "accept_invitation"],
                 title="Accepted, to record"): "Record the presentation",
        _walk_to(world, "achievement", ["submit", "start_review", "accept"], title="Accepted achievement"):
            "Include in the final report",
        _walk_to(world, "alliance_meeting", ["schedule", "send_invitations", "hold"], title="Held workshop"):
            "Record the outcome",
    }
    not_ours = [
        _walk_to(world, "achievement", [], title="Draft with its partner"),
        _walk_to(world, "swg_presentation", ["request_approval"], title="Awaiting the co-chairs"),
        _walk_to(world, "national_dialogue", ["convene", "hold"], title="Dialogue held, report awaited"),
        _walk_to(world, "toolkit_launch", ["schedule_presentation", "present", "launch", "publish"], title="Launched and published"),
    ]
    # an approval past its deadline, a dead mail, a window closing soon
    world.clock.advance(timedelta(days=8))
    with world.db.engine.begin() as connection:
        dead = connection.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id).limit(1))
        connection.execute(update(OutboxMessage).where(OutboxMessage.id == dead)
                           .values(status="dead", attempts=5, last_error="550 mailbox unavailable"))
        connection.execute(update(SubmissionWindow).where(SubmissionWindow.kind == "achievement")
                           .values(closes_on=date(2024, 2, 15)))
    staff(world)
    with socket.socket() as probe:  # a port nobody listens on: the mail server is down
        probe.bind(("127.0.0.1", 0))
        world.settings.smtp_port = probe.getsockname()[1]
    ran = world.client.post("/desk/jobs/dispatch", data={"csrf": csrf_of(world.client.get("/desk").text)})
    assert ran.status_code == 200 and "unreachable: email" in ran.text
    page = world.client.get("/desk").text
    moving = page.split('id="to-move"')[1].split('id="overdue"')[0]
    for engagement, button in waiting_on_us.items():
        row = re.search(rf'<tr>\s*<td data-label="Engagement"><a href="/desk/engagements/{engagement}">.*?</tr>', moving, re.S)
        assert row and button in row.group(0), (engagement, button)
    for engagement in not_ours:
        assert f'href="/desk/engagements/{engagement}"' not in moving
    assert moving.count("<tr>") - 1 == len(waiting_on_us)
    overdue = page.split('id="overdue"')[1].split('id="mail"')[0]
    assert "Awaiting the co-chairs" in overdue and "Co-chairs" in overdue and "Draft with its partner" not in overdue
    mail = page.split('id="mail"')[1].split('id="windows"')[0]
    assert "The email server cannot be reached since" in mail and "then go out by themselves" in mail
    assert "550 mailbox unavailable" in mail and f'action="/desk/outbox/{dead}/retry"' in mail
    assert "Achievement: closes on 15 February 2024" in page.split('id="windows"')[1]
    recent = page.split('id="recent"')[1]
    assert recent.index("Dialogue held, report awaited") < recent.index("Draft with its partner")  # newest first
    assert "Hold → Held" in recent and "Secretariat staff" in recent
    shown = re.sub(r"<[^>]+>", " ", page.split("<main")[1].split("</main>")[0])
    for raw in ("co_chair", "co chair", "overdue (0)", "swg_presentation", "awaiting_approval"):
        assert raw not in shown, raw
    # send the dead mail again from the queue
    answer = world.client.post(f"/desk/outbox/{dead}/retry", data={"csrf": csrf_of(page), "back": "desk"},
                               follow_redirects=False)
    assert answer.status_code == 303
    with world.db.transaction() as session:
        assert session.get(OutboxMessage, dead).status == "pending"
    # the queue's one button moves an engagement on
    first = next(iter(waiting_on_us))
    form = _form_of(page, f"/desk/engagements/{first}/steps/start_review")
    answer = world.client.post(f"/desk/engagements/{first}/steps/start_review",
                               data={"csrf": csrf_of(form), "back": "desk", "version": "2"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/desk?")
    assert _state(world, first) == "under_review"
    assert {waits_on(kind, state.name) for kind, lc in LIFECYCLES.items() for state in lc.states} >= {Role.SECRETARIAT}


def test_lists_filter_search_sort_page_and_export(world: PortalWorld) -> None:
    for kind in ENGAGEMENTS:
        new_engagement(world.db, kind, world.clock)
    for number in range(55):
        new_engagement(world.db, "achievement", world.clock, title=f"Listing takedown {number:02d}")
    staff(world)
    everything = world.client.get("/desk/engagements").text
    assert "63 engagements; page 1 of 2" in everything and 'rel="next"' in everything
    second = world.client.get("/desk/engagements?page=2").text
    assert second.count('data-label="Engagement"') == 13
    one = world.client.get("/desk/engagements", params={"q": "takedown 07"}).text
    assert "1 engagement;" in one or "1 engagement." in one
    assert "Listing takedown 07" in one
    assert "Meta presents at SWG 2.2" in world.client.get("/desk/engagements", params={"swg": "2.2"}).text
    by_industry = world.client.get("/desk/engagements", params={"industry": "shipping"}).text
    assert "Shipping screening video" in by_industry and "Banking forum" not in by_industry
    by_country = world.client.get("/desk/engagements", params={"country": "mx"}).text
    assert "Mexico national dialogue" in by_country and "Banking forum" not in by_country
    ours = world.client.get("/desk/engagements", params={"waiting": "secretariat"}).text
    assert "PPP toolkit launch" in ours and "Listing takedown" not in ours
    assert "0 engagements" in world.client.get("/desk/engagements", params={"kind": "nonsense"}).text
    titles = world.client.get("/desk/engagements", params={"sort": "title", "kind": "achievement"}).text
    assert titles.index("Listing takedown 00") < titles.index("Listing takedown 01") < titles.index("Listing takedown 49")
    last = world.client.get("/desk/engagements", params={"sort": "title", "kind": "achievement", "page": "2"}).text
    assert last.index("Listing takedown 54") < last.index("Removed 10,000")
    export = world.client.get("/desk/engagements.csv", params={"kind": "achievement"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    lines = export.text.strip().splitlines()
    assert len(lines) == 57 and lines[0].startswith("id,title,kind,state") and ",Achievement,Draft," in lines[1]
    counts_page = world.client.get("/desk").text
    assert 'href="/desk/engagements?kind=achievement&amp;state=draft">Draft: 56</a>' in counts_page


def test_a_title_cannot_run_as_a_spreadsheet_formula(world: PortalWorld) -> None:
    new_engagement(world.db, "achievement", world.clock, title="=HYPERLINK(\"http://evil.example\")")
    staff(world)
    assert "'=HYPERLINK" in world.client.get("/desk/engagements.csv").text


def test_jobs_run_now_and_the_desk_says_what_they_did(world: PortalWorld) -> None:
    engagement = new_engagement(world.db, "toolkit_launch", world.clock)
    for trigger in ("schedule_presentation", "present", "launch", "publish"):
        apply_transition(world.db, engagement, trigger, SECRETARIAT, clock=world.clock, settings=world.settings)
    me = staff(world)
    token = csrf_of(world.client.get("/desk").text)
    answer = world.client.post("/desk/jobs/publish", data={"csrf": token})
    assert answer.status_code == 200 and "1 published item; " in answer.text and me in answer.text
    assert "PPP toolkit launch" in _site_text(world)
    assert world.client.post("/desk/jobs/nothing", data={"csrf": token}).status_code == 404


def _organization_named(world: PortalWorld, name: str) -> Any:  # noqa: ANN401 - an Organization
    from models import Organization

    with world.db.transaction() as session:
        return session.scalars(select(Organization).where(Organization.name == name)).one_or_none()


def test_directory_search_add_and_import(world: PortalWorld) -> None:
    staff(world)
    found = world.client.get("/desk/directory", params={"q": "mfernandez@"}).text
    assert "Química Andina S.A." in found and "Meta" not in found.split("<tbody>")[1]
    token = csrf_of(found)
    before = counts(world)
    refused = world.client.post("/desk/directory", data={"csrf": token, "org.name": "Laboratorios Sur",
                                                         "org.type": "partner", "org.country": "CL"})
    assert refused.status_code == 422 and "needs an industry" in refused.text and 'value="CL"' in refused.text
    assert _organization_named(world, "Laboratorios Sur") is None and counts(world) == before
    added = world.client.post("/desk/directory", data={"csrf": token, "org.name": "Laboratorios Sur", "org.type": "partner",
                                                       "org.industry": "pharmaceuticals", "org.country": "cl"},
                              follow_redirects=False)
    assert added.status_code == 303
    organization = _organization_named(world, "Laboratorios Sur")
    assert (organization.industry, organization.country) == ("pharmaceuticals", "CL")
    page = world.client.get(added.headers["location"]).text
    assert "Saved." in page and "No contact on file" in page
    contacts = f"/desk/directory/{organization.id}/contacts"
    bad = world.client.post(contacts, data={"csrf": token, "contact.name": "Rosa", "contact.email": "not an address"})
    assert bad.status_code == 422 and "email" in bad.text
    good = world.client.post(contacts, data={"csrf": token, "contact.name": "Rosa Díaz", "contact.email": "rdiaz@labsur.example",
                                             "contact.language": "es", "contact.opt_outs": "reminder\nchat"})
    assert good.status_code == 200 and "Rosa Díaz" in good.text and "everything but reminders, chat" in good.text
    taken = world.client.post(contacts, data={"csrf": token, "contact.name": "Someone",
                                              "contact.email": "policy@meta.example"})
    assert taken.status_code == 409 and "already a contact of another organization" in taken.text
    # the import: a refused line names its number and field, and nothing is written
    before = counts(world)
    broken = "name,industry,country\nFarmacia Norte,pharmaceuticals,MX\nBad Row,spaceflight,MX\n"
    answer = world.client.post("/desk/directory/import", data={"csrf": token, "csv": broken})
    assert answer.status_code == 422 and "line 3" in answer.text and "industry" in answer.text
    assert _organization_named(world, "Farmacia Norte") is None and counts(world) == before
    done = world.client.post("/desk/directory/import", data={"csrf": token, "csv": broken.replace("spaceflight", "chemical")})
    assert done.status_code == 200 and "Imported 2 rows" in done.text
    assert _organization_named(world, "Bad Row").industry == "chemical"


def test_select_for_the_report_preview_build_and_download(world: PortalWorld) -> None:
    achievement = _walk_to(world, "achievement", ["submit", "start_review", "accept"])
    me = staff(world)
    page = world.client.get("/desk/report").text
    candidates = page.split('id="candidates"')[1].split('id="build"')[0]
    assert "Removed 10,000 drug listings" in candidates and "Automated detection" in candidates
    form = _form_of(candidates, f"/desk/engagements/{achievement}/steps/select_for_report")
    chosen = world.client.post(f"/desk/engagements/{achievement}/steps/select_for_report",
                               data={"csrf": csrf_of(form), "version": "4", "back": "report"})
    assert chosen.status_code == 200 and "Selected for the report." in chosen.text
    selected = chosen.text.split('id="selected"')[1].split('id="candidates"')[0]
    assert "Removed 10,000 drug listings" in selected and "Automated detection" in selected
    with world.db.transaction() as session:
        log = session.scalars(select(TransitionLog).where(TransitionLog.trigger == "select_for_report")).one()
    assert (log.actor, log.channel) == (me, "website")
    token = csrf_of(chosen.text)
    assert world.client.post("/desk/report", data={"csrf": token, "language": "de", "format": "html"}).status_code == 422
    assert world.client.get("/desk/report/report-en.html").status_code == 404  # not built yet
    built = world.client.post("/desk/report", data={"csrf": token, "language": "en", "format": "html"})
    assert built.status_code == 200 and "Built report-en.html" in built.text
    download = world.client.get("/desk/report/report-en.html")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert "Automated detection" in download.text or "Removed 10,000" in download.text
    assert "report/report-en.html" in (world.settings.site_dir / "index.html").read_text()  # the site links it
    assert world.client.get("/desk/report/..%2Fengage.db").status_code == 404


def test_next_years_submission_windows(world: PortalWorld) -> None:
    staff(world)
    token = csrf_of(world.client.get("/desk/directory").text)
    refused = world.client.post("/desk/directory/windows", data={
        "csrf": token, "window.kind": "achievement", "window.opens_on": "2025-12-31", "window.closes_on": "2025-01-01"})
    assert refused.status_code == 422 and "closes_on is before opens_on" in refused.text
    with world.db.transaction() as session:
        assert session.get(SubmissionWindow, "achievement").closes_on == date(2024, 12, 31)
    saved = world.client.post("/desk/directory/windows", data={
        "csrf": token, "window.kind": "recommendation", "window.opens_on": "2025-01-01", "window.closes_on": "2025-09-30",
        "window.early_deadline": "2025-04-30"})
    assert saved.status_code == 200 and "The window is saved." in saved.text
    with world.db.transaction() as session:
        window = session.get(SubmissionWindow, "recommendation")
    assert (window.opens_on, window.closes_on, window.early_deadline) == (date(2025, 1, 1), date(2025, 9, 30),
                                                                          date(2025, 4, 30))
