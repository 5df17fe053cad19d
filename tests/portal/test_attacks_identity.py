"""Attacks through the public door (issue 18): identity, mail at will, files at will. Both databases."""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import mailbox
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from models.enums import NotificationType
from models import ActionLink, Contact, Engagement, OutboxMessage, Participant, PendingSubmission, TransitionLog
from notifications.dispatcher import dispatch_pending
from notifications.mail_sink import running_mail_sink
from portal.security import MAX_FORM_BYTES
from states.uploads import MAX_UPLOAD_BYTES
from states import action_links, intake
from states.approvals import record_decision
from states import queries
from states.queries import Reader
from states.lifecycles import get_lifecycle
from states.publication import published_items
from states.spec import Recipient
from states.workflow import apply_transition
from tests.world import SECRETARIAT

from tests.portal.portal_world import PortalWorld, awaiting_approval, csrf_of

STRANGER = "mallory@evil.example"
SNAP = "policy@snap.example"
VICTIM = "victim@inbox.example"
STATE = "invitation_sent"  # where an invitation to present waits on the partner
CHAIRS = ("swg22.unodc@cochairs.example", "swg22.france@cochairs.example")


def _post(world: PortalWorld, form: str, client: TestClient | None = None, files: Any = None,
          **fields: str) -> Any:  # noqa: ANN401 - an httpx response
    client = client or world.client
    token = csrf_of(client.get(f"/submit/{form}").text)
    return client.post(f"/submit/{form}", data={"csrf": token, **fields}, files=files)


def _confirm(world: PortalWorld, email_address: str) -> Any:  # noqa: ANN401 - an httpx response
    path = world.link_of(email_address, "submission_confirmation")
    return world.client.post(path, data={"csrf": csrf_of(world.client.get(path).text), "action": "confirm"})


def _deliver(world: PortalWorld, tmp_path: Path) -> list[email.message.EmailMessage]:
    maildir = tmp_path / "Maildir"
    with running_mail_sink(maildir) as port:
        world.settings.smtp_port = port
        dispatch_pending(world.db, clock=world.clock, settings=world.settings)
    return [email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
            for message in mailbox.Maildir(maildir, create=False)]


def _count(world: PortalWorld, *where: Any) -> int:  # noqa: ANN401 - SQL conditions
    with world.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage).where(*where))


def _sign_in_staff(world: PortalWorld) -> None:
    address = world.settings.secretariat_email
    world.client.post("/signin", data={"csrf": csrf_of(world.client.get("/signin").text), "email": address})
    path = world.link_of(address, "sign_in")
    done = world.client.post(path, data={"csrf": csrf_of(world.client.get(path).text)}, follow_redirects=False)
    assert done.status_code == 303


def test_a_public_form_never_makes_a_stranger_act_for_a_partner(world: PortalWorld, tmp_path: Path) -> None:
    world.clock.set(datetime(2024, 4, 10, 9, tzinfo=timezone.utc))
    sent = _post(world, "achievement", organization="snap inc.", email=STRANGER, title="Snap: teen safety hub",
                 summary="Claimed by a stranger")
    assert sent.status_code == 200
    assert _confirm(world, STRANGER).status_code == 200
    with world.db.transaction() as session:
        assert session.scalar(select(Contact).where(Contact.email == STRANGER)) is None  # no identity granted
        claimed = session.scalars(select(Engagement)).one()
        assert session.scalars(select(Participant).where(Participant.engagement_id == claimed.id)).all() == []
        submit = session.scalars(select(TransitionLog).where(TransitionLog.trigger == "submit")).one()
    assert claimed.state == "submitted" and (submit.actor, submit.actor_role) == ("website intake", "system")
    seen = {claim.engagement_id: claim for claim in intake.claims(world.db)}[claimed.id]
    assert seen.label == f"{STRANGER} claims to be from Snap Inc. (not verified)"
    _sign_in_staff(world)
    assert f"{STRANGER} claims to be from Snap Inc. (not verified)" in world.client.get("/desk").text
    assert f"{STRANGER} claims to be from Snap Inc. (not verified)" in world.client.get(f"/desk/engagements/{claimed.id}").text
    world.client.cookies.clear()
    with Reader(world.db.url) as reader:  # what `engage show` prints
        assert f"{STRANGER} claims to be from Snap Inc. (not verified" in queries.claim(reader, claimed.id)
    # reviewed and published before anyone accepted the claim: the website names no partner
    for trigger in ("start_review", "accept", "publish"):
        apply_transition(world.db, claimed.id, trigger, SECRETARIAT, clock=world.clock, settings=world.settings)
    item = next(item for item in published_items(world.db) if item.title == "Snap: teen safety hub")
    assert "Snap Inc." not in repr(item)

    # Snap's invitation: it reaches Snap's designated contact only
    engagement = awaiting_approval(world, participants=[{"organization": "Snap Inc.", "role": "presenter"}])
    for chair in CHAIRS:
        record_decision(world.db, engagement, chair, "approve", clock=world.clock, settings=world.settings)
    # the approval itself sent the invitation (the deciding transaction's follow-up)
    with world.db.transaction() as session:
        invited = session.scalars(select(OutboxMessage.recipient_address).where(
            OutboxMessage.engagement_id == engagement, OutboxMessage.notification_type == "invitation")).all()
        stranger_links = session.scalar(select(func.count()).select_from(ActionLink).where(ActionLink.email == STRANGER,
                                                                                            ActionLink.engagement_id.is_not(None)))
    assert invited == [SNAP] and stranger_links == 0
    assert STRANGER not in {str(m["To"]) for m in _deliver(world, tmp_path) if "Snap" in str(m["Subject"])}

    # a database that the old intake already gave the stranger as a second Snap contact, and a link mailed then
    with world.db.transaction() as session:
        snap = session.scalar(select(Contact).where(Contact.email == SNAP))
        session.add(Contact(organization_id=snap.organization_id, name="Mallory", email=STRANGER, language="en", opt_outs=[]))
    key, lifecycle = world.settings.signing_key(), get_lifecycle("swg_presentation")
    old = action_links.link_row(key, lifecycle, notification=NotificationType.INVITATION, recipient=Recipient.PARTNERS,
                                state=STATE, engagement_id=engagement, dedupe_key="legacy:stranger", email=STRANGER,
                                language="en", now=world.clock.now(), lifetime=timedelta(days=30))
    with world.db.engine.begin() as connection:
        connection.execute(insert(ActionLink), [old])
    path = "/a/" + action_links.link_token(key, "legacy:stranger")
    assert world.client.get(path).status_code == 403
    refused = world.client.post(path, data={"csrf": csrf_of(world.client.get("/submit/achievement").text), "action": "decline_invitation"})
    assert refused.status_code == 403 and "not the designated contact" in refused.text
    with world.db.transaction() as session:
        assert session.get(Engagement, engagement).state == STATE
    # once staff verified the claim on the desk, the sender becomes Snap's contact and the submission's partner
    _sign_in_staff(world)
    page = world.client.get(f"/desk/engagements/{claimed.id}").text
    accepted = world.client.post(f"/desk/engagements/{claimed.id}/accept-claim", data={"csrf": csrf_of(page)},
                                 follow_redirects=False)
    assert accepted.status_code == 303
    assert intake.claims(world.db) == []
    with world.db.transaction() as session:
        audit = session.scalars(select(TransitionLog).where(TransitionLog.trigger == "accept_claim")).one()
    assert (audit.actor, audit.channel) == (world.settings.secretariat_email, "website")
    with world.db.transaction() as session:
        partner = session.scalars(select(Participant).where(Participant.engagement_id == claimed.id)).one()
        assert session.get(Contact, partner.contact_id).email == STRANGER
    assert any("Snap Inc." in repr(item) for item in published_items(world.db) if item.title == "Snap: teen safety hub")


def test_a_new_organization_is_created_with_its_sender(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 4, 10, 9, tzinfo=timezone.utc))
    assert _post(world, "achievement", organization="Nouvelle Chimie", email="ceo@nouvelle.example",
                 title="Precursor checks", summary="New").status_code == 200
    assert _confirm(world, "ceo@nouvelle.example").status_code == 200
    with world.db.transaction() as session:
        participant = session.scalars(select(Participant)).one()
        assert session.get(Contact, participant.contact_id).email == "ceo@nouvelle.example"
        assert session.scalars(select(PendingSubmission)).one().claim is None


def test_fifty_posts_from_fifty_addresses_mail_one_victim_at_most_three_times(world: PortalWorld, tmp_path: Path) -> None:
    world.clock.set(datetime(2024, 4, 10, 9, tzinfo=timezone.utc))
    app = world.client.app

    def attack(number: int) -> tuple[int, str]:
        with TestClient(app, base_url=str(world.client.base_url), client=(f"198.51.100.{number}", 40000)) as client:
            answer = _post(world, "achievement", client, organization="Victim Corp", email=VICTIM,
                           title=f"Spam {number}", summary="spam")
            return answer.status_code, answer.text.split("<main", 1)[-1]

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(attack, range(50)))
    assert {status for status, _ in answers} == {200} and len({page for _, page in answers}) == 1  # reveals nothing
    assert _count(world, OutboxMessage.recipient_address == VICTIM) == intake.CONFIRMATIONS_PER_DAY
    world.clock.advance(timedelta(hours=25))  # a day later the address may be mailed again
    assert _post(world, "achievement", organization="Victim Corp", email=VICTIM, title="Later", summary="s").status_code == 200
    assert _count(world, OutboxMessage.recipient_address == VICTIM) == intake.CONFIRMATIONS_PER_DAY + 1
    mails = _deliver(world, tmp_path)
    assert mails and all(m["List-Unsubscribe"] and m["List-Unsubscribe-Post"] for m in mails)
    # the victim's one click stops them, whatever the cap
    url = "".join(str(mails[0]["List-Unsubscribe"]).split()).strip("<>").removeprefix(world.settings.public_base_url)
    world.client.cookies.clear()
    assert world.client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    world.clock.advance(timedelta(days=2))
    assert _post(world, "achievement", organization="Victim Corp", email=VICTIM, title="Again", summary="s").status_code == 200
    assert _count(world, OutboxMessage.recipient_address == VICTIM) == intake.CONFIRMATIONS_PER_DAY + 1


def test_encoded_words_reach_the_subject_as_plain_text_and_bidi_controls_are_refused(
    world: PortalWorld, tmp_path: Path,
) -> None:
    world.clock.set(datetime(2024, 4, 10, 9, tzinfo=timezone.utc))
    smuggled = "Report =?utf-8?b?4oCuZXZpbA0KQmNjOiB4QHkuZXhhbXBsZQ==?= =?utf-8?q?=E2=80=AE?="
    assert _post(world, "achievement", organization="=?utf-8?q?Snap_Inc.?=", email="sender@mail.example",
                 title=smuggled, summary="s").status_code == 200
    [mail] = _deliver(world, tmp_path)
    subject = str(mail["Subject"])
    assert smuggled in subject  # shown literally: the visitor's encoded words are not decoded
    assert "\u202e" not in subject and "\r" not in subject and "\n" not in subject and mail["Bcc"] is None
    assert "=?utf-8?q?Snap_Inc.?=" in str(mail["To"])
    for field, value in (("title", "Safe \u202egnp.exe"), ("title", "Left \u2066isolate\u2069"),
                         ("organization", "Snap\u202a Inc.")):
        fields = {"organization": "Acme", "title": "A fine title", field: value}
        refused = _post(world, "achievement", email="sender@mail.example", summary="s", **fields)
        assert refused.status_code == 422 and f'aria-describedby="{field}-error"' in refused.text
        assert "Please remove the invisible control characters from this text." in refused.text
    assert _count(world) == 1


def _pptx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("ppt/presentation.xml", "<presentation/>")
    return buffer.getvalue()


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


MATERIAL = {"organization": "Atlantique Maritime", "email": "cdubois@atlantique-maritime.example",
            "title": "How we screen containers", "summary": "Screening"}


def test_an_unconfirmed_upload_is_never_downloadable(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 5, 2, 9, tzinfo=timezone.utc))
    deck = _pptx()
    sent = _post(world, "material", files={"file": ("deck.pptx", deck, "application/octet-stream")},
                 media="presentation", **MATERIAL)
    assert sent.status_code == 200
    with world.db.transaction() as session:
        name = session.scalars(select(PendingSubmission)).one().upload_name
    path = f"/files/{name}"
    assert world.client.get(path).status_code == 404  # quarantined: nobody gets it
    assert _confirm(world, MATERIAL["email"]).status_code == 200
    assert world.client.get(path).status_code == 404  # confirmed: staff only
    _sign_in_staff(world)
    staff = world.client.get(path)
    assert staff.status_code == 200 and staff.content == deck and "attachment" in staff.headers["content-disposition"]
    world.client.cookies.clear()
    with world.db.transaction() as session:
        engagement = session.scalars(select(Engagement)).one().id
    for trigger in ("start_screening", "approve", "publish"):
        apply_transition(world.db, engagement, trigger, SECRETARIAT, clock=world.clock, settings=world.settings)
    assert world.client.get(path).status_code == 200  # published: the public


def test_exactly_ten_mebibytes_is_accepted(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 5, 2, 9, tzinfo=timezone.utc))
    content = b"%PDF-1.7\n" + b"0" * (MAX_UPLOAD_BYTES - 9)
    assert len(content) == 10 * 1024 * 1024
    sent = _post(world, "material", files={"file": ("deck.pdf", content, "application/pdf")},
                 media="presentation", **MATERIAL)
    assert sent.status_code == 200, sent.text[:500]
    with world.db.transaction() as session:
        assert session.scalars(select(PendingSubmission)).one().upload_name.endswith(".pdf")


def _raw_post(world: PortalWorld, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, int]:
    """POST ``chunks`` straight to the ASGI app; (status, how many body chunks the app asked for)."""
    asked = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if asked <= len(chunks):
            return {"type": "http.request", "body": chunks[asked - 1], "more_body": asked < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("203.0.113.9", 5000), "server": ("127.0.0.1", 8000), "state": {}}
    asyncio.run(world.client.app(scope, receive, send))
    return status, asked


def test_over_ten_mebibytes_is_refused_with_413_without_reading_the_body(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 5, 2, 9, tzinfo=timezone.utc))
    over = b"%PDF-1.7\n" + b"0" * (MAX_UPLOAD_BYTES - 8)
    assert len(over) == 10 * 1024 * 1024 + 1
    sent = _post(world, "material", files={"file": ("deck.pdf", over, "application/pdf")}, media="presentation", **MATERIAL)
    assert sent.status_code == 413
    # a body declared over the limit: answered before a byte of it is read
    declared = {"content-type": "multipart/form-data; boundary=x",
                "content-length": str(MAX_UPLOAD_BYTES + MAX_FORM_BYTES + 1)}
    assert _raw_post(world, "/submit/material", declared, [b"x" * 65536] * 200) == (413, 0)
    # a body streamed without a length: read only up to the limit, never whole
    chunk = b"0" * (1024 * 1024)
    head = b'--x\r\nContent-Disposition: form-data; name="file"; filename="deck.pdf"\r\n\r\n%PDF-1.7\n'
    status, asked = _raw_post(world, "/submit/material", {"content-type": "multipart/form-data; boundary=x"},
                              [head] + [chunk] * 40)
    assert status == 413 and asked == 12  # the heading and 11 MiB of 41: it stops at the first chunk over the limit
    # a rate-limited client is answered before its body is read
    for _ in range(10):
        world.client.app.state.portal.submission_limit.allow("203.0.113.9")
    blocked = {"content-type": "multipart/form-data; boundary=x", "content-length": str(9 * 1024 * 1024)}
    assert _raw_post(world, "/submit/material", blocked, [chunk] * 9) == (429, 0)
    with world.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PendingSubmission)) == 0


def test_a_docx_is_refused_as_a_presentation(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 5, 2, 9, tzinfo=timezone.utc))
    document = _docx()
    refused = _post(world, "material", files={"file": ("deck.pptx", document, "application/octet-stream")},
                    media="presentation", **MATERIAL)
    assert refused.status_code == 422 and "This kind of material must be PDF / PPTX, and this file is a DOCX." in refused.text
    accepted = _post(world, "material", files={"file": ("notes.docx", document, "application/octet-stream")},
                     media="document", **MATERIAL)
    assert accepted.status_code == 200
    with world.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PendingSubmission)) == 1
