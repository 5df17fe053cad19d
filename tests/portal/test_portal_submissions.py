"""Public submission forms: confirmed by e-mail before entering a lifecycle; windows judged at sending."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from models import Engagement, OutboxMessage, PendingSubmission, TransitionLog
from notifications.templates import render_message

from tests.portal.portal_world import PortalWorld, csrf_of

SENDER = {"organization": "Atlantique Maritime", "email": "cdubois@atlantique-maritime.example",  # its contact
          "title": "Share precursor alerts"}


def _form(world: PortalWorld, path: str) -> str:
    page = world.client.get(path)
    assert page.status_code == 200
    return csrf_of(page.text)


def _engagements(world: PortalWorld) -> int:
    with world.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Engagement))


def test_recommendation_enters_its_lifecycle_only_once_confirmed(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 4, 10, 9, tzinfo=timezone.utc))
    page = world.client.get("/submit/recommendation")
    for category in ("Advocacy campaigns", "Resource mobilization", "Information sharing",
                     "Innovative products and services", "Policy"):
        assert category in page.text
    assert "send it by 30 April 2024" in page.text  # the early-consideration date, written out
    assert '<option value=""></option>' in page.text  # no category is chosen for the sender
    sent = world.client.post("/submit/recommendation", data={
        **SENDER, "csrf": csrf_of(page.text), "topic": "information_sharing", "text": "A shared alert list",
    })
    assert sent.status_code == 200 and "cdubois@atlantique-maritime.example" in sent.text
    assert _engagements(world) == 0  # nothing enters a lifecycle before the address is confirmed
    path = world.link_of("cdubois@atlantique-maritime.example", "submission_confirmation")
    assert path.startswith("/confirm/")
    confirm_page = world.client.get(path)  # a link scanner: shows, changes nothing
    assert confirm_page.status_code == 200 and "Share precursor alerts" in confirm_page.text
    assert _engagements(world) == 0
    world.clock.advance(timedelta(days=25))  # confirmed in May: still judged on 10 April
    token = csrf_of(confirm_page.text)
    done = world.client.post(path, data={"csrf": token, "action": "confirm"})
    assert done.status_code == 200, done.text
    again = world.client.post(path, data={"csrf": token, "action": "confirm"})
    assert again.status_code == 200 and "already confirmed" in again.text
    with world.db.transaction() as session:
        engagement = session.scalars(select(Engagement)).one()
        submit = session.scalars(select(TransitionLog).where(TransitionLog.trigger == "submit")).one()
    assert (engagement.kind, engagement.state) == ("recommendation", "submitted")
    assert engagement.details["submitted_on"] == "2024-04-10"
    assert (submit.actor, submit.channel) == ("cdubois@atlantique-maritime.example", "website")


def test_window_is_judged_when_the_form_was_sent(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 9, 30, 22, tzinfo=timezone.utc))
    token = _form(world, "/submit/material")
    sent = world.client.post("/submit/material", data={
        **SENDER, "csrf": token, "media": "video", "url": "https://videos.example/screening", "summary": "Screening",
    })
    assert sent.status_code == 200
    world.clock.set(datetime(2024, 10, 3, 9, tzinfo=timezone.utc))
    path = world.link_of("cdubois@atlantique-maritime.example", "submission_confirmation")
    done = world.client.post(path, data={"csrf": csrf_of(world.client.get(path).text), "action": "confirm"})
    assert done.status_code == 200
    late = world.client.post("/submit/material", data={
        **SENDER, "csrf": token, "media": "video", "url": "https://videos.example/late", "summary": "Late",
    })
    assert late.status_code == 409 and "This form closed on 30 September 2024" in late.text
    assert "<form" not in late.text.split("</header>")[1]  # a closed window offers no form
    assert "This form closed on 30 September 2024" in world.client.get("/submit/material?lang=en").text
    with world.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PendingSubmission)) == 1
        assert session.scalars(select(Engagement)).one().state == "submitted"


def _pptx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("ppt/presentation.xml", "<presentation/>")
    return buffer.getvalue()


def test_uploads_are_checked_by_content_and_size(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 5, 2, 9, tzinfo=timezone.utc))
    token = _form(world, "/submit/material")
    fields = {**SENDER, "csrf": token, "media": "presentation", "summary": "Our screening process"}
    mislabelled = world.client.post("/submit/material", data=fields,
                                    files={"file": ("deck.pdf", b"<html><script>alert(1)</script>", "application/pdf")})
    assert mislabelled.status_code == 422 and '<p class="field-error" id="file-error">The file must be a PDF' in mislabelled.text
    huge = world.client.post("/submit/material", data=fields,
                             files={"file": ("deck.pdf", b"%PDF-1.7\n" + b"0" * (11 * 1024 * 1024), "application/pdf")})
    assert huge.status_code == 413
    with world.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PendingSubmission)) == 0
    deck = _pptx()
    ok = world.client.post("/submit/material", data=fields, files={"file": ("deck.bin", deck, "application/octet-stream")})
    assert ok.status_code == 200, ok.text
    stored = list((world.settings.upload_dir / "quarantine").iterdir())  # held until the sender confirms
    assert [path.suffix for path in stored] == [".pptx"] and stored[0].read_bytes() == deck
    with world.db.transaction() as session:
        pending = session.scalars(select(PendingSubmission)).one()
    assert pending.payload["details"]["url"].endswith(stored[0].name) and pending.upload_name == stored[0].name
    assert world.client.get(f"/files/{stored[0].name}").status_code == 404  # the public never gets it unconfirmed
    assert world.client.get("/files/..%2Fengage.db").status_code == 404


def test_bad_input_names_the_field_script_is_inert_and_rate_limited(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 4, 10, 9, tzinfo=timezone.utc))
    token = _form(world, "/submit/achievement")
    payload = "<script>alert('x')</script>"
    bad = world.client.post("/submit/achievement", data={
        "csrf": token, "organization": payload, "email": "not-an-address", "title": payload, "summary": payload,
    })
    assert bad.status_code == 422 and '<p class="field-error" id="email-error">Please enter a valid e-mail' in bad.text
    assert payload not in bad.text and "&lt;script&gt;" in bad.text
    assert world.client.post("/submit/achievement", data={**SENDER, "summary": "x"}).status_code == 403  # no CSRF
    good = world.client.post("/submit/achievement", data={**SENDER, "csrf": token, "title": payload, "summary": payload})
    assert good.status_code == 200
    path = world.link_of("cdubois@atlantique-maritime.example", "submission_confirmation")
    shown = world.client.get(path).text
    assert payload not in shown and "&lt;script&gt;" in shown
    with world.db.transaction() as session:
        mail = session.scalars(select(OutboxMessage)).one()
    assert mail.context["engagement_title"] == payload  # kept as sent; the HTML part escapes it
    rendered = render_message(mail.notification_type, mail.language, mail.context)
    assert payload not in rendered.html and "&lt;script&gt;" in rendered.html
    statuses = [world.client.post("/submit/achievement", data={**SENDER, "csrf": token, "summary": "s"}).status_code
                for _ in range(10)]
    assert 429 in statuses


def test_a_refused_confirmation_leaves_the_submission_pending(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 4, 10, 9, tzinfo=timezone.utc))
    token = _form(world, "/submit/achievement")
    # a Meta contact claiming to write for another organization
    sent = world.client.post("/submit/achievement", data={
        **SENDER, "email": "policy@meta.example", "csrf": token, "summary": "Screening at scale",
    })
    assert sent.status_code == 200
    path = world.link_of("policy@meta.example", "submission_confirmation")
    refused = world.client.post(path, data={"csrf": csrf_of(world.client.get(path).text), "action": "confirm"})
    assert refused.status_code == 403 and "another organization" in refused.text
    assert _engagements(world) == 0
    with world.db.transaction() as session:
        assert session.scalars(select(PendingSubmission)).one().confirmed_at is None


def test_every_bad_field_is_named_at_once_even_with_a_missing_file(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 5, 2, 9, tzinfo=timezone.utc))
    token = _form(world, "/submit/material")
    bad = world.client.post("/submit/material", data={
        **SENDER, "email": "nobody", "csrf": token, "media": "presentation", "summary": ""})
    assert bad.status_code == 422
    for field in ("email", "file", "summary"):
        assert f'aria-invalid="true" aria-describedby="{field}-error"' in bad.text, field
    assert 'aria-describedby="url-error"' not in bad.text  # the link of a file to come is no error of the sender's
    assert "Please correct the 3 fields marked below and send again." in bad.text
    assert 'value="Atlantique Maritime"' in bad.text and '<option value="presentation" selected>' in bad.text
