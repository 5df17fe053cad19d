"""The hand-written wire form of a notification is what the ``email`` package would have written."""

from __future__ import annotations

import asyncio
import binascii
import email
import smtplib
import time
from datetime import datetime, timezone
from email import encoders
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from pathlib import Path

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from notifications.mail_extras import meeting_calendar
from notifications.mail_sink import MaildirHandler, running_smtp_server
from notifications.mime import SMTP_COMPAT32, Attachment, build_email, header_text
from states.reply_address import message_id_for
from notifications.email_channel import _PLAIN_ADDRESS, WRITTEN, EmailChannel
from notifications.templates import render_message
from settings import Settings
from states.clock import SimulatedClock

CLOCK = SimulatedClock(datetime(2024, 2, 1, 9, 30, tzinfo=timezone.utc))
CONTEXT = {"engagement_title": "Presentation to SWG 2.2", "swg_code": "2.2", "meeting_date": "2024-02-15",
           "url": "https://engage.example/engagements/7", "comment": "Merci\u00a0! Línea\u2028dos " + "w" * 90}
UNSUBSCRIBE = {"List-Unsubscribe": "<http://127.0.0.1:8000/unsubscribe/" + "x" * 120 + ">",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
CALENDAR = 'text/calendar; method="REQUEST"; charset="utf-8"'


def _calendar(context: dict[str, object]) -> bytes:
    return meeting_calendar(context, "REQUEST", uid="engagement-7-meeting-2@coalition.example",
                            attendee=("Éloïse Müller", "eloise@example.org"), settings=Settings(),
                            url="https://engage.example/a/x", now=CLOCK.now())


def email_package_build(rendered, recipient_name, recipient_address, dedupe_key, settings, headers, attachments):  # noqa: ANN001, ANN201
    """The message as the ``email`` package's classes and generator write it (the reference)."""
    def text_part(text: str, subtype: str) -> MIMENonMultipart:
        part = MIMENonMultipart("text", subtype, charset="utf-8")
        part["Content-Transfer-Encoding"] = "quoted-printable"
        part.set_payload(binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii"))
        return part

    name, address = header_text("name", recipient_name), recipient_address.rpartition("@")
    address = f"{address[0]}@{address[2].encode('idna').decode('ascii')}"
    message = MIMEMultipart("alternative", boundary=f"=_{message_id_for(settings.signing_key(), dedupe_key)[1:25]}")
    message["From"] = settings.mail_from
    message["To"] = email.utils.formataddr((name, address)) if name == recipient_name else f"{name} <{address}>"
    message["Subject"] = header_text("subject", rendered.subject)
    message["Date"] = email.utils.format_datetime(CLOCK.now())
    message["Message-ID"] = message_id_for(settings.signing_key(), dedupe_key)
    message["Content-Language"] = rendered.language
    message["Auto-Submitted"] = "auto-generated"
    message.attach(text_part(rendered.text, "plain"))
    message.attach(text_part(rendered.html, "html"))
    if attachments:
        outer = MIMEMultipart("mixed", boundary=f"=_m{message_id_for(settings.signing_key(), dedupe_key)[1:25]}")
        for field in ("From", "To", "Subject", "Date", "Message-ID", "Content-Language", "Auto-Submitted"):
            outer[field] = message[field]
            del message[field]
        outer.attach(message)
        for attachment in attachments:
            part = MIMEBase("text", "calendar", method="REQUEST", charset="utf-8")
            part.set_payload(attachment.data)
            encoders.encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
            outer.attach(part)
        message = outer
    for field, value in headers.items():
        message[field] = value
    return message.as_bytes(policy=SMTP_COMPAT32)


CASES = [
    ("decision", "en", "Amina Diallo", "amina@example.org", {}, False),
    ("invitation", "fr", "Éloïse Müller-Ngata", "eloise@exämple.org", UNSUBSCRIBE, True),
    ("reminder", "es", "José " + "Ñ" * 80, "jose@example.org", UNSUBSCRIBE, False),
    ("approval_request", "en", "A " + "x" * 75, "a@example.org", {}, True),
]


@pytest.mark.parametrize(("kind", "language", "name", "address", "headers", "with_calendar"), CASES)
def test_the_bytes_are_those_of_the_email_package(kind: str, language: str, name: str, address: str,
                                                   headers: dict[str, str], with_calendar: bool) -> None:
    rendered = render_message(kind, language, CONTEXT | {"recipient_name": name, "engagement_title": f"Título {name}"})
    calendar = _calendar(CONTEXT | {"meeting_title": "Réunion à Genève"})
    attachments = [Attachment(CALENDAR, "meeting.ics", calendar)] if with_calendar else []
    settings = Settings()
    ours = build_email(rendered=rendered, recipient_name=name, recipient_address=address, dedupe_key=f"k:{kind}",
                       settings=settings, clock=CLOCK, headers=headers, attachments=attachments)
    assert ours.data == email_package_build(rendered, name, address, f"k:{kind}", settings, headers, attachments)


def parsed_parts(message: Message) -> list[tuple[str, dict[str, str], bytes | None]]:
    """Every part of a parsed message: its content type, headers and decoded payload."""
    return [(part.get_content_type(), {key: value for key, value in part.items()},
             None if part.is_multipart() else part.get_payload(decode=True)) for part in message.walk()]


def test_a_delivered_message_parses_as_the_email_package_message(tmp_path: Path) -> None:
    name, address = "Éloïse Müller", "eloise@example.org"
    rendered = render_message("invitation", "fr", CONTEXT | {"recipient_name": name})
    attachments = [Attachment(CALENDAR, "meeting.ics", _calendar(CONTEXT))]
    with running_smtp_server(MaildirHandler(tmp_path / "mail")) as port:
        settings = Settings(smtp_port=port)
        with EmailChannel(settings) as channel:
            channel.send(build_email(rendered=rendered, recipient_name=name, recipient_address=address, dedupe_key="k",
                                     settings=settings, clock=CLOCK, headers=UNSUBSCRIBE, attachments=attachments))
    delivered = next(iter(email.message_from_bytes(path.read_bytes()) for path in (tmp_path / "mail" / "new").iterdir()))
    for trace in ("Return-Path", "Delivered-To"):
        del delivered[trace]
    reference = email.message_from_bytes(email_package_build(rendered, name, address, "k", settings, UNSUBSCRIBE, attachments))
    assert parsed_parts(delivered) == parsed_parts(reference)
    assert [part.get_content_type() for part in delivered.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/calendar"]
    assert delivered["Message-ID"] == message_id_for(settings.signing_key(), "k")
    assert delivered.get_payload(1).get_filename() == "meeting.ics"


def test_lines_starting_with_a_period_arrive_intact_within_one_pipelined_stream(tmp_path: Path) -> None:
    comments = [".", "..two", "plain", ".\n.\n.lead"]
    with running_smtp_server(MaildirHandler(tmp_path / "mail")) as port:
        settings = Settings(smtp_port=port)
        messages = [(comment, build_email(rendered=render_message("decision", "en", {"comment": comment}), recipient_name="A",
                                          recipient_address="a@example.org", dedupe_key=str(index), settings=settings,
                                          clock=CLOCK))
                    for index, comment in enumerate(comments)]
        with EmailChannel(settings) as channel:
            outcomes = [step for step in channel.send_each(messages) if step is not WRITTEN]
            assert outcomes == [(comment, None) for comment in comments]
    texts = {}
    for path in (tmp_path / "mail" / "new").iterdir():
        delivered = email.message_from_bytes(path.read_bytes())
        texts[delivered["Message-ID"]] = delivered.get_payload(0).get_payload(decode=True)
    sent = {message_id_for(settings.signing_key(), str(index)): email.message_from_bytes(message.data).get_payload(0).get_payload(decode=True)
            for index, (_, message) in enumerate(messages)}
    assert texts == sent


def test_a_connection_the_server_closed_while_idle_is_reopened_for_the_next_message(tmp_path: Path) -> None:
    peers: list[object] = []

    class ClosingAfterEachMessage(MaildirHandler):
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
            peers.append(session.peer)
            asyncio.get_running_loop().call_later(0.05, server.transport.close)  # as an idle timeout would
            return await super().handle_DATA(server, session, envelope)

    with running_smtp_server(ClosingAfterEachMessage(tmp_path / "mail")) as port:
        settings = Settings(smtp_port=port)
        with EmailChannel(settings) as channel:
            for index in range(3):
                message = build_email(rendered=render_message("decision", "en", {}), recipient_name="A",
                                      recipient_address="a@example.org", dedupe_key=str(index), settings=settings, clock=CLOCK)
                assert [step for step in channel.send_each([(index, message)]) if step is not WRITTEN] == [(index, None)]
                time.sleep(0.2)
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 3
    assert len(set(peers)) == 3, "each message on a new connection, opened by the client once it found the old one closed"


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.sampled_from(["List-Unsubscribe", "To", "Subject", "X-" + "A" * 70]),
       st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200))
def test_headers_fold_as_compat32_folds_them(name: str, value: str) -> None:
    assert SMTP_COMPAT32.fold_binary(name, value) == Compat32(linesep="\r\n").fold_binary(name, value)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.from_regex(_PLAIN_ADDRESS, fullmatch=True))
def test_plain_addresses_are_quoted_as_smtplib_quotes_them(address: str) -> None:
    assert smtplib.quoteaddr(address) == f"<{address}>"
