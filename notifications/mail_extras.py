"""What some mails carry besides their text: the meeting as an iTIP calendar entry (RFC 5545/5546),
a Reply-To the Secretariat's mailbox, and one-click unsubscribe."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from models.outbox import OutboxMessage
from notifications.action_urls import action_url
from notifications.mime import Attachment
from settings import Settings
from states.opt_outs import unsubscribe_token
from states.reply_address import reply_address

#: The calendar a decision mail carries, by the step that caused it: an acceptance confirms the entry,
#: a withdrawn or declined invitation and a cancelled meeting cancel it (the lifecycles notify the
#: invitees of these steps only once they were invited).
DECISION_METHODS = {"accept": "REQUEST", "withdraw": "CANCEL", "decline_invitation": "CANCEL", "cancel": "CANCEL"}
#: The attendee's participation status, by the step (an invitation waits for the answer).
PARTSTAT = {"accept": "ACCEPTED", "decline_invitation": "DECLINED"}
#: SEQUENCE of each method: a cancellation supersedes the request it cancels (RFC 5546, 2.1.4).
SEQUENCE = {"REQUEST": 0, "CANCEL": 1}


def calendar_method(notification_type: str, context: Mapping[str, Any]) -> str | None:
    """The iTIP METHOD of the calendar entry a mail carries, or ``None`` when it carries none.

    Only invitees get one (never the Secretariat, who organizes), and only when the engagement
    has a meeting: an invitation without a meeting says so and attaches nothing.
    """
    if not context.get("meeting_date") or context.get("audience") == "secretariat":
        return None
    if notification_type == "invitation":
        return "REQUEST"
    if notification_type == "decision":
        return DECISION_METHODS.get(str(context.get("trigger")))
    return None


def calendar_uid(context: Mapping[str, Any], settings: Settings) -> str:
    """The entry's UID: stable per engagement and meeting, so a cancellation names the request it cancels."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "coalition-engage"
    return f"engagement-{context.get('engagement_id')}-meeting-{context.get('meeting_id')}@{domain}"


def meeting_calendar(context: Mapping[str, Any], method: str, *, uid: str, attendee: tuple[str, str],
                     settings: Settings, url: str | None, now: datetime) -> bytes:
    """The meeting as an iCalendar object with ``method`` (REQUEST or CANCEL) for one ``attendee`` (name, address).

    A meeting with hours is timed in its time zone (DTSTART and DTEND with TZID, the zone's VTIMEZONE
    included), from its start time on its first day to its end time on its last; one without is an
    all-day event whose DTEND is the day after its last day (RFC 5545, 3.6.1).
    """
    starts, ends = _meeting_span(context)
    calendar = Calendar()
    calendar.add("prodid", "-//Coalition Engage//mail//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("sequence", SEQUENCE[method])
    event.add("dtstart", starts)
    event.add("dtend", ends)
    event.add("summary", context.get("meeting_title") or context.get("engagement_title") or "Meeting")
    event.add("description", context.get("engagement_title") or "")
    if context.get("meeting_location"):
        event.add("location", context["meeting_location"])
    if url:
        event.add("url", url)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{settings.secretariat_email}")
    organizer.params["cn"] = vText(settings.secretariat_name)
    event.add("organizer", organizer)
    name, address = attendee
    person = vCalAddress(f"mailto:{address}")
    if name:
        person.params["cn"] = vText(name)
    person.params["role"] = vText("REQ-PARTICIPANT")
    person.params["partstat"] = vText(PARTSTAT.get(str(context.get("trigger")), "NEEDS-ACTION"))
    person.params["rsvp"] = vText("FALSE")  # the answer goes through the mail's link or its Reply-To
    event.add("attendee", person)
    calendar.add_component(event)
    if isinstance(starts, datetime):  # the VTIMEZONE of its TZID, with the zone's rules around the meeting only
        calendar.add_missing_timezones(first_date=date(starts.year - 1, 1, 1), last_date=date(ends.year + 2, 1, 1))
    return calendar.to_ical()


def _meeting_span(context: Mapping[str, Any]) -> tuple[date, date] | tuple[datetime, datetime]:
    """DTSTART and DTEND: local moments in the meeting's zone when it has hours, else all-day dates."""
    first = date.fromisoformat(context["meeting_date"])
    last = max(date.fromisoformat(context.get("meeting_ends_on") or context["meeting_date"]), first)
    if not context.get("meeting_start_time"):
        return first, last + timedelta(days=1)
    zone = ZoneInfo(context["meeting_time_zone"])
    return (datetime.combine(first, time.fromisoformat(context["meeting_start_time"]), zone),
            datetime.combine(last, time.fromisoformat(context["meeting_end_time"]), zone))


def reply_to(row: OutboxMessage, settings: Settings) -> str | None:
    """The Reply-To of a mail: the Secretariat's mailbox on every mail to someone else (all of them ask, inform or
    confirm something a reader may answer); none on the Secretariat's own notices."""
    if row.context and row.context.get("audience") == "secretariat":
        return None
    if row.recipient_address.strip().lower() == settings.secretariat_email.lower():
        return None
    if row.context and row.context.get("link_purpose") and (proven := reply_address(settings, row.dedupe_key)):
        return proven  # the mailbox's +token address: a reply to it reaches the mail intake as this mail's answer
    return settings.reply_address


def unsubscribe_url(row: OutboxMessage, settings: Settings, now: datetime) -> str | None:
    """The one-click opt-out of an optional e-mail notice (its token fresh at ``now``); ``None`` for a mandatory
    one or a chat post."""
    if row.mandatory or row.channel == "chat":
        return None
    token = unsubscribe_token(settings.signing_key(), row.recipient_address, row.notification_type,
                              now + timedelta(days=settings.unsubscribe_lifetime_days))
    return f"{settings.public_base_url.rstrip('/')}/unsubscribe/{token}"


def mail_extras(row: OutboxMessage, settings: Settings, now: datetime) -> dict[str, Any]:
    """``headers`` and ``attachments`` for ``build_email`` sent at ``now``: the calendar entry of invitations,
    acceptances and cancellations; ``Reply-To``; for optional notices ``List-Unsubscribe`` with
    ``List-Unsubscribe-Post`` (RFC 8058)."""
    extras: dict[str, Any] = {}
    context = row.context or {}
    headers: dict[str, str] = {}
    if method := calendar_method(row.notification_type, context):
        ics = meeting_calendar(
            context, method, uid=calendar_uid(context, settings), attendee=(row.recipient_name, row.recipient_address),
            settings=settings, url=action_url(context, row.dedupe_key, settings) or settings.public_base_url, now=now,
        )
        extras["attachments"] = [Attachment(f'text/calendar; method="{method}"; charset="utf-8"', "meeting.ics", ics)]
    if address := reply_to(row, settings):
        headers["Reply-To"] = address
    if url := unsubscribe_url(row, settings, now):
        headers |= {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    if headers:
        extras["headers"] = headers
    return extras
