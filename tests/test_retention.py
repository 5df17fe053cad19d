"""The sweep removes what can serve no one: old sessions and counters, unconfirmable submissions, orphan files."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from models import PendingSubmission
from models.db import Database
from models.security import PortalSession, RateLimitCounter
from settings import Settings
from states import uploads
from states.intake import confirm, receive
from states.sweep import run_sweep
from tests.world import clock_at, seeded

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _submit(db: Database, settings: Settings, clock, email: str, content: bytes) -> int:
    name = uploads.file_name(content, "pdf")
    receive(db, "recommendation", {"organization": "Atlantique Maritime", "title": f"Port alerts from {email}",
                                   "email": email}, {"topic": "information_sharing", "text": "A shared alert list"},
            language="fr", settings=settings, clock=clock, upload_name=name)
    uploads.store(content, "pdf", settings.upload_dir)
    with db.transaction() as session:
        return session.scalar(select(PendingSubmission.id).where(PendingSubmission.email == email))


def _age(path: Path, seconds: int) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_the_sweep_purges_only_what_has_expired(db: Database, tmp_path: Path) -> None:
    seeded(db)
    clock = clock_at(2024, 5, 1)
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="test-key-" + "x" * 40)
    now = clock.now()
    with db.transaction() as session:
        session.add_all([
            PortalSession(id_hash="a" * 64, email="old@x.example", role="staff", created_at=now - timedelta(days=3),
                          expires_at=now - timedelta(days=2)),
            PortalSession(id_hash="b" * 64, email="live@x.example", role="staff", created_at=now,
                          expires_at=now + timedelta(hours=8)),
            RateLimitCounter(key="c" * 64, window_start=now - timedelta(hours=2), hits=3,
                             expires_at=now - timedelta(hours=1)),
            RateLimitCounter(key="d" * 64, window_start=now, hits=1, expires_at=now + timedelta(minutes=1)),
        ])
    stale = _submit(db, settings, clock, "stale@atlantique.example", PDF + b"stale")
    confirmed = _submit(db, settings, clock, "kept@atlantique.example", PDF + b"kept")
    confirm(db, confirmed, settings=settings, clock=clock)
    orphan = settings.upload_dir / uploads.QUARANTINE / uploads.store(PDF + b"orphan", "pdf", settings.upload_dir)
    fresh_orphan = settings.upload_dir / uploads.QUARANTINE / uploads.store(PDF + b"new", "pdf", settings.upload_dir)
    stale_file = settings.upload_dir / uploads.QUARANTINE / uploads.file_name(PDF + b"stale", "pdf")
    for path in (orphan, stale_file):
        _age(path, 2 * 3600)

    def purged() -> tuple[int, int, int, int]:
        report = run_sweep(db, clock, settings=settings).purged
        return report.sessions, report.rate_limits, report.submissions, report.uploads

    assert purged() == (1, 1, 0, 1)  # the old session and counter, the orphan file
    clock.advance(timedelta(days=settings.link_lifetime_days - 1))  # the confirmation link still works
    assert purged() == (1, 1, 0, 0)  # the other session and counter have expired meanwhile
    clock.advance(timedelta(days=2))
    report = run_sweep(db, clock, settings=settings)
    assert (report.purged.submissions, report.purged.uploads) == (1, 1)
    assert "removed: 0 expired sessions, 0 rate-limit counters, 1 unconfirmed submission, 1 quarantined file" \
        in report.summary(), report.summary()
    with db.transaction() as session:
        assert session.scalars(select(PortalSession.email)).all() == []
        assert session.scalars(select(PendingSubmission.id)).all() == [confirmed]
        assert session.scalar(select(func.count()).select_from(RateLimitCounter)) == 0
    assert not orphan.exists() and not stale_file.exists()
    assert fresh_orphan.exists()  # written under an hour ago: its submission's row may be on its way
    assert uploads.located(uploads.file_name(PDF + b"kept", "pdf"), settings.upload_dir) is not None
    assert purged() == (0, 0, 0, 0)
