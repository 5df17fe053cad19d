"""Window-closing notices: partners are told before a submission window (or its early date) closes.

The sweep calls ``queue_window_notices`` with its clock. For each window of website material and
recommendations (``submission_windows``: the closing date, and the early-consideration date when
there is one), from ``lead`` before that date until the date itself, it writes one ``window_closing``
outbox row per partner contact, not tied to any transition. The dedupe key names the window, the
date and the contact, so however often the sweep runs, each partner hears of each date once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from models import Contact, Organization, OutboxMessage, SubmissionWindow
from models.db import Database
from models.enums import EngagementKind, NotificationType, OrganizationType, OutboxStatus

NOTICE_KINDS = (EngagementKind.WEBSITE_SUBMISSION, EngagementKind.RECOMMENDATION)
#: The portal form each notice links to (a link purpose of ``notifications.action_urls``).
FORM_LINKS = {EngagementKind.WEBSITE_SUBMISSION: "material_form", EngagementKind.RECOMMENDATION: "recommendation_form"}
LEAD = timedelta(days=14)
TITLES = {
    EngagementKind.WEBSITE_SUBMISSION: "Exchange of experiences on the Coalition website",
    EngagementKind.RECOMMENDATION: "Recommendations from public-private partners",
}


@dataclass(frozen=True)
class WindowDeadline:
    kind: str
    deadline: date
    early: bool
    closes_on: date

    @property
    def title(self) -> str:
        base = TITLES[EngagementKind(self.kind)]
        return f"{base} (early consideration)" if self.early else base


def deadlines_due(db: Database, today: date, lead: timedelta = LEAD) -> list[WindowDeadline]:
    """The window dates partners should now be reminded of (``today`` within ``lead`` before them)."""
    with db.transaction() as session:
        windows = session.scalars(select(SubmissionWindow).where(SubmissionWindow.kind.in_(NOTICE_KINDS))).all()
        found = []
        for window in windows:
            for deadline, early in ((window.early_deadline, True), (window.closes_on, False)):
                if deadline is not None and window.opens_on <= today and deadline - lead <= today <= deadline:
                    found.append(WindowDeadline(window.kind, deadline, early, window.closes_on))
        return found


def queue_window_notices(db: Database, now: datetime, lead: timedelta = LEAD) -> int:
    """Queue the window-closing notices due at ``now``; how many new outbox rows were written."""
    written = 0
    for window in deadlines_due(db, now.date(), lead):
        prefix = f"window:{window.kind}:{window.deadline.isoformat()}:"
        with db.transaction() as session:
            contacts = session.execute(
                select(Contact.name, Contact.email, Contact.language, Contact.opt_outs, Organization.name)
                .join(Organization, Organization.id == Contact.organization_id)
                .where(Organization.type == OrganizationType.PARTNER).order_by(Contact.id)
            ).all()
            sent = set(session.scalars(select(OutboxMessage.dedupe_key)
                                       .where(OutboxMessage.dedupe_key.startswith(prefix))))
            rows = [_row(prefix, window, contact, now) for contact in contacts
                    if f"{prefix}{contact.email.lower()}" not in sent]
            if rows:
                try:
                    with session.begin_nested():
                        session.execute(insert(OutboxMessage), rows)
                    written += len(rows)
                except IntegrityError:  # another sweep queued them at the same moment
                    pass
    return written


def _row(prefix: str, window: WindowDeadline, contact: object, now: datetime) -> dict[str, object]:
    opted_out = NotificationType.WINDOW_CLOSING.value in (contact.opt_outs or []) or "email" in (contact.opt_outs or [])
    return {
        "dedupe_key": f"{prefix}{contact.email.lower()}", "engagement_id": None, "transition_id": None,
        "notification_type": NotificationType.WINDOW_CLOSING.value, "channel": "email",
        "recipient_name": contact.name, "recipient_address": contact.email, "language": contact.language,
        "mandatory": False,
        "context": {"engagement_title": window.title, "deadline": window.closes_on.isoformat(),
                    **({"early_deadline": window.deadline.isoformat()} if window.early else {}),
                    "organization": contact[4], "recipient_name": contact.name, "engagement_kind": window.kind,
                    "link_purpose": FORM_LINKS[EngagementKind(window.kind)]},
        "status": OutboxStatus.SUPPRESSED if opted_out else OutboxStatus.PENDING,
        "status_reason": "recipient opted out of window_closing" if opted_out else None,
        "attempts": 0, "next_attempt_at": now, "created_at": now,
    }
