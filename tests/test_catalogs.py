"""The message catalogs (locale/<lang>.po): complete, current, consistent; and mails that leak no English.

One catalog per language serves the site, the report and the mails. These tests read it as a
translator would (every msgid translated, no fuzzy entry, the same placeholders), compare it with
what ``pybabel extract`` finds in the code (what `make catalogs` would add or drop), render every
mail in Spanish and French looking for any English sentence of the catalog, and check plurals and
dates per language.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from models.enums import EngagementKind, NotificationType, Role
from notifications.templates import render_message
from states.publication import _CONVENED, _PRESENTED, _PRIVATE_PARTNERS, _PUBLIC_PARTNERS
from states.sign_in import WHAT
from website import PublishedItem, publish
from website.i18n import LOCALE_DIR, Phrase, long_date, long_datetime, translations
from website.view import Section

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = ("es", "fr")
_PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[sd]")
_ASCII_SPACES = re.compile(r"[ \t\r\n]+")  # French no-break spaces are part of the text
_TAGS = re.compile(r"<[^>]+>")


@cache
def _catalog(language: str) -> Catalog:
    with (LOCALE_DIR / f"{language}.po").open("rb") as handle:
        return read_po(handle, locale=language)


def _entries(language: str) -> list[Message]:
    return [message for message in _catalog(language) if message.id]


def _key(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _strings(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@cache
def _extracted() -> frozenset[str]:
    """The msgids `pybabel extract -F babel.cfg -k N_plural:1,2 .` finds (what `make catalogs` runs)."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "N_plural": (1, 2)}
    return frozenset(_key(found[2]) for found in extract_from_dir(ROOT, method_map, options_map, keywords=keywords))


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_msgid_has_a_translation_and_none_is_fuzzy(language: str) -> None:
    untranslated = [_key(m.id) for m in _entries(language) if not all(s.strip() for s in _strings(m.string))]
    assert untranslated == []
    assert [_key(m.id) for m in _entries(language) if m.fuzzy] == []
    assert list(_catalog(language).obsolete) == []  # nothing commented out (#~) by an update


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders_of_their_msgid(language: str) -> None:
    wrong = []
    for message in _entries(language):
        expected = sorted(set(_PLACEHOLDER.findall(" ".join(_strings(message.id)))))
        for text in _strings(message.string):
            if sorted(set(_PLACEHOLDER.findall(text))) != expected:
                wrong.append((_key(message.id), text))
    assert wrong == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_catalogs_are_current_with_the_code(language: str) -> None:
    in_catalog = {_key(m.id) for m in _entries(language)}
    assert sorted(_extracted() - in_catalog) == [], "strings marked in the code but missing: run `make catalogs`"
    # Msgids the code no longer marks would be commented out by `make catalogs`: mark them (N_) or drop them.
    assert sorted(in_catalog - _extracted()) == []


def test_french_puts_a_no_break_space_before_double_punctuation_and_inside_quotes() -> None:
    wrong = [text for message in _entries("fr") for text in _strings(message.string)
             if re.search(r" [:;!?»]|« |\w[;!?»]|\w:(\s|$)", text)]
    assert wrong == []


# --- Mails: every type, every branch, in Spanish and French, with no English sentence of the catalog.

_BASE = {
    "engagement_title": "Alertas de precursores", "engagement_kind": EngagementKind.SWG_PRESENTATION.value,
    "recipient_name": "Amina Diallo", "swg_code": "2.2", "swg_title": "Intercambio", "meeting_title": "Sesión de febrero",
    "meeting_date": "2024-02-15", "deadline": "2024-02-01", "reminder_number": 2, "decision": "approve",
    "url": "https://engage.example/engagements/7", "comment": "Merci", "organization": "Química Andina S.A.",
    "received_on": "2024-03-01", "secretariat_name": "Global Coalition Secretariat",
    "action_url": "https://engage.example/a/xyz", "link_purpose": "co_chair_decision", "link_expires": "2024-02-10",
}
#: Contexts that together take every branch of every template.
CONTEXTS = [
    _BASE,
    _BASE | {"reminder_number": 1, "decision": "decline", "early_deadline": "2024-01-20", "link_purpose": "invitation_answer"},
    _BASE | {"reminder_number": 0, "decision": "", "trigger": "accept", "swg_title": None, "meeting_title": None,
             "link_purpose": "dialogue_report", "link_expires": "2024-02-10T14:05+00:00"},
    _BASE | {"decision": "other", "meeting_date": None, "deadline": None, "organization": None,
             "link_purpose": "submission_confirmation"},
    {"engagement_title": "Diálogo", "swg_code": "1.1", "meeting_date": "2024-05-01", "received_on": "2024-05-02"},
    {"engagement_title": "Diálogo"},
] + [{"engagement_title": "Diálogo", "engagement_kind": kind.value, "reminder_number": 3} for kind in EngagementKind]
#: What a sign-in link opens is the sign-in mail's title.
SIGN_IN_CONTEXTS = [
    {"engagement_title": WHAT[Role.CO_CHAIR], "link_purpose": "sign_in", "action_url": "https://engage.example/a/1",
     "link_expires": "2024-02-01T14:05+00:00"},
    {"engagement_title": WHAT[Role.SECRETARIAT], "link_purpose": "sign_in"},
]


@cache
def _english_sentences() -> tuple[str, ...]:
    """The literal runs of three words or more of every msgid: any of them in a mail is untranslated English."""
    runs = set()
    for message in _entries("fr"):
        for msgid in _strings(message.id):
            for run in _PLACEHOLDER.split(msgid):
                run = _ASCII_SPACES.sub(" ", run).strip(" .,:;\"")
                if len(run.split(" ")) >= 3:
                    runs.add(run)
    return tuple(sorted(runs))


def _visible(text: str) -> str:
    return _ASCII_SPACES.sub(" ", html.unescape(_TAGS.sub(" ", text)))


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("kind", list(NotificationType))
def test_mails_in_spanish_and_french_hold_no_english_sentence(kind: NotificationType, language: str) -> None:
    sentences = _english_sentences()
    assert len(sentences) > 100 and "is still awaiting a response after" in sentences  # the check has teeth
    for context in CONTEXTS + (SIGN_IN_CONTEXTS if kind == NotificationType.SIGN_IN else []):
        message = render_message(kind, language, context)
        for part in (message.subject, message.text, message.html):
            visible = _visible(part)
            assert [sentence for sentence in sentences if sentence in visible] == [], (context, visible)


def test_the_leak_check_sees_english_when_there_is_some() -> None:
    english = render_message("escalation", "en", _BASE)
    assert [s for s in _english_sentences() if s in _visible(english.text)]


# --- Plurals and dates.

@pytest.mark.parametrize(("language", "expected"), [
    ("en", {0: "is still awaiting a response.", 1: "after 1 reminder.", 2: "after 2 reminders."}),
    ("es", {0: "sigue a la espera de una respuesta.", 1: "después de 1 recordatorio.", 2: "después de 2 recordatorios."}),
    ("fr", {0: "est toujours en attente d'une réponse.", 1: "après 1 rappel.", 2: "après 2 rappels."}),
])
def test_reminder_counts_take_the_plural_of_their_language(language: str, expected: dict[int, str]) -> None:
    for count, words in expected.items():  # no reminder yet (0): the sentence without a count
        text = _visible(render_message("escalation", language, _BASE | {"reminder_number": count}).text)
        assert words in text, text


@pytest.mark.parametrize(("language", "zero", "one", "two"), [
    ("en", "reminders", "reminder", "reminders"),
    ("es", "recordatorios", "recordatorio", "recordatorios"),
    ("fr", "rappel", "rappel", "rappels"),  # French counts 0 as singular
])
def test_the_catalogs_plural_rules_for_0_1_2(language: str, zero: str, one: str, two: str) -> None:
    singular = '"%(engagement_title)s"%(kind)s is still awaiting a response after %(count)s reminder.'
    plural = '"%(engagement_title)s"%(kind)s is still awaiting a response after %(count)s reminders.'
    for count, word in ((0, zero), (1, one), (2, two)):
        text = translations(language).ngettext(singular, plural, count) % {"engagement_title": "T", "kind": "", "count": count}
        assert text.endswith(f" {count} {word}."), text


@pytest.mark.parametrize(("language", "day", "first", "moment"), [
    ("en", "15 February 2024", "1 February 2024", "10 February 2024, 14:05 UTC"),
    ("es", "15 de febrero de 2024", "1 de febrero de 2024", "10 de febrero de 2024, 14:05 UTC"),
    ("fr", "15 février 2024", "1er février 2024", "10 février 2024, 14:05 TU"),
])
def test_dates_are_written_by_babel_in_each_language(language: str, day: str, first: str, moment: str) -> None:
    assert long_date(date(2024, 2, 15), language) == day
    assert long_date(date(2024, 2, 1), language) == first
    assert long_datetime(datetime(2024, 2, 10, 14, 5, tzinfo=timezone.utc), language) == moment
    assert long_datetime(datetime(2024, 2, 10, 14, 5), language) == moment  # no zone: UTC
    paris = timezone(timedelta(hours=1))
    assert long_datetime(datetime(2024, 2, 10, 15, 5, tzinfo=paris), language).endswith("15:05 +0100")
    mail = _visible(render_message("approval_request", language, _BASE | {"link_expires": "2024-02-10T14:05+00:00"}).text)
    assert day in mail and first in mail and moment in mail


# --- The engine's sentences on the site: messages with parameters, said in the page's language.

def _dialogue_item(public: int, private: int) -> PublishedItem:
    return PublishedItem(
        engagement_id=19, kind="national_dialogue", title="Diálogo nacional con la industria química",
        published_at=datetime(2024, 2, 1, tzinfo=timezone.utc), language="es",
        lead=Phrase.of(_CONVENED, agency="CONADIC", day=date(2024, 1, 29),
                       public=Phrase.of(_PUBLIC_PARTNERS, public, count=public),
                       private=Phrase.of(_PRIVATE_PARTNERS, private, count=private)),
        body="<p>Relato del diálogo.</p>",
        sections=[Section(title="Areas of discussion", entries=["Control de precursores"]),
                  Section(title="Recommendations", text="<p>Compartir alertas.</p>")],
    )


@pytest.mark.parametrize(("language", "lead", "areas"), [
    ("en", "CONADIC convened 6 public partners and 1 private partner on 29 January 2024.", "Areas of discussion"),
    ("es", "CONADIC convocó a 6 socios públicos y 1 socio privado el 29 de enero de 2024.", "Temas tratados"),
    ("fr", "CONADIC a réuni 6 partenaires publics et 1 partenaire privé le 29 janvier 2024.", "Thèmes abordés"),
])
def test_a_dialogues_sentence_and_headings_are_said_in_the_pages_language(
    tmp_path: Path, language: str, lead: str, areas: str,
) -> None:
    publish(tmp_path, [_dialogue_item(6, 1)])
    folder = tmp_path / ("" if language == "en" else language)
    page = (folder / "national_dialogue/19.html").read_text("utf-8")
    # The engine's sentence is in the page's language (no lang attribute); the partner's text keeps its own.
    assert f'<div class="summary"><p>{lead}</p></div>' in page
    assert f"<h2>{areas}</h2>" in page and '<ul lang="es">' in page and '<div class="body" lang="es"><p>Compartir' in page
    assert lead in (folder / "national_dialogue/index.html").read_text("utf-8")
    assert lead in (folder / "search-index.js").read_text("ascii").encode().decode("unicode_escape")
    assert lead in json.loads((folder / "feed.json").read_text("utf-8"))["items"][0]["content_html"]


@pytest.mark.parametrize(("count", "english", "french"), [
    (0, "0 private partners", "0 partenaire privé"), (1, "1 private partner", "1 partenaire privé"),
    (2, "2 private partners", "2 partenaires privés"),
])
def test_partner_counts_take_their_plural(count: int, english: str, french: str) -> None:
    lead = _dialogue_item(1, count).lead
    assert english in lead.html("en") and "1 public partner " in lead.html("en") and french in lead.html("fr")


def test_a_presentation_names_its_presenters_in_the_pages_language() -> None:
    one = Phrase.of(_PRESENTED, 1, partners="Meta", topic="Alertas")
    two = Phrase.of(_PRESENTED, 2, partners="Meta, X Corp.", topic="Alertas")
    assert one.html("en") == "Meta presented: Alertas" and two.html("es") == "Meta, X Corp. presentaron: Alertas"
    assert one.html("fr") == "Meta a présenté\u00a0: Alertas" and two.html("fr") == "Meta, X Corp. ont présenté\u00a0: Alertas"
    assert Phrase.of(_PRESENTED, 1, partners="<b>", topic="&").html("en") == "&lt;b&gt; presented: &amp;"  # escaped


def _one_item_of_each_kind() -> list[PublishedItem]:
    """Items as states/publication.py makes them, with every generated sentence, heading and enumerated fact."""
    day = datetime(2024, 3, 1, tzinfo=timezone.utc)
    return [
        _dialogue_item(6, 14).model_copy(update={"facts": {
            "Country": "MX", "Held on": "2024-01-29", "Organizing agency": "CONADIC", "Public partners": "6",
            "Private partners": "14"}, "country": "MX", "partners": ["Química Andina S.A."]}),
        PublishedItem(engagement_id=20, kind="swg_presentation", title="Alertas de precursores", published_at=day,
                      lead=Phrase.of(_PRESENTED, 1, partners="Química Andina S.A.", topic="Alertas"),
                      facts={"Sub-Working Group": "2.2 Intercambio", "Meeting": "Sesión de febrero",
                             "Date": "2024-02-20/2024-02-21", "Location": "Viena", "Topic": "Alertas"}),
        PublishedItem(engagement_id=21, kind="alliance_meeting", title="Alianza", published_at=day,
                      facts={"Focus": "FATF", "Organized by": "UNODC"},
                      sections=[Section(title="Commitments", entries=["Informes compartidos"])]),
        PublishedItem(engagement_id=22, kind="private_sector_forum", title="Foro bancario", published_at=day,
                      facts={"Focus": "Banking-sector forum"}),
        PublishedItem(engagement_id=23, kind="toolkit_launch", title="Caja de herramientas", published_at=day,
                      links=["https://example.org/toolkit"]),
        PublishedItem(engagement_id=24, kind="website_submission", title="Vídeo", published_at=day,
                      facts={"Format": "Video", "Received on": "2024-02-28"}),
        PublishedItem(engagement_id=25, kind="recommendation", title="Recomendación", published_at=day,
                      facts={"Topic": "Information sharing", "Coalition deliverable": "Yes"}),
        PublishedItem(engagement_id=26, kind="achievement", title="Logro", published_at=day,
                      facts={"Received via": "mailbox", "In the final report": "No"}),
    ]


@pytest.mark.parametrize("language", TRANSLATED)
def test_item_pages_in_spanish_and_french_hold_no_english_sentence(tmp_path: Path, language: str) -> None:
    publish(tmp_path, _one_item_of_each_kind())
    pages = sorted((tmp_path / language).rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        visible = _visible(page.read_text("utf-8"))
        assert [sentence for sentence in _english_sentences() if sentence in visible] == [], page
