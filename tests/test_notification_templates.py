"""Notification templates (every type in every language) and the contact validation helpers."""

from __future__ import annotations

import email
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st
from jinja2 import Environment
from jinja2.filters import do_wordwrap

from models.enums import Language, NotificationType, Role
from notifications.contact_checks import check_email_address, check_header_value
from notifications.mime import build_email
from states.reply_address import message_id_for
from notifications.templates import render_message
from notifications.wrap import wrap
from settings import Settings
from states.clock import SimulatedClock
from states.sign_in import WHAT
from website.i18n import translations

CONTEXT = {
    "engagement_title": "Presentation to SWG 2.2",
    "engagement_kind": "swg_presentation",
    "recipient_name": "Amina Diallo",
    "swg_code": "2.2",
    "swg_title": "Information sharing",
    "meeting_title": "SWG 2.2 February session",
    "meeting_date": "2024-02-15",
    "deadline": "2024-02-01",
    "reminder_number": 2,
    "trigger": "approve",
    "url": "https://engage.example/engagements/7",
    "comment": "Thank you",
}


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", list(NotificationType))
def test_every_type_renders_in_every_language(kind: NotificationType, language: Language) -> None:
    message = render_message(kind, language, CONTEXT)
    assert message.language == language
    assert "Presentation to SWG 2.2" in message.subject and "\n" not in message.subject
    for part in (" ".join(message.text.split()), message.html):
        assert "Presentation to SWG 2.2" in part and "Amina Diallo" in part
    assert f'<html lang="{language}">' in message.html
    assert 'href="https://engage.example/engagements/7"' in message.html
    # with only the title, optional keys missing, every template still renders
    bare = render_message(kind, language, {"engagement_title": "Dialogue"})
    assert "Dialogue" in bare.text and "None" not in bare.text and "Undefined" not in bare.text


@pytest.mark.parametrize(
    ("language", "subject", "phrase"),
    [
        ("en", "Reminder 2: Presentation to SWG 2.2", "reminder number 2"),
        ("es", "Recordatorio 2: Presentation to SWG 2.2", "recordatorio número 2"),
        ("fr", "Rappel 2\u00a0: Presentation to SWG 2.2", "rappel numéro 2"),
    ],
)
def test_reminders_carry_their_number(language: str, subject: str, phrase: str) -> None:
    message = render_message("reminder", language, CONTEXT)
    assert message.subject == subject
    assert phrase in " ".join(message.text.split()) and phrase in message.html


def test_the_sign_in_mail_speaks_the_readers_language_only() -> None:
    for language, subject, body in (
        ("fr", "Connexion à Coalition Engage\u00a0: les invitations en attente de votre décision",
         "pour consulter les invitations en attente de votre décision."),
        ("es", "Acceso a Coalition Engage: las invitaciones pendientes de su decisión",
         "para ver las invitaciones pendientes de su decisión."),
        ("en", "Sign in to Coalition Engage: the invitations awaiting your decision",
         "to see the invitations awaiting your decision."),
    ):
        message = render_message("sign_in", language, {"engagement_title": WHAT[Role.CO_CHAIR], "link_purpose": "sign_in",
                                                       "action_url": "https://engage.example/a/1",
                                                       "link_expires": "2024-02-01T14:05+00:00"})
        assert message.subject == subject
        assert body in " ".join(message.text.split())
    french = render_message("sign_in", "fr", {"engagement_title": WHAT[Role.SECRETARIAT], "action_url": "https://e.example/a/1",
                                              "link_purpose": "sign_in", "link_expires": "2024-02-01T14:05+00:00"})
    assert french.subject.endswith("le tableau du Secrétariat")
    assert "Se connecter\u00a0:\n" in french.text and "valable jusqu'au 1er février 2024, 14:05 TU." in " ".join(french.text.split())


def test_mails_and_site_name_the_coalition_alike_and_sign_in_its_secretariat() -> None:
    for language, coalition, secretariat in (
        ("es", "Coalición Mundial para Hacer Frente a las Amenazas de las Drogas Sintéticas", "Secretaría de la Coalición Mundial"),
        ("fr", "Coalition mondiale contre les menaces liées aux drogues de synthèse", "Secrétariat de la Coalition mondiale"),
    ):
        assert translations(language).gettext("Global Coalition to Address Synthetic Drug Threats") == coalition
        message = render_message("publication_notice", language, CONTEXT | {"secretariat_name": "Global Coalition Secretariat"})
        text = " ".join(message.text.split())
        assert text.count(coalition) == 3 and f"\n{secretariat}\n" in message.text  # sentence, signature, footer
    assert "\nSWG Office\n" in render_message("decision", "fr", CONTEXT | {"secretariat_name": "SWG Office"}).text


def test_french_puts_a_no_break_space_before_colons() -> None:
    message = render_message("decision", "fr", CONTEXT | {"trigger": "other"})
    assert message.subject == "Décision\u00a0: Presentation to SWG 2.2"
    assert "Commentaire\u00a0: Thank you" in message.text and "Ouvrir dans Coalition Engage\u00a0: https://" in message.text
    assert "<strong>Commentaire\u00a0:</strong>" in message.html
    assert "concernant «\u00a0Presentation to SWG 2.2\u00a0»." in message.html


def test_dates_and_kinds_are_localized() -> None:
    assert "1 de febrero de 2024" in render_message("reminder", "es", CONTEXT).text
    assert "1er février 2024" in render_message("reminder", "fr", CONTEXT).text
    assert "(dialogue national)" in render_message("escalation", "fr", CONTEXT | {"engagement_kind": "national_dialogue"}).text


def test_html_is_autoescaped_and_only_http_links_are_made() -> None:
    hostile = CONTEXT | {"recipient_name": "<script>alert(1)</script>", "url": "javascript:alert(1)"}
    message = render_message("invitation", "en", hostile)
    assert "<script>" not in message.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "javascript:" not in message.html and "javascript:" not in message.text
    assert "<script>alert(1)</script>" in message.text  # plain text is not HTML-escaped


def test_unknown_language_falls_back_to_english_and_unknown_type_is_refused() -> None:
    assert render_message("decision", "de", CONTEXT).subject == "Approved: Presentation to SWG 2.2"
    assert render_message("decision", "es-MX", CONTEXT).language == "es"
    with pytest.raises(ValueError, match="unknown notification type 'telegram'"):
        render_message("telegram", "en", CONTEXT)


def test_email_headers_carry_language_and_a_message_id_from_the_dedupe_key() -> None:
    rendered = render_message("decision", "fr", CONTEXT)
    outgoing = build_email(
        rendered=rendered,
        recipient_name="Éloïse Müller",
        recipient_address="eloise@exämple.org",
        dedupe_key="transition:7:decision:contact:3",
        settings=Settings(),
        clock=SimulatedClock(datetime(2024, 2, 1, tzinfo=timezone.utc)),
    )
    parsed = email.message_from_bytes(outgoing.data)
    assert parsed["Content-Language"] == "fr"
    key = Settings().signing_key()
    assert parsed["Message-ID"] == message_id_for(key, "transition:7:decision:contact:3")
    assert message_id_for(key, "transition:7:decision:contact:3") == message_id_for(key, "transition:7:decision:contact:3")
    assert message_id_for(b"another key", "transition:7:decision:contact:3") != parsed["Message-ID"]  # keyed
    assert outgoing.recipient == "eloise@xn--exmple-cua.org"
    assert str(email.header.make_header(email.header.decode_header(parsed["Subject"]))) == rendered.subject


@pytest.mark.parametrize("value", ["Ana\r\nBcc: all@example.org", "Ana\nX", "Ana\rX", "Ana\x00", "Ana\u2028X", "Ana\tX"])
def test_header_values_with_line_breaks_or_control_characters_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="^contact name must not contain line breaks or control characters"):
        check_header_value("contact name", value)


def test_ordinary_names_and_addresses_pass() -> None:
    assert check_header_value("contact name", "José Ñúñez-O'Brien (UNODC)") == "José Ñúñez-O'Brien (UNODC)"
    assert check_email_address("Partner@Example.ORG") == "Partner@example.org"
    for bad in ("no-at-sign", "two@@example.org", "a@b", "x@example.org\r\nBcc: y@example.org", "josé@example.org"):
        with pytest.raises(ValueError, match="^email "):
            check_email_address(bad)


def test_error_text_is_stored_without_secrets_or_urls() -> None:
    from notifications.redaction import redact

    apprise_error = ("Failed to send Slack notification to https://hooks.slack.com/services/T000/B000/XXXX: 404; "
                     "json://user:hunter2@chat.example/hook unreachable; password=hunter2 token: abc123")
    cleaned = redact(apprise_error, ["hunter2"])
    assert "hooks.slack.com" not in cleaned and "T000" not in cleaned and "chat.example" not in cleaned
    assert "hunter2" not in cleaned and "abc123" not in cleaned
    assert cleaned.startswith("Failed to send Slack notification to https://[redacted]")
    assert redact("550 5.1.1 <ana@example.org>: Mailbox unavailable") == "550 5.1.1 <ana@example.org>: Mailbox unavailable"


@pytest.mark.parametrize("field", ["subject", "name"])
def test_header_values_are_encoded_not_refused_unless_they_hold_ascii_control_characters(field: str) -> None:
    rendered = render_message("decision", "en", CONTEXT)
    value = "Línea\u2028dos\u0085tres " + "w" * 200
    for bad in ("Ana\r\nBcc: x@example.org", "Ana\x00"):
        with pytest.raises(Exception, match="must not contain line breaks or control characters"):
            build_email(rendered=rendered if field == "name" else type(rendered)(bad, "t", "h", "en"),
                        recipient_name=bad if field == "name" else "Ana", recipient_address="a@example.org",
                        dedupe_key="k", settings=Settings(), clock=SimulatedClock(datetime(2024, 2, 1, tzinfo=timezone.utc)))
    outgoing = build_email(rendered=rendered if field == "name" else type(rendered)(value, "t", "h", "en"),
                           recipient_name=value if field == "name" else "Ana", recipient_address="a@example.org",
                           dedupe_key="k", settings=Settings(), clock=SimulatedClock(datetime(2024, 2, 1, tzinfo=timezone.utc)))
    parsed = email.message_from_bytes(outgoing.data)
    decoded = str(email.header.make_header(email.header.decode_header(parsed["Subject" if field == "subject" else "To"])))
    assert decoded == (value if field == "subject" else f"{value} <a@example.org>")
    assert max(len(line) for line in outgoing.data.split(b"\r\n")) <= 78


_WORDS = st.text(alphabet="ab-é\u00a0\u2028\t\n ", max_size=12) | st.text(alphabet="xyz", min_size=70, max_size=90)


@hypothesis_settings(max_examples=800, deadline=None)
@given(st.lists(_WORDS, max_size=40).map(" ".join), st.integers(5, 80))
def test_the_fast_wrap_gives_the_lines_of_jinja2_wordwrap(text: str, width: int) -> None:
    wrap.cache_clear()
    assert wrap(text, width) == do_wordwrap(Environment(), text, width, False)


@pytest.mark.parametrize("language", ["en", "es", "fr"])
def test_a_partner_whose_name_ends_with_a_period_ends_the_sentence_once(language: str) -> None:
    message = render_message("approval_request", language, CONTEXT | {"partner": "Snap Inc."})
    assert "Snap Inc.." not in message.text and "Snap Inc.." not in message.html
    assert "Snap Inc." in message.text
