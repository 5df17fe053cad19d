"""Mail people expect: links as a call to action, the meeting as .ics, one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

import email
import mailbox
from pathlib import Path

from icalendar import Calendar
from sqlalchemy import select

from models import Contact
from notifications.dispatcher import dispatch_pending
from notifications.mail_sink import running_mail_sink
from states.approvals import record_decision

from tests.portal.portal_world import PortalWorld, awaiting_approval, csrf_of


def _deliver(world: PortalWorld, tmp_path: Path) -> dict[str, list[email.message.Message]]:
    maildir = tmp_path / "Maildir"
    with running_mail_sink(maildir) as port:
        world.settings.smtp_port = port
        dispatch_pending(world.db, clock=world.clock, settings=world.settings)
    mails: dict[str, list[email.message.Message]] = {}
    for message in mailbox.Maildir(maildir, create=False):
        for to in message.get_all("Delivered-To"):
            mails.setdefault(to, []).append(message)
    return mails


def test_invitation_and_acceptance_carry_the_meeting_and_optional_notices_unsubscribe(
    world: PortalWorld, tmp_path: Path,
) -> None:
    engagement = awaiting_approval(world, meeting_id=2)  # the SWG 2.2 session of 20 February 2024
    for chair in ("swg22.unodc@cochairs.example", "swg22.france@cochairs.example"):
        record_decision(world.db, engagement, chair, "approve", clock=world.clock, settings=world.settings)
    path = world.link_of("policy@meta.example", "invitation")
    accepted = world.client.post(path, data={"csrf": csrf_of(world.client.get(path).text), "action": "accept"})
    assert accepted.status_code == 200
    mails = _deliver(world, tmp_path)
    assert len(mails["policy@meta.example"]) == 2  # the invitation and the acceptance
    for message in mails["policy@meta.example"]:
        parts = {part.get_content_type(): part for part in message.walk()}
        calendar = Calendar.from_ical(parts["text/calendar"].get_payload(decode=True))
        event = calendar.walk("VEVENT")[0]
        assert event["dtstart"].dt.isoformat() == "2024-02-20T09:30:00-05:00" and "SWG 2.2" in str(event["summary"])
        assert event["dtstart"].params["TZID"] == "America/New_York"  # the session's hours, in its own time zone
    assert "/a/" in mails["policy@meta.example"][0].as_string() or "/a/" in mails["policy@meta.example"][1].as_string()
    optional = [m for m in mails["policy@meta.example"] if m["List-Unsubscribe"]]
    mandatory = [m for m in mails["policy@meta.example"] if not m["List-Unsubscribe"]]
    assert len(optional) == 1 and len(mandatory) == 1  # the acceptance is optional, the invitation is not
    assert optional[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = "".join(optional[0]["List-Unsubscribe"].split()).strip("<>")
    unsubscribe_path = url.removeprefix(world.settings.public_base_url)
    assert world.client.get(unsubscribe_path).status_code == 200  # shows, records nothing
    with world.db.transaction() as session:
        assert session.scalar(select(Contact).where(Contact.email == "policy@meta.example")).opt_outs == []
    # what a mail client does (RFC 8058): a cookie-less POST with the one-click body
    world.client.cookies.clear()
    done = world.client.post(unsubscribe_path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    with world.db.transaction() as session:
        assert session.scalar(select(Contact).where(Contact.email == "policy@meta.example")).opt_outs == ["decision"]
    forged = unsubscribe_path[:-3] + ("000" if not unsubscribe_path.endswith("000") else "111")
    assert world.client.post(forged, data={"List-Unsubscribe": "One-Click"}).status_code == 404
