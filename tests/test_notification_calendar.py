"""The calendar entry a mail carries (RFC 5545/5546), its Reply-To, and what a mail says when nothing is attached."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from icalendar import Calendar

from models.outbox import OutboxMessage
from notifications.mail_extras import calendar_method, calendar_uid, mail_extras, meeting_calendar
from notifications.templates import render_message
from settings import Settings

NOW = datetime(2024, 2, 1, 9, 30, tzinfo=timezone.utc)
MEETING = {"engagement_id": 7, "engagement_title": "Meta presents at SWG 2.2", "engagement_kind": "swg_presentation",
           "meeting_id": 5, "meeting_title": "INCB Tech against Trafficking meeting", "meeting_date": "2024-03-05",
           "meeting_ends_on": "2024-03-08", "meeting_location": "Vienna, Austria", "audience": "partners"}


def _row(notification_type: str, context: dict[str, object], *, mandatory: bool = True,
         address: str = "policy@meta.example") -> OutboxMessage:
    return OutboxMessage(notification_type=notification_type, context=context, mandatory=mandatory, channel="email",
                         recipient_name="Ana Ruiz", recipient_address=address, dedupe_key=f"t1:{notification_type}:x")


@pytest.mark.parametrize(("kind", "trigger", "method"), [
    ("invitation", None, "REQUEST"), ("decision", "accept", "REQUEST"), ("decision", "withdraw", "CANCEL"),
    ("decision", "decline_invitation", "CANCEL"), ("decision", "cancel", "CANCEL"),
    ("decision", "approve", None), ("reminder", None, None), ("publication_notice", None, None),
])
def test_which_mails_carry_which_method(kind: str, trigger: str | None, method: str | None) -> None:
    context = MEETING | ({"trigger": trigger} if trigger else {})
    assert calendar_method(kind, context) == method
    assert calendar_method(kind, context | {"audience": "secretariat"}) is None  # the organizer gets no entry
    assert calendar_method(kind, {**context, "meeting_date": None}) is None  # no meeting, nothing attached


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_an_entry_holds_what_its_method_requires(method: str) -> None:
    settings = Settings()
    ics = meeting_calendar(MEETING | {"trigger": "accept"}, method, uid=calendar_uid(MEETING, settings),
                           attendee=("Ana Ruiz", "policy@meta.example"), settings=settings,
                           url="https://engage.example/a/x", now=NOW)
    calendar = Calendar.from_ical(ics)
    assert (str(calendar["METHOD"]), str(calendar["VERSION"])) == (method, "2.0") and calendar["PRODID"]
    event = calendar.walk("VEVENT")[0]
    assert str(event["UID"]) == "engagement-7-meeting-5@coalition.example"  # stable: a CANCEL names its REQUEST
    assert int(event["SEQUENCE"]) == {"REQUEST": 0, "CANCEL": 1}[method]
    assert event["DTSTART"].dt == date(2024, 3, 5) and event["DTEND"].dt == date(2024, 3, 9)  # all four days
    assert event["DTSTAMP"].dt == NOW
    assert str(event["LOCATION"]) == "Vienna, Austria" and str(event["URL"]) == "https://engage.example/a/x"
    assert str(event["ORGANIZER"]) == "mailto:syntheticscoalition@state.example"
    assert event["ORGANIZER"].params["CN"] == "Global Coalition Secretariat"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:policy@meta.example" and attendee.params["PARTSTAT"] == "ACCEPTED"
    assert str(event["STATUS"]) == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")


def test_a_one_day_meeting_ends_the_next_day() -> None:
    settings = Settings()
    one_day = {**MEETING, "meeting_ends_on": None}
    event = Calendar.from_ical(meeting_calendar(one_day, "REQUEST", uid="u", attendee=("", "a@b.example"),
                                                settings=settings, url=None, now=NOW)).walk("VEVENT")[0]
    assert (event["DTSTART"].dt, event["DTEND"].dt) == (date(2024, 3, 5), date(2024, 3, 6))
    assert event["ATTENDEE"].params["PARTSTAT"] == "NEEDS-ACTION" and "URL" not in event


def test_an_invitation_without_a_meeting_says_so_and_attaches_nothing() -> None:
    context = {"engagement_id": 9, "engagement_title": "Discord presents at SWG 2.2", "engagement_kind": "swg_presentation",
               "swg_code": "2.2", "audience": "partners"}
    assert "attachments" not in mail_extras(_row("invitation", context), Settings(), NOW)
    for kind, trigger in (("invitation", None), ("decision", "accept")):
        text = render_message(kind, "en", context | ({"trigger": trigger} if trigger else {})).text
        assert "attached" not in text and "The date of the meeting is not set yet" in " ".join(text.split())
    with_meeting = render_message("decision", "en", MEETING | {"trigger": "accept"}).text
    assert "The meeting is attached to this message as a calendar entry." in " ".join(with_meeting.split())


def test_reply_to_is_the_secretariats_mailbox_or_engage_reply_to(monkeypatch: pytest.MonkeyPatch) -> None:
    row = _row("invitation", {"audience": "partners"})
    assert mail_extras(row, Settings(), NOW)["headers"]["Reply-To"] == "syntheticscoalition@state.example"
    monkeypatch.setenv("ENGAGE_REPLY_TO", "replies@coalition.example")
    assert mail_extras(row, Settings(), NOW)["headers"]["Reply-To"] == "replies@coalition.example"
    to_secretariat = _row("decision", {"audience": "secretariat"}, address="syntheticscoalition@state.example")
    assert "headers" not in mail_extras(to_secretariat, Settings(), NOW)  # its own notices need no Reply-To


def test_optional_notices_show_their_opt_out_in_the_body() -> None:
    url = "http://127.0.0.1:8000/unsubscribe/abc"
    for language, words in (("en", "To stop receiving"), ("es", "Para dejar de recibir"), ("fr", "Pour ne plus recevoir")):
        message = render_message("window_closing", language, {"engagement_title": "Recommendations",
                                                                "unsubscribe_url": url})
        assert words in " ".join(message.text.split()) and url in message.text and f'href="{url}"' in message.html
    assert "unsubscribe" not in render_message("invitation", "en", {"engagement_title": "T"}).text


TIMED = MEETING | {"meeting_start_time": "09:30", "meeting_end_time": "17:00", "meeting_time_zone": "Europe/Vienna"}


def test_a_meeting_with_hours_is_timed_in_its_own_time_zone() -> None:
    settings = Settings()
    calendar = Calendar.from_ical(meeting_calendar(TIMED, "REQUEST", uid="u", attendee=("", "a@b.example"),
                                                   settings=settings, url=None, now=NOW))
    event = calendar.walk("VEVENT")[0]
    assert event["DTSTART"].params["TZID"] == event["DTEND"].params["TZID"] == "Europe/Vienna"
    assert (event["DTSTART"].dt.isoformat(), event["DTEND"].dt.isoformat()) \
        == ("2024-03-05T09:30:00+01:00", "2024-03-08T17:00:00+01:00")  # first day's start to last day's end
    assert [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")] == ["Europe/Vienna"]  # RFC 5545, 3.6.5


@pytest.mark.parametrize(("language", "said"), [
    ("en", "5 March 2024, 09:30–17:00 (Central European Standard Time)"),
    ("es", "5 de marzo de 2024, 9:30–17:00 (hora estándar de Europa central)"),
    ("fr", "5 mars 2024, 09:30 – 17:00 (heure normale d’Europe centrale)"),
])
def test_a_mail_gives_the_hours_in_the_meetings_time_zone_in_the_readers_language(language: str, said: str) -> None:
    text = " ".join(render_message("invitation", language, TIMED).text.split())
    assert said.replace("\u202f", " ") in text.replace("\u202f", " ").replace("\u00a0", " ")
    assert "09:30" not in " ".join(render_message("invitation", language, MEETING).text.split())  # all day: no hours
