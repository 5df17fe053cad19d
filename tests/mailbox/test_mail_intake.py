"""The mailbox intake against a real Dovecot: real messages appended with IMAP APPEND, read twice.

Each test runs on SQLite and PostgreSQL (the domain filing) and asserts the database, the outbox and
the IMAP folders.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from email import message_from_bytes, policy
from email.message import EmailMessage
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import cli.app
from cli.app import app
from models import (
    ApprovalVote, Engagement, InboundMessage, OutboxMessage, PendingSubmission, TransitionLog, UndeliverableAddress,
)
from models.db import Database
from notifications.mail_extras import mail_extras
from notifications.mailbox import connect, read_mailbox
from states.reply_address import message_id_for
from settings import get_settings
from states import intake
from states.approvals import record_decision
from states.mail_intake import file_message
from states.reply_address import reply_address
from states.workflow import apply_transition
from tests.mailbox.mailbox_world import MAILBOX_ADDRESS, PDF, MailboxWorld, dsn, mail, settings_for
from notifications.local_imap import ImapServer
from tests.world import SECRETARIAT, clock_at, new_engagement, seeded

pytestmark = pytest.mark.imap

META = "policy@meta.example"
CHAIRS = ("swg22.france@cochairs.example", "swg22.unodc@cochairs.example")


@pytest.fixture
def world(db: Database, imap_server: ImapServer, tmp_path: Path) -> Iterator[MailboxWorld]:
    seeded(db)
    yield MailboxWorld(db, settings_for(db, imap_server, tmp_path / "data"), clock_at(2024, 2, 1), imap_server)


def invitation(world: MailboxWorld, swg: str = "2.2") -> tuple[int, OutboxMessage]:
    """Meta invited to present at SWG ``swg`` (its co-chairs approved, which sent the invitation), and the invitation mail to Meta."""
    chairs = CHAIRS if swg == "2.2" else ("swg11.canada@cochairs.example", "swg11.incb@cochairs.example")
    engagement = new_engagement(world.db, "swg_presentation", world.clock, title=f"Meta at SWG {swg}", swg_code=swg)
    apply_transition(world.db, engagement, "request_approval", SECRETARIAT, clock=world.clock, settings=world.settings)
    for chair in chairs:
        record_decision(world.db, engagement, chair, "approve", clock=world.clock, settings=world.settings)
    with world.db.transaction() as session:
        row = session.scalars(select(OutboxMessage).where(
            OutboxMessage.engagement_id == engagement, OutboxMessage.recipient_address == META,
            OutboxMessage.notification_type == "invitation")).one()
        session.expunge(row)
    return engagement, row


def state_of(world: MailboxWorld, engagement: int) -> str:
    with world.db.transaction() as session:
        return session.get(Engagement, engagement).state


def outcomes(world: MailboxWorld) -> dict[str, list[str]]:
    with world.db.transaction() as session:
        rows = session.scalars(select(InboundMessage).order_by(InboundMessage.received_at)).all()
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.outcome, []).append(row.reason)
        return found


def zip_bomb() -> bytes:
    """A DOCX whose document would inflate to 200 MiB (about 200 KiB compressed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(200):
                member.write(block)
    return buffer.getvalue()


def test_answers_submissions_bounces_and_auto_replies_are_filed_once(world: MailboxWorld) -> None:
    engagement, invited = invitation(world)
    reply_to = mail_extras(invited, world.settings, world.clock.now())["headers"]["Reply-To"]
    assert reply_to == reply_address(world.settings, invited.dedupe_key) and "+" in reply_to
    thread = {"In-Reply-To": message_id_for(world.settings.signing_key(), invited.dedupe_key), "References": message_id_for(world.settings.signing_key(), invited.dedupe_key)}

    # a forged From on Meta's thread, an out-of-office from Meta, then Meta's own answer
    world.append(mail("mallory@evil.example", "Re: Invitation", "Accept\n", to=reply_to, headers=thread))
    world.append(mail(META, "Out of office: Re: Invitation", "I am away.\n", to=reply_to,
                      headers=thread | {"Auto-Submitted": "auto-replied"}))
    world.append(mail(META, "Re: Invitation", "We accept!\n\nSee you at the SWG.\n> Dear Meta,", to=reply_to,
                      headers=thread))
    # an achievement with a PDF from a sender nobody knows
    world.append(mail("comms@xcorp.example", "Achievement: X Corp. removed 5,000 listings",
                      "Organization: X Corp.\n\nOur detection removed 5,000 listings of synthetic drugs.\n",
                      attachment=(PDF, "application/pdf", "report.pdf")))
    # a new mail without a kind, our own mail come back, a bounce for Meta's address
    world.append(mail("friend@ngo.example", "Hello", "Can we meet?\n"))
    world.append(mail("Coalition Engage <engage@coalition.example>", "Loop", "ours\n"))
    world.append(dsn("mailer-daemon@mx.meta.example", META, message_id_for(world.settings.signing_key(), invited.dedupe_key)))
    # hostile: a DSN about a mail we never sent, an encoded-word From, malformed MIME, a zip bomb, a forwarded
    # forged answer (message/rfc822), 25 MiB
    world.append(dsn("mailer-daemon@evil.example", "swg22.france@cochairs.example", "<forged@engage.coalition>"))
    encoded = mail("mallory@evil.example", "Re: Invitation", "Accept\n", to=reply_to, headers=thread)
    world.append(encoded.replace(b"From: mallory@evil.example", b"From: =?utf-8?q?policy=40meta.example?=", 1))
    world.append(b"From: a@b.example\r\nSubject: Achievement: broken\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\n")
    world.append(mail("bomb@evil.example", "Material: handbook", "Organization: Evil Corp\n\nread it\n",
                      attachment=(zip_bomb(), "application/octet-stream", "handbook.docx")))
    forwarded = EmailMessage()
    forwarded["From"], forwarded["To"], forwarded["Subject"] = "mallory@evil.example", MAILBOX_ADDRESS, "Achievement: fwd"
    forwarded.set_content("Organization: Evil Corp\n\nsee attached\n")
    forwarded.add_attachment(message_from_bytes(mail(META, "Re: Invitation", "Accept\n", to=reply_to, headers=thread),
                                                policy=policy.default))
    world.append(forwarded.as_bytes())
    big = mail("big@evil.example", "Achievement: huge", "Organization: Big\n\nhuge\n",
               attachment=(b"%PDF-" + b"0" * (25 * 1024 * 1024), "application/pdf", "huge.pdf"))
    world.append(big)

    first = read_mailbox(world.db, world.settings, clock=world.clock)
    assert len(first.filed) == 13 and not any(item.replayed for item in first.filed)
    found = outcomes(world)
    assert len(found["filed"]) == 2 and len(found["ignored"]) == 2 and len(found["bounce"]) == 1
    assert len(found["staff"]) == 1 and "no kind keyword" in found["staff"][0]
    refused = " | ".join(found["refused"])
    assert len(found["refused"]) == 7, refused
    for reason in ("not sent to mallory@evil.example", "for no mail of ours", "exactly one plain sender",
                   "malformed message", "would inflate", "MiB", "a message attached to a message"):
        assert reason in refused, reason
    assert world.folders() == {"INBOX": 0, "Processed": 6, "Refused": 7}

    # the answer: through the link's seam, as Meta, by mailbox
    assert state_of(world, engagement) != "invited"
    with world.db.transaction() as session:
        log = session.scalars(select(TransitionLog).where(TransitionLog.trigger == "accept")).one()
        assert (log.engagement_id, log.actor, log.actor_role, log.channel) == (engagement, META, "partner", "mailbox")
        # the achievement: pending, its file quarantined, the same confirmation mail as the web form
        pending = session.scalars(select(PendingSubmission)).one()
        assert (pending.kind, pending.email, pending.organization, pending.confirmed_at) == (
            "achievement", "comms@xcorp.example", "X Corp.", None)
        assert pending.payload["details"]["received_via"] == "mailbox" and pending.upload_name.endswith(".pdf")
        confirmation = session.scalars(select(OutboxMessage).where(
            OutboxMessage.notification_type == "submission_confirmation")).one()
        assert confirmation.recipient_address == "comms@xcorp.example"
        assert session.scalars(select(UndeliverableAddress.email)).all() == [META]
        assert session.scalar(select(Engagement.id).where(Engagement.title.like("X Corp.%"))) is None
    assert (world.settings.upload_dir / "quarantine" / pending.upload_name).is_file()
    assert not list((world.settings.upload_dir / "quarantine").glob("*.docx"))

    # the second run finds nothing, and filing a message again changes nothing
    before = world.counts()
    assert read_mailbox(world.db, world.settings, clock=world.clock).filed == []
    again = file_message(world.db, big, settings=world.settings, clock=world.clock)
    assert again.replayed and world.counts() == before

    # nothing entered a lifecycle unconfirmed; confirming releases the file and submits it
    confirmed = intake.confirm(world.db, pending.id, settings=world.settings, clock=world.clock)
    assert confirmed.state == "submitted"
    # the bounced address gets no more mail
    _, second = invitation(world, swg="1.1")
    assert second.status == "suppressed" and "undeliverable" in second.status_reason


def test_a_crash_between_commit_and_move_reprocesses_harmlessly(world: MailboxWorld) -> None:
    raw = mail("comms@xcorp.example", "Recommendation: Share alerts",
               "Organization: X Corp.\nTopic: information_sharing\n\nShare precursor alerts weekly.\n")
    world.append(raw)
    # the intake filed and committed it, then died before moving it
    filed = file_message(world.db, raw, settings=world.settings, clock=world.clock)
    assert filed.outcome == "filed", filed.reason
    before = world.counts()
    rerun = read_mailbox(world.db, world.settings, clock=world.clock)
    assert [item.replayed for item in rerun.filed] == [True]
    assert world.counts() == before
    assert world.folders() == {"INBOX": 0, "Processed": 1, "Refused": 0}


def test_a_crash_between_copy_and_delete_leaves_one_copy_in_the_archive(world: MailboxWorld) -> None:
    raw = mail("comms@xcorp.example", "Recommendation: Share alerts",
               "Organization: X Corp.\nTopic: information_sharing\n\nShare precursor alerts weekly.\n")
    world.append(raw)
    # the intake filed it and copied it to Processed (a server without MOVE), then died before the delete
    assert file_message(world.db, raw, settings=world.settings, clock=world.clock).outcome == "filed"
    world.append(raw, folder="Processed")
    rerun = read_mailbox(world.db, world.settings, clock=world.clock)
    assert [item.replayed for item in rerun.filed] == [True]
    assert world.folders() == {"INBOX": 0, "Processed": 1, "Refused": 0}


def test_the_intake_moves_with_imap_move_where_the_server_offers_it(world: MailboxWorld) -> None:
    with connect(world.settings) as box:
        assert "MOVE" in box.client.capabilities  # announced by Dovecot only after login


def test_a_reply_without_keyword_or_proof_goes_to_staff(world: MailboxWorld) -> None:
    engagement, invited = invitation(world)
    thread = {"In-Reply-To": message_id_for(world.settings.signing_key(), invited.dedupe_key)}
    reply_to = reply_address(world.settings, invited.dedupe_key)
    world.append(mail(META, "Re: Invitation", "Thanks, we will think about it.\n", to=reply_to, headers=thread))
    # a thread id is guessable: without the +token or the quoted link, a reply is not proof of anything
    world.append(mail(META, "Re: Invitation", "Accept\n", headers=thread))
    before, state = world.counts(), state_of(world, engagement)
    run = read_mailbox(world.db, world.settings, clock=world.clock)
    assert [item.outcome for item in run.filed] == ["staff", "staff"]
    assert "no accept/decline keyword" in run.filed[0].reason and "not proven" in run.filed[1].reason
    assert state_of(world, engagement) == state != "accepted"
    assert world.counts()[:3] == before[:3]
    assert world.folders() == {"INBOX": 0, "Processed": 2, "Refused": 0}


def test_a_delivery_report_naming_a_guessed_message_id_marks_nothing(world: MailboxWorld) -> None:
    _, invited = invitation(world)
    unkeyed = f"<{hashlib.sha256(invited.dedupe_key.encode()).hexdigest()[:32]}@engage.coalition>"  # no secret
    world.append(dsn("mailer-daemon@evil.example", META, unkeyed))
    [filed] = read_mailbox(world.db, world.settings, clock=world.clock).filed
    assert filed.outcome == "refused" and "for no mail of ours" in filed.reason
    with world.db.transaction() as session:
        assert session.scalars(select(UndeliverableAddress.email)).all() == []


def test_cli_reads_the_mailbox_and_org_show_names_the_bounced_address(
        world: MailboxWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    _, invited = invitation(world)
    world.append(dsn("mailer-daemon@mx.meta.example", META, message_id_for(world.settings.signing_key(), invited.dedupe_key)))
    for name, value in {"DATABASE_URL": world.db.url, "DATA_DIR": str(world.settings.data_dir),
                        "SECRET_KEY": world.settings.secret_key, "IMAP_HOST": world.server.host,
                        "IMAP_PORT": str(world.server.port), "IMAP_SSL": "false",
                        "IMAP_USERNAME": world.server.username, "IMAP_PASSWORD": world.server.password}.items():
        monkeypatch.setenv(f"ENGAGE_{name}", value)
    get_settings.cache_clear()
    monkeypatch.setattr(cli.app.console, "width", 10_000)
    monkeypatch.setattr(cli.app.errors, "width", 10_000)
    runner = CliRunner()
    read = runner.invoke(app, ["mail-intake"], terminal_width=200)
    assert read.exit_code == 0, read.output
    assert f"bounce: undeliverable: {META}" in read.output and "1 messages: 1 bounce" in read.output
    shown = runner.invoke(app, ["org", "show", "Meta"], terminal_width=200)
    assert shown.exit_code == 0 and "delivery failed (5.1.1)" in shown.output
    monkeypatch.setenv("ENGAGE_IMAP_PASSWORD", "wrong")
    get_settings.cache_clear()
    refused = runner.invoke(app, ["mail-intake"], terminal_width=200)
    assert refused.exit_code == 1 and "the mailbox could not be read" in refused.output
    assert "wrong" not in refused.output
    get_settings.cache_clear()


def test_a_co_chair_approves_by_reply_once(world: MailboxWorld) -> None:
    engagement = new_engagement(world.db, "swg_presentation", world.clock, title="Meta at SWG 2.2", swg_code="2.2")
    apply_transition(world.db, engagement, "request_approval", SECRETARIAT, clock=world.clock, settings=world.settings)
    with world.db.transaction() as session:
        asked = session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_address == CHAIRS[0], OutboxMessage.notification_type == "approval_request")).one()
        session.expunge(asked)
    reply_to = reply_address(world.settings, asked.dedupe_key)
    thread = {"In-Reply-To": message_id_for(world.settings.signing_key(), asked.dedupe_key)}
    world.append(mail(CHAIRS[0], "RE: Approval", "J’approuve.\n\nCordialement", to=reply_to, headers=thread))
    world.append(mail(CHAIRS[0], "RE: Approval", "Decline, on second thought\n", to=reply_to, headers=thread))
    run = read_mailbox(world.db, world.settings, clock=world.clock)
    assert [item.outcome for item in run.filed] == ["filed", "refused"], run.filed
    # refused by the link (already used) or, on PostgreSQL where both are filed at once, by the vote on record
    assert "already used" in run.filed[1].reason or "already decided" in run.filed[1].reason
    with world.db.transaction() as session:
        votes = session.execute(select(ApprovalVote.decision, ApprovalVote.channel)).all()
    assert votes == [("approve", "mailbox")]
    assert world.folders() == {"INBOX": 0, "Processed": 1, "Refused": 1}
