"""What the portal and the intake keep only for a while, removed once it can serve no one.

- sign-in sessions past their expiry (or revoked) a day ago: the cookie they answer is refused anyway;
- rate-limit counters whose window has ended;
- public submissions never confirmed, once their confirmation link has expired
  (``link_lifetime_days``): nobody can confirm them any more, and they hold a stranger's address;
- quarantined uploads that no kept submission names, an hour after they were written (a file is
  stored just before or after its submission's row is committed; the hour covers that gap).

Called by the reminder sweep (``states/sweep.py``), so it runs on the sweep's schedule; each part is
one statement, idempotent, and safe beside a running portal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select

from models import PendingSubmission
from models.db import Database
from models.security import PortalSession, RateLimitCounter
from settings import Settings
from states.uploads import QUARANTINE
from states.words import counts
from website.i18n import N_plural, Phrase

SESSION_GRACE = timedelta(days=1)
UPLOAD_GRACE_SECONDS = 3600


@dataclass(frozen=True)
class Purged:
    """How many of each were removed."""

    sessions: int = 0
    rate_limits: int = 0
    submissions: int = 0
    uploads: int = 0

    def phrase(self) -> Phrase:
        """What was removed, for a reader in any language."""
        return counts((N_plural("%(num)s expired session", "%(num)s expired sessions"), self.sessions),
                      (N_plural("%(num)s rate-limit counter", "%(num)s rate-limit counters"), self.rate_limits),
                      (N_plural("%(num)s unconfirmed submission", "%(num)s unconfirmed submissions"), self.submissions),
                      (N_plural("%(num)s quarantined file", "%(num)s quarantined files"), self.uploads))


def purge_expired(db: Database, now: datetime, settings: Settings) -> Purged:
    """Remove what has expired at ``now`` (see the module); what was removed, counted."""
    quarantine = settings.upload_dir / QUARANTINE
    files = [path for path in quarantine.iterdir() if path.is_file()] if quarantine.is_dir() else []
    with db.transaction() as session:
        sessions = session.execute(delete(PortalSession).where(or_(
            PortalSession.expires_at < now - SESSION_GRACE, PortalSession.revoked_at < now - SESSION_GRACE)))
        limits = session.execute(delete(RateLimitCounter).where(RateLimitCounter.expires_at < now))
        submissions = session.execute(delete(PendingSubmission).where(
            PendingSubmission.confirmed_at.is_(None), PendingSubmission.engagement_id.is_(None),
            PendingSubmission.received_at < now - timedelta(days=settings.link_lifetime_days)))
        named = set(session.scalars(select(PendingSubmission.upload_name).where(
            PendingSubmission.upload_name.is_not(None))))
    removed = 0
    for path in files:
        if path.name not in named and time.time() - path.stat().st_mtime > UPLOAD_GRACE_SECONDS:
            path.unlink(missing_ok=True)
            removed += 1
    return Purged(sessions.rowcount, limits.rowcount, submissions.rowcount, removed)
