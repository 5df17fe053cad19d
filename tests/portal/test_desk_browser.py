"""The desk in real Chromium: staff sign in by mailed link, take a step by its button; axe-core finds no serious
or critical violation on any desk page at 1280 and 390 px, and no page is wider than the screen at 390 px."""

from __future__ import annotations

import mailbox
import os
import re
import socket
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Engagement, OutboxMessage
from models.db import Database
from notifications.action_urls import action_url
from portal.server import running_portal
from settings import Settings
from states.workflow import apply_transition
from tests.world import ENGAGEMENTS, SECRETARIAT, clock_at, new_engagement, seeded

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(os.environ.get("ENGAGE_AXE_JS", Path(__file__).resolve().parents[2] / ".tools/node_modules/axe-core/axe.min.js"))
WIDTHS = (1280, 390)
pytestmark = pytest.mark.browser


def _need(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sign_in_link(db: Database, settings: Settings, email: str) -> str:
    """The link of the newest sign-in mail; the portal queues it after it has answered, so wait for it."""
    deadline = time.monotonic() + 20
    while True:
        with db.transaction() as session:
            row = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_address == email,
                                                              OutboxMessage.notification_type == "sign_in")
                                  .order_by(OutboxMessage.id.desc())).first()
            if row is not None:
                return action_url(row.context, row.dedupe_key, settings)
        assert time.monotonic() < deadline, f"no sign-in mail queued for {email}"
        time.sleep(0.1)


def _check(page, name: str, shots: Path) -> None:  # noqa: ANN001 - a Playwright page
    page.add_script_tag(path=str(AXE))
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        result = page.evaluate("() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})")
        serious = [(v["id"], v["help"], [node["target"] for node in v["nodes"]][:3])
                   for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == [], (name, width, serious)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, (name, width, overflow)
        page.screenshot(path=str(shots / f"desk-{name}-{width}.png"), full_page=True)


def test_desk_pages_are_accessible_and_fit_a_phone(sqlite_db: Database, tmp_path: Path) -> None:
    _need(CHROMIUM.exists(), f"{CHROMIUM} is not installed")
    _need(AXE.exists(), f"axe-core is not installed ({AXE})")
    from playwright.sync_api import sync_playwright

    db = seeded(sqlite_db)
    clock = clock_at(2024, 2, 1)
    ids = {kind: new_engagement(db, kind, clock) for kind in ENGAGEMENTS}
    long_title = "A very long title with an address https://example.org/" + "x" * 80
    new_engagement(db, "achievement", clock, title=long_title)
    dialogue = ids["national_dialogue"]
    for trigger in ("convene", "hold"):
        apply_transition(db, dialogue, trigger, SECRETARIAT, clock=clock)
    apply_transition(db, ids["swg_presentation"], "request_approval", SECRETARIAT, clock=clock)
    apply_transition(db, ids["achievement"], "submit", SECRETARIAT, clock=clock)
    port = _free_port()
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="k" * 48,
                        public_base_url=f"http://127.0.0.1:{port}")
    with running_portal(settings, db, clock, port=port) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        # axe is injected by the test; the pages themselves run no script (CSP default-src 'none')
        context = browser.new_context(bypass_csp=True, java_script_enabled=True)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text))
        page.goto(f"{base}/signin")
        page.fill("#email", settings.secretariat_email)
        page.click("button[type=submit]")
        page.goto(_sign_in_link(db, settings, settings.secretariat_email))
        page.click("main button[type=submit]")
        assert page.url.endswith("/desk")
        pages = {
            "queue": "/desk", "list": "/desk/engagements", "filtered": "/desk/engagements?kind=achievement&q=title",
            "approval": f"/desk/engagements/{ids['swg_presentation']}", "report-form": f"/desk/engagements/{dialogue}",
            "new": "/desk/new", "create": "/desk/new/website_submission", "directory": "/desk/directory",
            "organization": "/desk/directory/1", "report": "/desk/report",
        }
        for name, path in pages.items():
            page.goto(base + path)
            _check(page, name, tmp_path)
        page.set_viewport_size({"width": 390, "height": 900})
        page.goto(f"{base}/desk")
        page.click(f"form[action='/desk/engagements/{ids['achievement']}/steps/start_review'] button")
        assert "Done" in page.inner_text("main")
        page.goto(f"{base}/desk/engagements/{dialogue}")
        page.fill("#s-submit_report-data-held_on", "2024-02-20")  # after today: the domain refuses it
        page.fill("#s-submit_report-data-organizing_agency", "CONADIC")
        page.fill("#s-submit_report-data-public_partners", "3")
        page.fill("#s-submit_report-data-private_partners", "9")
        page.click("#step-submit_report button")
        assert "in the future" in page.inner_text("#step-submit_report")
        _check(page, "refused", tmp_path)
        browser.close()
    assert [p for p in problems if "409 (Conflict)" not in p] == [], problems  # the refusal's own status
    with db.transaction() as session:
        assert session.get(Engagement, ids["achievement"]).state == "under_review"
        assert session.get(Engagement, dialogue).state == "held"


def _links_in_mail(maildir: Path, recipient: str) -> list[str]:
    """Every portal link mailed to ``recipient``, oldest mail first."""
    found = []
    messages = sorted(mailbox.Maildir(maildir, create=False), key=lambda message: message["Date"] or "")
    for message in messages:
        if recipient in message["To"]:
            for part in message.walk():
                if part.get_content_type() == "text/plain":
                    text = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
                    found += re.findall(r"(http://127\.0\.0\.1:\d+/a/[A-Za-z0-9_-]+)", text)
    return found


def test_a_presentation_run_through_the_desk_without_javascript(sqlite_db: Database, tmp_path: Path) -> None:
    """Create, ask the co-chairs, they decide by mailed link, invite, the partner accepts by mailed link, record,
    publish; select an achievement and build the report: the desk's buttons only, no script in the browser."""
    _need(CHROMIUM.exists(), f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    from notifications.mail_sink import running_mail_sink

    db = seeded(sqlite_db)
    clock = clock_at(2024, 2, 1)
    achievement = new_engagement(db, "achievement", clock)
    for trigger in ("submit", "start_review", "accept"):
        apply_transition(db, achievement, trigger, SECRETARIAT, clock=clock)
    maildir, port = tmp_path / "Maildir", _free_port()

    def state(title: str) -> str:
        with db.transaction() as session:
            return session.scalars(select(Engagement.state).where(Engagement.title == title)).one()

    with running_mail_sink(maildir) as smtp_port:
        settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="k" * 48, smtp_port=smtp_port,
                            public_base_url=f"http://127.0.0.1:{port}")
        with running_portal(settings, db, clock, port=port) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
            page = browser.new_page(java_script_enabled=False)

            def run_mail() -> list[str]:
                """Send the waiting mail from the desk; who has received mail so far."""
                page.goto(f"{base}/desk")
                page.click("form[action='/desk/jobs/dispatch'] button")
                return [message["To"] for message in mailbox.Maildir(maildir, create=False)]

            page.goto(f"{base}/signin")
            page.fill("#email", settings.secretariat_email)
            page.click("main button[type=submit]")
            page.goto(_sign_in_link(db, settings, settings.secretariat_email))
            page.click("main button[type=submit]")
            page.goto(f"{base}/desk/new/swg_presentation")
            page.fill("#c-title", "Snap presents at SWG 2.2")
            page.select_option("#c-swg", "2.2")
            page.select_option("#c-org-0", "Snap Inc.")
            page.select_option("#c-role-0", "presenter")
            page.fill("#c-details-topic", "Reporting drug sales on messaging apps")
            page.click("form.create button[type=submit]")
            assert "Created." in page.inner_text("main") and state("Snap presents at SWG 2.2") == "awaiting_approval"
            received = run_mail()
            assert sum("swg22." in to for to in received) == 2 and re.search(r"Send the waiting mail: \d+ sent", page.inner_text("main"))
            for chair in ("swg22.unodc@cochairs.example", "swg22.france@cochairs.example"):
                page.goto(_links_in_mail(maildir, chair)[-1])
                page.click("button.approve")
            assert state("Snap presents at SWG 2.2") == "invitation_sent"  # the approval sent the invitation itself
            page.goto(f"{base}/desk")
            assert sum("policy@snap.example" in to for to in run_mail()) == 1  # the invitation
            page.goto(_links_in_mail(maildir, "policy@snap.example")[-1])
            page.click("button.accept")
            assert state("Snap presents at SWG 2.2") == "accepted"
            page.goto(f"{base}/desk")
            page.click("table button[title='The partner presented']")
            assert state("Snap presents at SWG 2.2") == "presented"
            page.click("main a:has-text('See the engagement')")
            page.click("#step-publish button")
            assert state("Snap presents at SWG 2.2") == "published"
            site = "".join(path.read_text() for path in settings.site_dir.rglob("*.html"))
            assert "Snap presents at SWG 2.2" in site  # republished at once
            page.goto(f"{base}/desk/report")
            page.click(f"form[action='/desk/engagements/{achievement}/steps/select_for_report'] button")
            assert "Selected for the report." in page.inner_text("main")
            page.select_option("#r-format", "html")
            page.click("form[action='/desk/report'] button")
            assert "Built report-en.html" in page.inner_text("main")
            browser.close()
    with db.transaction() as session:
        selected = session.get(Engagement, achievement).details.get("selected_for_report")
    assert selected and (settings.site_dir / "report" / "report-en.html").is_file()
