"""The message catalogs (locale/<lang>.po): complete, current, consistent; and mails that leak no English.

One catalog per language serves the site, the report and the mails. These tests read it as a
translator would (every msgid translated, no fuzzy entry, the same placeholders), compare it with
what ``pybabel extract`` finds in the code (what `make catalogs` would add or drop), render every
mail in Spanish and French looking for any English sentence of the catalog, and check plurals and
dates per language.
"""

from __future__ import annotations

import email.message
import html
import json
import mailbox
import re
from datetime import date, datetime, timedelta, timezone
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import httpx
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from fastapi.testclient import TestClient

from sqlalchemy import select

from models import OutboxMessage, PendingSubmission
from models.db import Database
from models.enums import EngagementKind, NotificationType, Role
from notifications.templates import render_message
from portal.app import create_app
from settings import Settings
from states import opt_outs
from states.approvals import ApprovalStatus, CoChairVote
from states.clock import SimulatedClock
from states.errors import EngageError, InputError
from states.inputs import DETAILS_SCHEMAS, parse
from states.intake import SubmissionForm
from states.sweep import run_sweep
from states.workflow import apply_transition
from states.publication import _CONVENED, _PRESENTED, _PRIVATE_PARTNERS, _PUBLIC_PARTNERS
from states.sign_in import WHAT
from website import PublishedItem, publish
from website.i18n import LOCALE_DIR, Phrase, long_date, long_datetime, translations
from tests.portal.portal_world import BASE_URL, PortalWorld, awaiting_approval, csrf_of
from notifications.dispatcher import dispatch_pending
from portal.web import say
from states import intake
from states.directory import ImportReport, LineProblem, load_reference, upsert_contact
from states.inputs import ContactInput
from report.figures import year_figures
from report.render import charts, render_html
from tests.report_year import build_year
from tests.world import (
    CANADA_CHAIR, FRANCE_CHAIR, META, MEXICO, REPORT, SECRETARIAT, SYSTEM, clock_at, new_engagement, seeded,
)
from tests.world import awaiting_approval as awaiting_approval_of
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


# --- The portal: every page, each refusal and each form with errors, in Spanish and French.

_ENGLISH_ELEMENT = re.compile(r'<(\w+)[^>]*\slang="en"[^>]*>.*?</\1>', re.S)
SENDER = {"organization": "Atlantique Maritime", "email": "cdubois@atlantique-maritime.example",
          "title": "Partager les alertes"}


@pytest.fixture
def portal_world(sqlite_db: Database, tmp_path: Path) -> Iterator[PortalWorld]:
    """The portal over the test world on SQLite (the words of a page do not depend on the database)."""
    seeded(sqlite_db)
    settings = Settings(data_dir=tmp_path, database_url=sqlite_db.url, secret_key="test-key-" + "x" * 40,
                        public_base_url=BASE_URL)
    clock = clock_at(2024, 4, 10)
    with TestClient(create_app(settings, sqlite_db, clock), base_url=BASE_URL) as client:
        yield PortalWorld(sqlite_db, settings, clock, client)


def _portal_pages(world: PortalWorld, language: str) -> dict[str, httpx.Response]:
    """Every kind of portal page, as a reader of ``language`` gets it (the switch sets the language cookie)."""
    client, pages = world.client, {}
    for path in ("/", "/submit", "/submit/recommendation", "/submit/achievement", "/submit/material", "/signin"):
        pages[path] = client.get(f"{path}?lang={language}")
    token = csrf_of(pages["/signin"].text)
    pages["form with errors"] = client.post("/submit/recommendation", data={
        "csrf": token, "organization": "", "email": "pas-une-adresse", "title": "ab", "topic": "", "text": ""})
    pages["material with errors"] = client.post("/submit/material", data={
        "csrf": token, **SENDER, "media": "video", "url": "ftp://videos.example/a", "summary": "Vidéo"})
    pages["no csrf"] = client.post("/submit/achievement", data={**SENDER, "summary": "x"})
    pages["too large"] = client.post("/signin", content=b"email=" + b"x" * 70_000,
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    pages["no such form"] = client.get("/submit/nothing")
    pages["no such page"] = client.get("/nothing/here")
    pages["forged link"] = client.get("/a/" + "x" * 43)
    pages["forged unsubscribe"] = client.get("/unsubscribe/abc." + "0" * 32)
    pages["received"] = client.post("/submit/achievement", data={**SENDER, "csrf": token, "summary": "Un succès"})
    confirm = world.link_of(SENDER["email"], "submission_confirmation")
    pages["confirm"] = client.get(confirm)
    pages["confirmed"] = client.post(confirm, data={"csrf": csrf_of(pages["confirm"].text), "action": "confirm"})
    pages["confirmed again"] = client.post(confirm, data={"csrf": csrf_of(pages["confirm"].text), "action": "confirm"})
    awaiting_approval(world)
    decide = world.link_of("swg22.france@cochairs.example")
    pages["decide"] = client.get(decide)
    token = csrf_of(pages["decide"].text)
    pages["decided"] = client.post(decide, data={"csrf": token, "action": "approve"})
    pages["used link"] = client.post(decide, data={"csrf": token, "action": "decline"})
    other = world.link_of("swg22.unodc@cochairs.example")
    pages["decided: approved"] = client.post(other, data={"csrf": token, "action": "approve"})
    invitation = world.link_of("policy@meta.example", "invitation")
    pages["invitation"] = client.get(invitation)
    pages["invitation accepted"] = client.post(invitation, data={"csrf": token, "action": "accept"})
    pending = awaiting_approval(world, title="Prévention en ligne")
    unsubscribe = opt_outs.unsubscribe_token(world.settings.signing_key(), "policy@meta.example", "decision",
                                             world.clock.now() + timedelta(days=30))
    pages["unsubscribe"] = client.get(f"/unsubscribe/{unsubscribe}")
    pages["unsubscribed"] = client.post(f"/unsubscribe/{unsubscribe}")
    dialogue = new_engagement(world.db, "national_dialogue", world.clock)
    for trigger in ("convene", "hold"):
        apply_transition(world.db, dialogue, trigger, MEXICO, clock=world.clock, settings=world.settings)
    world.clock.advance(timedelta(days=15))
    run_sweep(world.db, world.clock, settings=world.settings)
    report = world.link_of("enlace@conadic-mx.example", "reminder")
    pages["report"] = client.get(report)
    pages["report with errors"] = client.post(report, data={
        "csrf": csrf_of(pages["report"].text), "action": "submit_report", "held_on": "hier", "organizing_agency": "",
        "public_partners": "quatre", "private_partners": "-1"})
    pages["report in the future"] = client.post(report, data={  # a rule of the lifecycle refuses (a guard)
        "csrf": csrf_of(pages["report"].text), "action": "submit_report", "held_on": "2031-01-01",
        "organizing_agency": "CONADIC", "public_partners": "4", "private_partners": "9"})
    elsewhere = awaiting_approval(world, title="Alertes portuaires", swg_code="1.1")
    for email, path in (("swg22.france@cochairs.example", "/pending"), (world.settings.secretariat_email, "/board")):
        asked = client.post("/signin", data={"csrf": csrf_of(client.get("/signin").text), "email": email})
        pages[f"sign-in asked ({path})"] = asked
        link = world.link_of(email, "sign_in")
        pages[f"sign-in link ({path})"] = client.get(link)
        client.post(link, data={"csrf": csrf_of(pages[f"sign-in link ({path})"].text)})
        pages[path] = client.get(path)
        if path == "/pending":
            token = csrf_of(pages[path].text)
            pages["pending: not a decision"] = client.post(f"{path}/{pending}", data={"csrf": token, "action": "maybe"})
            pages["pending: decided"] = client.post(f"{path}/{pending}", data={"csrf": token, "action": "decline"})
            pages["pending: another SWG"] = client.post(f"{path}/{elsewhere}", data={"csrf": token, "action": "approve"})
            pages["desk: not staff"] = client.get("/desk")
        else:
            pages.update(_desk_pages(world, dialogue))
        pages[f"used sign-in link ({path})"] = client.post(link, data={"csrf": csrf_of(client.get("/signin").text)})
    world.clock.advance(timedelta(days=world.settings.link_lifetime_days + 1))
    pages["expired link"] = client.get(report)
    for _ in range(6):
        pages["too many attempts"] = client.post("/signin", data={"csrf": csrf_of(client.get("/signin").text),
                                                                  "email": "x@y.example"})
    world.clock.set(datetime(2024, 12, 1, tzinfo=timezone.utc))
    pages["closed window"] = client.get("/submit/recommendation")
    return pages


def _desk_pages(world: PortalWorld, dialogue: int) -> dict[str, httpx.Response]:
    """The Secretariat's desk, every page and each kind of refusal, for the signed-in staff member."""
    client, pages = world.client, {}
    for path in ("/desk", "/desk/engagements", "/desk/engagements?overdue=1", f"/desk/engagements/{dialogue}",
                 "/desk/new", "/desk/new/national_dialogue", "/desk/new/website_submission", "/desk/directory",
                 "/desk/directory/1", "/desk/report"):
        pages[path] = client.get(path)
    for kind in EngagementKind:  # each lifecycle's title, state description and steps
        engagement = new_engagement(world.db, kind.value, world.clock)
        pages[f"desk: a {kind.value}"] = client.get(f"/desk/engagements/{engagement}")
        pages[f"desk: new {kind.value}"] = client.get(f"/desk/new/{kind.value}")
    token = csrf_of(pages["/desk"].text)
    pages["desk: step refused"] = client.post(f"/desk/engagements/{dialogue}/steps/publish",
                                              data={"csrf": token, "comment": ""})
    pages["desk: creation refused"] = client.post("/desk/new/swg_presentation", data={
        "csrf": token, "title": "Alertes", "swg_code": "1.3", "organization_0": "Meta", "role_0": "presenter",
        "details.topic": "Alertes portuaires"})
    pages["desk: organization refused"] = client.post("/desk/directory", data={
        "csrf": token, "org.name": "Banque du Nord", "org.type": "partner"})
    pages["desk: import refused"] = client.post("/desk/directory/import", data={"csrf": token, "csv": (
        "name,industry,country,contact_name,contact_email\n"
        "Acme,plastics,DE\nAcme,chemical,DE,Ann,ann@acme.example\nBeta,chemical,NL,Ann,ann@acme.example\n"
        "Gamma,chemical,FR,Eve,policy@meta.example\nDelta,chemical,NL,a,b,c,d\n")})
    pages["desk: import header refused"] = client.post("/desk/directory/import", data={
        "csrf": token, "csv": "name,name,colour\n"})
    pages["desk: empty import"] = client.post("/desk/directory/import", data={"csrf": token, "csv": ""})
    pages["desk: no such job"] = client.post("/desk/jobs/nothing", data={"csrf": token})
    pages["desk: no such engagement"] = client.get("/desk/engagements/9999")
    pages["desk: report refused"] = client.post("/desk/report", data={"csrf": token, "language": "xx"})
    pages["desk: imported"] = client.post("/desk/directory/import", data={"csrf": token, "csv": (
        "name,industry,country,contact_name,contact_email\nFarmacia Norte,pharmaceuticals,MX,Rosa,rosa@farmacia.example\n")})
    for job in ("dispatch", "sweep", "publish"):  # each job's summary, then the table of last runs
        pages[f"desk: {job} run"] = client.post(f"/desk/jobs/{job}", data={"csrf": token})
    return pages


@pytest.mark.parametrize("language", TRANSLATED)
def test_portal_pages_in_spanish_and_french_hold_no_english_sentence(portal_world: PortalWorld, language: str) -> None:
    pages = _portal_pages(portal_world, language)
    statuses = {name: page.status_code for name, page in pages.items()}
    assert statuses["too many attempts"] == 429 and statuses["form with errors"] == 422 and statuses["used link"] == 409
    assert statuses["report with errors"] == 422 and statuses["closed window"] == 200 and statuses["/board"] == 200
    assert statuses["expired link"] == 410 and statuses["forged unsubscribe"] == 404
    assert statuses["invitation"] == statuses["invitation accepted"] == statuses["pending: decided"] == 200
    assert statuses["pending: not a decision"] == 422 and "Prévention en ligne" in pages["/pending"].text
    assert statuses["too large"] == 413 and " 64 Ki" in pages["too large"].text
    assert statuses["report in the future"] == 409 and "2031-01-01" in pages["report in the future"].text
    assert statuses["pending: another SWG"] == 403 and "SGT 1.1" in pages["pending: another SWG"].text
    assert statuses["desk: not staff"] == 403 and statuses["/desk"] == 200 and statuses["desk: step refused"] == 409
    assert statuses["desk: creation refused"] == 404 and statuses["desk: organization refused"] == 422
    assert statuses["desk: no such job"] == statuses["desk: no such engagement"] == 404
    assert statuses["desk: import refused"] == statuses["desk: import header refused"] == 422
    assert "ann@acme.example" in pages["desk: import refused"].text
    assert {statuses[f"desk: a {kind.value}"] for kind in EngagementKind} == {200}
    assert statuses["desk: imported"] == 200 and "Farmacia Norte" not in pages["desk: imported"].text.split("<form")[0]
    for name, page in pages.items():
        html_page = page.headers["content-type"].startswith("text/html")
        assert f'<html lang="{language}">' in page.text or not html_page, name
        visible = _visible(_ENGLISH_ELEMENT.sub(" ", page.text))
        assert [sentence for sentence in _english_sentences() if sentence in visible] == [], (name, visible)


def _engine_refusals(db: Database) -> dict[str, EngageError]:
    """One refusal of each kind the engine raises (its seams, against the real database)."""
    seeded(db)
    clock = clock_at(2024, 2, 1)
    settings = Settings(database_url=db.url, secret_key="test-key-" + "x" * 40)
    dialogue = new_engagement(db, "national_dialogue", clock)
    for trigger in ("convene", "hold"):
        apply_transition(db, dialogue, trigger, MEXICO, clock=clock)
    presentation = awaiting_approval_of(db, clock, swg="2.2")
    attempts: dict[str, Callable[[], object]] = {
        "not a step": lambda: apply_transition(db, dialogue, "fly", SECRETARIAT, clock=clock),
        "not from this state": lambda: apply_transition(db, dialogue, "publish", SECRETARIAT, clock=clock),
        "not this role": lambda: apply_transition(db, dialogue, "submit_report", META, clock=clock),
        "not a contact": lambda: apply_transition(db, dialogue, "submit_report", {
            "role": "national_authority", "identity": "oncb@thailand-gov.example"}, clock=clock),
        "guard": lambda: apply_transition(db, dialogue, "submit_report", MEXICO, clock=clock),
        "takes no data": lambda: apply_transition(db, dialogue, "cancel", SECRETARIAT, comment="x",
                                                  data={"x": 1}, clock=clock),
        "stale version": lambda: apply_transition(db, dialogue, "cancel", SECRETARIAT, comment="x",
                                                  expected_version=1, clock=clock),
        "key used elsewhere": lambda: apply_transition(db, presentation, "approve", FRANCE_CHAIR, clock=clock,
                                                       idempotency_key=_used_key(db, dialogue, clock)),
        "co-chair of another SWG": lambda: apply_transition(db, presentation, "approve", CANADA_CHAIR, clock=clock),
        "not a co-chair": lambda: apply_transition(db, presentation, "approve", {
            "role": "co_chair", "identity": "someone@else.example"}, clock=clock),
        "no such engagement": lambda: apply_transition(db, 9999, "hold", SECRETARIAT, clock=clock),
        "no such SWG": lambda: new_engagement(db, "swg_presentation", clock, swg_code="1.3"),
        "no such organization": lambda: new_engagement(db, "swg_presentation", clock, participants=[
            {"organization": "Nowhere Ltd", "role": "presenter"}]),
        "window closed": lambda: _late_recommendation(db),
        "no claim to accept": lambda: intake.accept_claim(db, dialogue, "staff@coalition.example", clock=clock),
        "no pending submission": lambda: intake.confirm(db, 9999, settings=settings, clock=clock),
        "contact of another organization": lambda: _move_contact(db),
        "no organization of that name": lambda: _contact_of(db, "Nowhere Ltd", "someone@nowhere.example"),
    }
    claimed = _claim(db, settings, clock, "eve@snap-lookalike.example", "Snap Inc.")
    _contact_of(db, "Meta", "eve@snap-lookalike.example")  # the directory names the claimant elsewhere meanwhile
    attempts["claimant of another organization"] = lambda: intake.accept_claim(db, claimed, "staff@coalition.example",
                                                                               clock=clock)
    accepted = _claim(db, settings, clock, "mallory@snap-lookalike.example", "Snap Inc.")
    intake.accept_claim(db, accepted, "staff@coalition.example", clock=clock)
    attempts["claim already accepted"] = lambda: intake.accept_claim(db, accepted, "staff@coalition.example",
                                                                     clock=clock)
    refusals = {}
    for name, attempt in attempts.items():
        with pytest.raises(EngageError) as refused:
            attempt()
        refusals[name] = refused.value
    return refusals


def _claim(db: Database, settings: Settings, clock: SimulatedClock, email: str, organization: str) -> int:
    """A website recommendation sent by ``email`` for ``organization``, confirmed: its engagement carries a claim."""
    intake.receive(db, "recommendation", {"organization": organization, "title": "Alertas", "email": email},
                   {"topic": "information_sharing", "text": "Alertas"}, language="es", settings=settings, clock=clock)
    with db.transaction() as session:
        pending = session.scalars(select(PendingSubmission.id).where(PendingSubmission.email == email)
                                  .order_by(PendingSubmission.id.desc())).first()
    return intake.confirm(db, pending, settings=settings, clock=clock).engagement_id


def _contact_of(db: Database, organization: str, email: str) -> None:
    with db.transaction() as session:
        upsert_contact(session, ContactInput(organization=organization, name="Ann", email=email))


def _move_contact(db: Database) -> None:
    """Meta's contact named again as a contact of another organization."""
    _contact_of(db, "Snap Inc.", "policy@meta.example")


def _used_key(db: Database, dialogue: int, clock: SimulatedClock) -> str:
    apply_transition(db, dialogue, "submit_report", MEXICO, data=REPORT, clock=clock, idempotency_key="report-19")
    return "report-19"


def _late_recommendation(db: Database) -> None:
    """A recommendation received after its window closed (the guard of its submission)."""
    late = clock_at(2025, 6, 1)
    engagement = new_engagement(db, "recommendation", late)
    apply_transition(db, engagement, "submit", SYSTEM, clock=late)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_engines_refusals_are_said_in_spanish_and_french(db: Database, language: str) -> None:
    refusals = _engine_refusals(db)
    for name, refusal in refusals.items():
        assert refusal.phrase is not None, (name, str(refusal))  # a message, not an English sentence
        said = _visible(str(say(refusal, language)))
        assert said != str(refusal) and [s for s in _english_sentences() if s in said] == [], (name, said)
    # The CLI and the logs keep the English sentence.
    assert "'fly' is not a step of a national dialogue" in str(refusals["not a step"])
    assert "is a co-chair of SWG 1.1, not of SWG 2.2" in str(refusals["co-chair of another SWG"])
    assert "changed since you saw it (version 1, now 3, state 'held')" in str(refusals["stale version"])
    first = {"es": "«fly» no es un paso de un diálogo nacional", "fr": "«\u00a0fly\u00a0» n'est pas une étape d'un dialogue"}
    assert str(say(refusals["not a step"], language)).startswith(first[language])


@pytest.mark.parametrize(("language", "rows", "expected"), [
    ("en", 1, "1 problem in 1 row; nothing was imported"), ("en", 2, "2 problems in 2 rows; nothing was imported"),
    ("es", 1, "1 problema en 1 fila; no se importó nada"), ("es", 2, "2 problemas en 2 filas; no se importó nada"),
    ("fr", 1, "1 problème dans 1 ligne\u00a0; rien n'a été importé"),
    ("fr", 2, "2 problèmes dans 2 lignes\u00a0; rien n'a été importé"),
])
def test_an_import_summary_takes_the_plural_of_its_counts(language: str, rows: int, expected: str) -> None:
    report = ImportReport(rows=rows, errors=[LineProblem(Phrase.of("x"))] * rows)
    assert html.unescape(str(report.phrase.html(language))) == expected


def test_the_portal_leak_check_sees_english_when_there_is_some(portal_world: PortalWorld) -> None:
    for path in ("/", "/submit/recommendation"):
        page = portal_world.client.get(f"{path}?lang=en").text
        assert [sentence for sentence in _english_sentences() if sentence in _visible(page)], path
        assert _visible(_ENGLISH_ELEMENT.sub(" ", page)).strip() == ""  # an English page is English as a whole


# --- What a form says of each field pydantic refuses, in each language.

@pytest.mark.parametrize(("data", "field", "english", "french"), [
    ({"organization": "", "email": "a@b.example", "title": "Titre"}, "organization",
     "Please fill in this field.", "Veuillez remplir ce champ."),
    ({"organization": "Acme", "email": "a@b.example", "title": "ab"}, "title",
     "Please write at least 3 characters.", "Veuillez écrire au moins 3\u00a0caractères."),
    ({"organization": "Acme", "email": "a@b.example", "title": "x" * 301}, "title",
     "Please write at most 300 characters.", "Veuillez écrire au plus 300\u00a0caractères."),
    ({"organization": "Acme", "email": "nobody", "title": "Titre"}, "email",
     "Please enter a valid e-mail address (name@example.org).", "Veuillez saisir une adresse électronique valide"),
    ({"organization": "Acme", "title": "Titre"}, "email", "Please fill in this field.", "Veuillez remplir ce champ."),
])
def test_each_refused_field_gets_its_own_message_in_each_language(
    data: dict[str, str], field: str, english: str, french: str,
) -> None:
    with pytest.raises(InputError) as refused:
        parse(SubmissionForm, data)
    [problem] = refused.value.problems
    assert problem.field == field
    assert problem.phrase.html("en") == english and problem.phrase.html("fr").startswith(french.replace("\u00a0", " "))


def test_url_scheme_and_choices_are_named_at_their_fields() -> None:
    with pytest.raises(InputError) as refused:
        parse(DETAILS_SCHEMAS["website_submission"], {"media": "film", "url": "ftp://x.example/a", "summary": "s"},
              "details.")
    said = {problem.field: problem.phrase.html("es") for problem in refused.value.problems}
    assert said == {"details.media": "Elija una de las opciones.",
                    "details.url": "El enlace debe empezar por http:// o https://."}


@pytest.mark.parametrize(("votes", "quorum", "english", "french"), [
    (1, 1, "1 of 1 co-chair must approve", "il faut l'approbation de 1 coprésident sur 1"),
    (3, 2, "2 of 3 co-chairs must approve", "il faut l'approbation de 2 coprésidents sur 3"),
])
def test_a_quorum_policy_takes_the_plural_of_its_count(votes: int, quorum: int, english: str, french: str) -> None:
    status = ApprovalStatus(engagement_id=1, title="T", state="awaiting_approval", version=1, swg_code="2.2",
                            swg_title=None, policy="quorum", quorum=quorum, meeting=None, topic=None,
                            votes=[CoChairVote(f"C{n}", f"c{n}@x.example", None, None) for n in range(votes)])
    assert status.policy_text == english and status.policy_phrase.html("fr") == french


# --- Reference data in each language: the SWG titles.

FRENCH_SWG = "Partage d'informations, collaboration interinstitutionnelle et élaboration des politiques"
SPANISH_SWG = "Intercambio de información, colaboración interinstitucional y formulación de políticas"


def test_swg_titles_reach_mails_and_pages_in_the_readers_language(portal_world: PortalWorld) -> None:
    world = portal_world
    engagement = awaiting_approval(world)  # SWG 2.2: a French-speaking and an English-speaking co-chair
    with world.db.transaction() as session:
        asked = {row.recipient_address: row.context["swg_title"] for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.engagement_id == engagement,
                                        OutboxMessage.notification_type == "approval_request"))}
    assert asked == {"swg22.france@cochairs.example": FRENCH_SWG,
                     "swg22.unodc@cochairs.example": "Information sharing, interagency collaboration and policy formulation"}
    french = _visible(render_message("approval_request", "fr", _BASE | {"swg_title": FRENCH_SWG}).text)
    assert f"2.2 ({FRENCH_SWG})" in french
    page = world.client.get(world.link_of("swg22.france@cochairs.example"))
    assert f"2.2 {FRENCH_SWG}" in html.unescape(page.text) and 'lang="en">Information sharing' not in page.text
    assert SPANISH_SWG in html.unescape(world.client.get(world.link_of("swg22.france@cochairs.example") + "?lang=es").text)


@pytest.mark.parametrize(("language", "title"), [("en", "2.2 Information sharing"), ("es", "2.2 Intercambio de"),
                                                 ("fr", "2.2 Partage d'informations")])
def test_a_published_presentation_names_its_swg_in_the_pages_language(tmp_path: Path, language: str, title: str) -> None:
    item = _one_item_of_each_kind()[1]
    facts = item.facts | {"Sub-Working Group": {"en": "2.2 Information sharing", "es": f"2.2 {SPANISH_SWG}",
                                               "fr": f"2.2 {FRENCH_SWG}"}}
    publish(tmp_path, [item.model_copy(update={"facts": facts})])
    folder = tmp_path / ("" if language == "en" else language)
    assert title in html.unescape((folder / "swg_presentation/20.html").read_text("utf-8"))


# --- The report, and the counts of the site and the report, in each language.

@pytest.mark.parametrize("language", TRANSLATED)
def test_the_report_in_spanish_and_french_holds_no_english_sentence(sqlite_db: Database, language: str) -> None:
    build_year(sqlite_db)
    figures = year_figures(sqlite_db, 2024)
    page = render_html(figures, language, generated_on=date(2025, 1, 20))
    visible = _visible(_ENGLISH_ELEMENT.sub(" ", page))
    assert len(visible) > 2000 and [s for s in _english_sentences() if s in visible] == []
    # The chart and its table name each Sub-Working Group alike.
    chart = charts(figures, language)["swg"]
    for row in figures.swg_presentations:
        name = translations(language).gettext("SWG %(swg)s") % {"swg": row.swg}
        assert name.startswith("SGT ") and name in chart.svg and f"<td>{name}<br><small>{row.titles[language]}</small></td>" in html.unescape(page)
        assert row.titles[language] != row.titles["en"]  # the SWG's title in the report's language
        assert f"{name}: " in chart.alternative.replace("\u00a0:", ":")


#: Each count's words for 0, 1 and 2, by language (French counts 0 as singular).
PLURALS = [
    (("%(num)s dialogue", "%(num)s dialogues"), {"es": ("0 diálogos", "1 diálogo", "2 diálogos"),
                                                 "fr": ("0 dialogue", "1 dialogue", "2 dialogues")}),
    (("%(num)s partner", "%(num)s partners"), {"es": ("0 socios", "1 socio", "2 socios"),
                                               "fr": ("0 partenaire", "1 partenaire", "2 partenaires")}),
    (("%(num)s result for “%(query)s”", "%(num)s results for “%(query)s”"),
     {"es": ("0 resultados para «x»", "1 resultado para «x»", "2 resultados para «x»"),
      "fr": ("0 résultat pour «\u00a0x\u00a0»", "1 résultat pour «\u00a0x\u00a0»", "2 résultats pour «\u00a0x\u00a0»")}),
    (("%(num)s proposed", "%(num)s proposed"), {"es": ("0 propuestas", "1 propuesta", "2 propuestas"),
                                                "fr": ("0 proposée", "1 proposée", "2 proposées")}),
    (("%(num)s submission arrived after its window had closed and was refused.",
      "%(num)s submissions arrived after their window had closed and were refused."),
     {"es": ("0 envíos llegaron", "1 envío llegó", "2 envíos llegaron"),
      "fr": ("0 soumission est arrivée", "1 soumission est arrivée", "2 soumissions sont arrivées")}),
]


@pytest.mark.parametrize(("message", "expected"), PLURALS)
@pytest.mark.parametrize("language", TRANSLATED)
def test_site_and_report_counts_take_their_plural_for_0_1_2(message: tuple[str, str], expected: dict[str, tuple[str, ...]],
                                                             language: str) -> None:
    for count, words in enumerate(expected[language]):
        text = translations(language).ngettext(*message, count) % {"num": count, "query": "x"}
        assert text.startswith(words), text


@pytest.mark.parametrize(("language", "one", "other"), [
    ("en", "{count} result for “{query}”", "{count} results for “{query}”"),
    ("es", "{count} resultado para «{query}»", "{count} resultados para «{query}»"),
    ("fr", "{count} résultat pour «\u00a0{query}\u00a0»", "{count} résultats pour «\u00a0{query}\u00a0»"),
])
def test_the_sites_search_says_its_count_in_the_pages_language(tmp_path: Path, language: str, one: str, other: str) -> None:
    publish(tmp_path, _one_item_of_each_kind())
    search = html.unescape((tmp_path / ("" if language == "en" else language) / "search.html").read_text("utf-8"))
    assert f'data-one="{one}"' in search and f'data-other="{other}"' in search
    assert not [path for path in (ROOT / "website/templates").glob("*.html") if "(s)" in path.read_text("utf-8")]


def test_the_secretariat_signs_in_the_recipients_language(db: Database, sink: int, maildir: Path) -> None:
    seeded(db)
    load_reference(db, {"organizations": [], "working_groups": [], "sub_working_groups": [], "windows": [],
                        "secretariat_signatures": {"fr": "Le Secrétariat de la Coalition mondiale"}})
    clock = clock_at(2024, 2, 1)
    awaiting_approval_of(db, clock, swg="2.2")  # a French-speaking and an English-speaking co-chair
    delivery = dispatch_pending(db, clock=clock, settings=Settings(smtp_port=sink, smtp_timeout_seconds=5))
    assert delivery.dead == 0 and delivery.sent == delivery.claimed == 2, delivery
    bodies = {message["To"].split("<")[-1].rstrip(">"): _visible(_mail_text(message))
              for message in mailbox.Maildir(maildir, create=False)}
    assert "Le Secrétariat de la Coalition mondiale" in bodies["swg22.france@cochairs.example"]
    assert "Global Coalition Secretariat" in bodies["swg22.unodc@cochairs.example"]  # English: settings' name


def _mail_text(message: email.message.Message) -> str:
    part = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
