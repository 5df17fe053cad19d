"""The mail walk: every notification type, caused as in the demo and delivered over real SMTP, read as its
recipient would in English, Spanish and French.

Each mail that asks something carries the means to answer: a link that opens (GET 200 on the portal, or a
published page of the site) or a Reply-To the Secretariat's mailbox. No mail speaks of an attachment it does
not carry; every calendar entry parses and holds what RFC 5546 requires of its METHOD; a cancellation names
the entry it cancels.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import mailbox
import re
from collections.abc import Iterator
from datetime import date, timedelta
from email.message import Message
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select, update

from models import OutboxMessage
from models.db import Database
from models.enums import NotificationType, OutboxStatus
from notifications.dispatcher import dispatch_pending
from notifications.mail_sink import running_mail_sink
from states.reply_address import message_id_for
from portal.app import create_app
from settings import Settings
from states.intake import receive
from states.publication import publish_site
from states.sign_in import request_sign_in
from states.window_notices import queue_window_notices
from states.workflow import apply_transition
from tests.portal.portal_world import BASE_URL, PortalWorld, csrf_of
from tests.test_catalogs import _english_sentences, _visible
from tests.world import OUTCOME, REPORT, SECRETARIAT, SYSTEM, clock_at, new_engagement, seeded

MEXICO = {"role": "national_authority", "identity": "enlace@conadic-mx.example"}
SECRETARIAT_EMAIL = "syntheticscoalition@state.example"
LINK = re.compile(r"https?://[^\s<>\"]+")
#: What each method must hold (RFC 5546, 3.2.2 and 3.2.5), besides METHOD on the calendar.
REQUIRED = {
    "REQUEST": ("ATTENDEE", "DTSTAMP", "DTSTART", "ORGANIZER", "SEQUENCE", "SUMMARY", "UID"),
    "CANCEL": ("ATTENDEE", "DTSTAMP", "ORGANIZER", "SEQUENCE", "UID"),
}


#: Mails that always ask for a step with a link: decide, answer, report, confirm, sign in, use a form, see a page.
ASKING = {"approval_request", "reminder", "submission_confirmation", "sign_in", "window_closing", "publication_notice"}
#: What a meeting's invitation says instead of a link.
REPLY = {"en": "reply to this message", "es": "responda a este mensaje", "fr": "répondre à ce message"}


@pytest.fixture
def world(db: Database, tmp_path: Path) -> Iterator[PortalWorld]:
    seeded(db)
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="test-key-" + "x" * 40,
                        public_base_url=BASE_URL, site_url="https://coalition.example/")
    with TestClient(create_app(settings, db, clock_at(2024, 2, 1)), base_url=BASE_URL) as client:
        yield PortalWorld(db, settings, client.app.state.portal.clock, client)


def _asks(kind: str, context: dict) -> bool:
    """Whether a mail asks its reader for a step the portal or the site takes (so it must link to it)."""
    return kind in ASKING or (kind == "invitation" and context.get("engagement_kind") == "swg_presentation") or (
        kind == "decision" and context.get("trigger") in ("request_changes", "return_for_revision"))


class Walk:
    """The world's mail, delivered in one language over real SMTP after each step and read at once (a link is
    followed while it is current, as its reader would)."""

    def __init__(self, world: PortalWorld, tmp_path: Path, language: str) -> None:
        self.world, self.language = world, language
        self.maildir, self.site = tmp_path / "mail", tmp_path / "site"
        self.seen: set[str] = set()
        self.mails: list[Message] = []
        self.rows: dict[str, tuple[str, dict]] = {}  # by Message-ID: the type and context of the mail's outbox row

    def fire(self, engagement: int, trigger: str, actor: dict[str, str] = SECRETARIAT, **kwargs: object) -> None:
        apply_transition(self.world.db, engagement, trigger, actor, clock=self.world.clock,
                         settings=self.world.settings, **kwargs)
        self.deliver()

    def answer(self, email_address: str, notification_type: str, action: str) -> None:
        """Open the newest link mailed to ``email_address`` and press ``action`` there."""
        path = self.world.link_of(email_address, notification_type)
        page = self.world.client.get(path)
        assert page.status_code == 200, page.text
        assert self.world.client.post(path, data={"csrf": csrf_of(page.text), "action": action}).status_code == 200
        self.deliver()

    def deliver(self) -> None:
        """Send what is pending, in the walk's language, and read each new mail."""
        table = OutboxMessage.__table__
        with self.world.db.engine.begin() as connection:
            pending = connection.execute(select(table.c.dedupe_key, table.c.notification_type, table.c.context).where(
                table.c.status == OutboxStatus.PENDING, table.c.channel == "email"))
            self.rows |= {message_id_for(self.world.settings.signing_key(), row.dedupe_key): (row.notification_type, row.context) for row in pending}
            connection.execute(update(table).where(table.c.status == OutboxStatus.PENDING, table.c.channel == "email")
                               .values(language=self.language))
        with running_mail_sink(self.maildir) as port:
            self.world.settings.smtp_port = port
            report = dispatch_pending(self.world.db, clock=self.world.clock, settings=self.world.settings)
        assert report.dead == 0 and report.failures == [], report.failures
        for key, message in mailbox.Maildir(self.maildir, create=False).items():
            if key not in self.seen:
                self.seen.add(key)
                parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
                self.read(parsed)
                self.mails.append(parsed)

    def read(self, message: Message) -> None:
        """What its reader finds: links that open, a reply path, the opt-out, no English, no missing attachment."""
        text = _text(message)
        address = email.utils.parseaddr(message["To"])[1].lower()
        links = [url for url in LINK.findall(text) if "/unsubscribe/" not in url]
        for url in links:
            assert self.opens(url), (message["Subject"], url)
        kind, context = self.rows[message["Message-ID"]]
        if _asks(kind, context):
            assert links, message["Subject"]  # the answer asked for is one click away
        if kind == "invitation" and not links:  # a meeting's invitees answer by mail
            assert REPLY[self.language] in text, text
        if address != SECRETARIAT_EMAIL:
            assert message["Reply-To"] == SECRETARIAT_EMAIL, message["Subject"]  # every question has its reply path
        else:
            assert message["Reply-To"] is None
        if message["List-Unsubscribe"]:  # an optional notice shows its opt-out in its body too
            assert "".join(message["List-Unsubscribe"].split()).strip("<>") in text.replace("\n", "")
        if self.language != "en":
            visible = _visible(text) + _visible(str(message["Subject"]))
            assert [s for s in _english_sentences() if s in visible] == [], message["Subject"]
        attached = {"en": "attached", "es": "adjunta", "fr": "jointe"}[self.language]
        assert (attached in text) == (_calendar(message) is not None), (message["Subject"], text)

    def opens(self, url: str) -> bool:
        """Whether ``url`` opens: a portal page (GET 200), or a page of the published site."""
        if url.startswith(BASE_URL + "/"):
            return self.world.client.get(url.removeprefix(BASE_URL)).status_code == 200
        publish_site(self.world.db, self.site, today=self.world.clock.now().date())
        page = url.removeprefix(self.world.settings.site_url)
        return page != url and (self.site / page).is_file()


def _presentation(walk: Walk, title: str, partner: str, **overrides: object) -> int:
    """An invitation to present at SWG 2.2 (policy: all), approved by both co-chairs (which sends the invitation)."""
    world = walk.world
    engagement = new_engagement(world.db, "swg_presentation", world.clock, title=title,
                                participants=[{"organization": partner, "role": "presenter"}], **overrides)
    walk.fire(engagement, "request_approval", SYSTEM)
    for chair in ("swg22.unodc@cochairs.example", "swg22.france@cochairs.example"):
        walk.answer(chair, "approval_request", "approve")
    return engagement


def _demo_like(walk: Walk) -> None:
    """Every notification type and every step that mails, as the demo's year causes them."""
    world, fire = walk.world, walk.fire
    # Presentations: one approved, reminded, accepted then withdrawn (its calendar cancelled); one without a
    # meeting (as Discord's); one declined by its partner; one declined by the co-chairs, after a reminder and
    # an escalation.
    meta = _presentation(walk, "Meta presents at SWG 2.2", "Meta", meeting_id=2)
    fire(meta, "remind", SYSTEM)
    walk.answer("policy@meta.example", "reminder", "accept")
    fire(meta, "withdraw", comment="The session was shortened")
    _presentation(walk, "Discord presents at SWG 2.2", "Discord")
    _presentation(walk, "Snap presents at SWG 2.2", "Snap Inc.", meeting_id=2)
    walk.answer("policy@snap.example", "invitation", "decline_invitation")
    declined = new_engagement(world.db, "swg_presentation", world.clock, title="X Corp. at SWG 2.2",
                              participants=[{"organization": "X Corp.", "role": "presenter"}])
    fire(declined, "request_approval", SYSTEM)
    fire(declined, "remind", SYSTEM)
    fire(declined, "escalate", SYSTEM)
    walk.answer("swg22.france@cochairs.example", "reminder", "decline")
    # Meetings: the Alliance meeting in Vienna is called off after its invitations; the forum is held and published.
    alliance = new_engagement(world.db, "alliance_meeting", world.clock, meeting_id=5)
    for trigger in ("schedule", "send_invitations"):
        fire(alliance, trigger)
    fire(alliance, "cancel", comment="Postponed to the autumn")
    forum = new_engagement(world.db, "private_sector_forum", world.clock)
    for trigger in ("schedule", "send_invitations", "hold"):
        fire(forum, trigger)
    fire(forum, "record_outcome", data=OUTCOME)
    fire(forum, "publish")
    # A website submission returned for changes (and reminded), sent again through its link, approved, published.
    video = new_engagement(world.db, "website_submission", world.clock)
    for trigger in ("submit", "start_screening"):
        fire(video, trigger)
    fire(video, "request_changes", comment="Please add subtitles")
    fire(video, "remind", SYSTEM)
    walk.answer("cdubois@atlantique-maritime.example", "reminder", "resubmit")
    for trigger in ("start_screening", "approve", "publish"):
        fire(video, trigger)
    # Recommendations: one accepted, one rejected.
    for trigger in ("accept", "reject"):
        recommendation = new_engagement(world.db, "recommendation", world.clock, title=f"Alerts ({trigger})")
        for step in ("submit", "start_review"):
            fire(recommendation, step)
        fire(recommendation, trigger, comment="Thank you")
    # A national dialogue: reminded to report, reported, returned for revision.
    dialogue = new_engagement(world.db, "national_dialogue", world.clock)
    for trigger in ("convene", "hold"):
        fire(dialogue, trigger, MEXICO)
    fire(dialogue, "remind", SYSTEM)
    fire(dialogue, "submit_report", MEXICO, data=REPORT | {"held_on": "2024-01-20"})
    fire(dialogue, "start_review")
    fire(dialogue, "return_for_revision", comment="Please add the partner counts by sector")
    # A public form awaiting its confirmation, a sign-in, and the closing recommendation window.
    receive(world.db, "recommendation", {"organization": "Atlantique Maritime", "title": "Port alerts",
                                          "email": "cdubois@atlantique-maritime.example"},
            {"topic": "information_sharing", "text": "A shared alert list"}, language="en", settings=world.settings,
            clock=world.clock)
    request_sign_in(world.db, "swg22.france@cochairs.example", settings=world.settings, clock=world.clock)
    queue_window_notices(world.db, world.clock.now() + timedelta(days=80))
    walk.deliver()


def _text(message: Message) -> str:
    part = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


def _calendar(message: Message) -> Calendar | None:
    parts = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    return Calendar.from_ical(parts[0].get_payload(decode=True)) if parts else None


@pytest.mark.parametrize("language", ["en", "es", "fr"])
def test_every_mail_that_asks_carries_the_means_to_answer(world: PortalWorld, tmp_path: Path, language: str) -> None:
    walk = Walk(world, tmp_path, language)
    _demo_like(walk)
    assert {kind for kind, _ in walk.rows.values()} == set(NotificationType)  # the walk covers every type
    requests: dict[str, int] = {}
    cancels: list[tuple[str, int]] = []
    for message in walk.mails:
        calendar = _calendar(message)
        if calendar is None:
            continue
        address = email.utils.parseaddr(message["To"])[1].lower()
        method = str(calendar["METHOD"])
        event = calendar.walk("VEVENT")[0]
        assert [name for name in REQUIRED[method] if name not in event] == [], method
        assert str(event["ATTENDEE"]).lower() == f"mailto:{address}"
        assert str(event["ORGANIZER"]) == f"mailto:{SECRETARIAT_EMAIL}"
        assert event["DTEND"].dt > event["DTSTART"].dt and str(event["URL"]).startswith("http")
        assert str(event["LOCATION"]) in ("Virtual", "Vienna, Austria", "Paris, France")  # as the database has them
        if method == "REQUEST":
            requests[str(event["UID"])] = int(event["SEQUENCE"])
        else:
            assert str(event["STATUS"]) == "CANCELLED"
            cancels.append((str(event["UID"]), int(event["SEQUENCE"])))
    vienna = [c for m in walk.mails if (c := _calendar(m)) and "Vienna" in str(c.walk("VEVENT")[0]["LOCATION"])]
    assert vienna and all(c.walk("VEVENT")[0]["DTEND"].dt == date(2024, 3, 9) for c in vienna)  # 5-8 March, all days
    # a withdrawn invitation, a declined one and a cancelled meeting: each cancels the entry its invitation sent
    assert len(cancels) == 3 and all(uid in requests and sequence > requests[uid] for uid, sequence in cancels)
