"""In real Chromium: a co-chair opens the link of a REAL mail from the SMTP sink, sees the context, approves."""

from __future__ import annotations

import mailbox
import re
import socket
from pathlib import Path

import pytest
from sqlalchemy import select

from models import ApprovalVote
from models.db import Database
from notifications.dispatcher import dispatch_pending
from notifications.mail_sink import running_mail_sink
from portal.server import running_portal
from settings import Settings
from states.workflow import apply_transition
from tests.world import SECRETARIAT, clock_at, new_engagement, seeded

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _link_in_mail(maildir: Path, recipient: str) -> str:
    for message in mailbox.Maildir(maildir, create=False):
        if recipient in message["To"]:
            for part in message.walk():
                if part.get_content_type() == "text/plain":
                    text = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
                    return re.search(r"(http://127\.0\.0\.1:\d+/a/[A-Za-z0-9_-]+)", text).group(1)
    raise AssertionError(f"no mail to {recipient} in {maildir}")


def test_co_chair_approves_from_a_delivered_mail_in_chromium(sqlite_db: Database, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    db = seeded(sqlite_db)
    maildir = tmp_path / "Maildir"
    port = _free_port()
    clock = clock_at(2024, 2, 1)
    with running_mail_sink(maildir) as smtp_port:
        settings = Settings(data_dir=tmp_path, database_url=db.url, smtp_port=smtp_port,
                            public_base_url=f"http://127.0.0.1:{port}")
        engagement = new_engagement(db, "swg_presentation", clock)
        apply_transition(db, engagement, "request_approval", SECRETARIAT, clock=clock, settings=settings)
        assert dispatch_pending(db, clock=clock, settings=settings).sent == 2
    link = _link_in_mail(maildir, "swg22.unodc@cochairs.example")

    with running_portal(settings, db, clock, port=port), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(java_script_enabled=False)  # the pages work without JavaScript
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text))
        page.goto(link)
        assert "Meta presents at SWG 2.2" in page.inner_text("h1")
        context = page.inner_text("dl.context")
        assert "Meta" in context and "Detecting drug sales online" in context
        assert "all co-chairs must approve" in page.content()
        page.screenshot(path=str(tmp_path / "1-approval-request.png"), full_page=True)
        page.fill("#comment", "A timely topic for the session")
        page.click("button.approve")
        page.wait_for_load_state()
        assert "your answer is recorded" in page.inner_text("h1")
        page.screenshot(path=str(tmp_path / "2-approved.png"), full_page=True)
        browser.close()
    assert problems == [], problems  # no CSP violations or errors in the console
    with db.transaction() as session:
        vote = session.scalar(select(ApprovalVote))
    assert (vote.decision, vote.channel, vote.comment) == ("approve", "email_link", "A timely topic for the session")
