"""``engage dispatch``, ``engage sweep`` and ``engage publish``: the flows' work run once, now, without Prefect."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import app
from models import OutboxMessage
from models.db import Database
from settings import get_settings
from states.jobs import last_runs
from states.workflow import apply_transition
from tests.world import SECRETARIAT, SYSTEM, clock_at, new_engagement, seeded

runner = CliRunner()


@pytest.fixture
def configured(db: Database, sink: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """``db`` as the CLI's database, ``tmp_path/data`` its data folder, the mail sink its SMTP server."""
    for name, value in (("DATABASE_URL", db.url), ("DATA_DIR", str(tmp_path / "data")), ("SMTP_HOST", "127.0.0.1"),
                        ("SMTP_PORT", str(sink))):
        monkeypatch.setenv(f"ENGAGE_{name}", value)
    get_settings.cache_clear()
    yield seeded(db)
    get_settings.cache_clear()


def test_publish_sweep_and_dispatch_run_once_and_are_noted(configured: Database, maildir: Path) -> None:
    clock = clock_at(2024, 2, 1)
    launch = new_engagement(configured, "toolkit_launch", clock)
    for trigger in ("schedule_presentation", "present", "launch", "publish"):
        apply_transition(configured, launch, trigger, SECRETARIAT, clock=clock)
    published = runner.invoke(app, ["publish"])
    assert published.exit_code == 0, published.output
    assert "1 published item; " in published.output
    site = get_settings().site_dir
    assert "PPP toolkit launch" in "".join(page.read_text() for page in site.rglob("*.html"))

    presentation = new_engagement(configured, "swg_presentation", clock)
    apply_transition(configured, presentation, "request_approval", SYSTEM, clock=clock)
    sent = runner.invoke(app, ["dispatch"])
    assert sent.exit_code == 0 and "3 sent, 0 to retry, 0 failed for good" in sent.output, sent.output
    assert len(mailbox.Maildir(maildir)) == 3  # the publication notice and the two approval requests

    swept = runner.invoke(app, ["sweep"])  # today is long past the co-chairs' first deadline in 2024
    assert swept.exit_code == 0 and "1 reminded" in swept.output and "delivery: 2 sent" in swept.output, swept.output
    with configured.transaction() as session:
        assert session.query(OutboxMessage).filter_by(notification_type="reminder", status="sent").count() == 2
    second_launch = new_engagement(configured, "toolkit_launch", clock)
    for trigger in ("schedule_presentation", "present", "launch", "publish"):  # its notice waits in the outbox
        apply_transition(configured, second_launch, trigger, SECRETARIAT, clock=clock)
    again = runner.invoke(app, ["sweep"])
    # The next reminder is not due yet; the sweep still delivers what waits, as the sweep flow does.
    assert "0 reminded" in again.output and "delivery: 1 sent" in again.output, again.output
    assert len(mailbox.Maildir(maildir)) == 6

    runs = last_runs(get_settings())
    assert set(runs) == {"publish", "dispatch", "sweep"} and runs["dispatch"].by == "command line"
    assert runs["sweep"].summary.startswith("sweep at") and "0 reminded" in runs["sweep"].summary


def test_the_jobs_refuse_a_database_without_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGAGE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ENGAGE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    for job in ("dispatch", "sweep", "publish"):
        refused = runner.invoke(app, [job])
        assert refused.exit_code == 1 and "no schema yet" in refused.output
    assert not (tmp_path / "job-runs.json").exists()
    get_settings.cache_clear()
