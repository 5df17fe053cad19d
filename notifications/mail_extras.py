"""What some mails carry besides their text: the meeting as iCalendar, and one-click unsubscribe."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from icalendar import Calendar, Event

from models.outbox import OutboxMessage
from notifications.mime import Attachment
from settings import Settings
from states.opt_outs import unsubscribe_token
from states.reply_address import reply_address


def meeting_calendar(context: dict[str, Any], uid: str) -> bytes | None:
    """The meeting of the mail's engagement as an iCalendar file, when it has a date."""
    if not context.get("meeting_date"):
        return None
    calendar = Calendar()
    calendar.add("prodid", "-//Coalition Engage//portal//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", datetime.now(timezone.utc))
    event.add("dtstart", date.fromisoformat(context["meeting_date"]))
    event.add("summary", context.get("meeting_title") or context.get("engagement_title", "Meeting"))
    event.add("description", context.get("engagement_title", ""))
    calendar.add_component(event)
    return calendar.to_ical()


def mail_extras(row: OutboxMessage, settings: Settings, now: datetime) -> dict[str, Any]:
    """``headers`` and ``attachments`` for ``build_email`` sent at ``now``: the invitation and the acceptance
    carry the meeting; optional notices carry ``List-Unsubscribe`` with ``List-Unsubscribe-Post`` (RFC 8058),
    its token fresh in each mail."""
    extras: dict[str, Any] = {}
    context = row.context or {}
    if row.notification_type == "invitation" or context.get("trigger") == "accept":
        ics = meeting_calendar(context, f"engagement-{row.engagement_id}@coalition-engage")
        if ics:
            extras["attachments"] = [Attachment('text/calendar; method="PUBLISH"; charset="utf-8"', "meeting.ics", ics)]
    headers: dict[str, str] = {}
    if context.get("link_purpose") and (reply_to := reply_address(settings, row.dedupe_key)):
        headers["Reply-To"] = reply_to  # a reply to a mail that asks an answer reaches the mailbox intake, proven
    if not row.mandatory:
        token = unsubscribe_token(settings.signing_key(), row.recipient_address, row.notification_type,
                                  now + timedelta(days=settings.unsubscribe_lifetime_days))
        headers |= {
            "List-Unsubscribe": f"<{settings.public_base_url.rstrip('/')}/unsubscribe/{token}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    if headers:
        extras["headers"] = headers
    return extras
