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
from tests.prerequisites import CHROMIUM, require_chromium
from tests.world import SECRETARIAT, clock_at, new_engagement, seeded

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


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


def test_partner_sends_material_with_a_file_and_authority_reports_in_chromium(sqlite_db: Database, tmp_path: Path) -> None:
    import zipfile
    from datetime import timedelta

    from playwright.sync_api import sync_playwright

    from models import DialogueReport, PendingSubmission
    from states.sweep import run_sweep
    from tests.world import MEXICO

    db = seeded(sqlite_db)
    maildir = tmp_path / "Maildir"
    port = _free_port()
    clock = clock_at(2024, 2, 1)
    deck = tmp_path / "screening.pptx"
    with zipfile.ZipFile(deck, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("ppt/presentation.xml", "<presentation/>")
    with running_mail_sink(maildir) as smtp_port:
        settings = Settings(data_dir=tmp_path, database_url=db.url, smtp_port=smtp_port,
                            public_base_url=f"http://127.0.0.1:{port}")
        dialogue = new_engagement(db, "national_dialogue", clock)
        for trigger in ("convene", "hold"):
            apply_transition(db, dialogue, trigger, MEXICO, clock=clock, settings=settings)
        clock.advance(timedelta(days=15))
        run_sweep(db, clock, settings=settings)  # the reminder asks the authority for its report
        dispatch_pending(db, clock=clock, settings=settings)
    report_link = _link_in_mail(maildir, "enlace@conadic-mx.example")

    with running_portal(settings, db, clock, port=port) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(java_script_enabled=False)
        page.goto(f"{base}/submit/material")
        page.fill("#organization", "Atlantique Maritime")
        page.fill("#email", "ops@atlantique.example")
        page.fill("#title", "How we screen containers")
        page.select_option("#media", "presentation")
        page.set_input_files("#file", str(deck))
        page.fill("#summary", "<b>Our</b> screening steps")
        page.screenshot(path=str(tmp_path / "3-material-form.png"), full_page=True)
        page.click("button[type=submit]")
        assert "ops@atlantique.example" in page.inner_text("main")
        page.screenshot(path=str(tmp_path / "4-check-your-mail.png"), full_page=True)
        page.goto(report_link)
        assert "Informe del diálogo nacional" in page.inner_text("h1")
        page.fill("#held_on", "2024-01-29")
        page.fill("#organizing_agency", "CONADIC")
        page.fill("#public_partners", "6")
        page.fill("#private_partners", "14")
        page.fill("#areas", "precursor chemicals\nmaritime shipping")
        page.screenshot(path=str(tmp_path / "5-report-form.png"), full_page=True)
        page.click("button[type=submit]")
        assert "registrada" in page.inner_text("h1")
        page.screenshot(path=str(tmp_path / "6-report-recorded.png"), full_page=True)
        browser.close()
    with db.transaction() as session:
        pending = session.scalar(select(PendingSubmission))
        report = session.get(DialogueReport, dialogue)
    assert pending.payload["details"]["url"].endswith(".pptx") and report.private_partners == 14


def test_a_french_form_with_three_errors_says_each_in_french_at_its_field_in_chromium(
    sqlite_db: Database, tmp_path: Path,
) -> None:
    """What the browser lets through (spaces, an address without a domain) the server refuses, all at once."""
    from playwright.sync_api import sync_playwright

    db = seeded(sqlite_db)
    port = _free_port()
    settings = Settings(data_dir=tmp_path, database_url=db.url, public_base_url=f"http://127.0.0.1:{port}")
    with running_portal(settings, db, clock_at(2024, 4, 10), port=port), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(java_script_enabled=False)
        page.goto(f"http://127.0.0.1:{port}/submit/recommendation?lang=fr")
        assert page.input_value("#topic") == ""  # no category is chosen for the sender
        page.fill("#organization", "   ")
        page.fill("#email", "nom@exemple")
        page.fill("#title", "Partager les alertes")
        page.select_option("#topic", "information_sharing")
        page.fill("#text", "   ")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        expected = {"organization": "Veuillez remplir ce champ.",
                    "email": "Veuillez saisir une adresse électronique valide (nom@example.org).",
                    "text": "Veuillez remplir ce champ."}
        for field, message in expected.items():
            described = page.get_attribute(f"#{field}", "aria-describedby")
            assert page.get_attribute(f"#{field}", "aria-invalid") == "true", field
            assert page.inner_text(f"#{described}") == message, field
        assert page.get_attribute("#title", "aria-invalid") is None
        assert page.locator(".field-error").count() == 3
        assert "Veuillez corriger les 3 champs signalés ci-dessous" in page.inner_text("[role=alert]")
        assert page.input_value("#title") == "Partager les alertes" and page.input_value("#topic") == "information_sharing"
        page.screenshot(path=str(tmp_path / "form-errors-fr.png"), full_page=True)
        browser.close()
