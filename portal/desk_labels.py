"""The words the desk shows for the engine's stored values (kinds, states, roles, steps, channels), in the
staff member's language, through the one catalog; dates and times written by Babel."""

from __future__ import annotations

import re
from datetime import date, datetime

from markupsafe import Markup

from portal.model_forms import label_of
from states.lifecycles import get_lifecycle
from states.words import WORDS
from states.form_messages import OTHER
from website.i18n import LANGUAGE_NAMES, N_, Phrase, long_date, long_datetime, translations

KINDS = {
    "national_dialogue": N_("National dialogue"), "swg_presentation": N_("SWG presentation"),
    "alliance_meeting": N_("Prevent Alliance meeting"), "toolkit_launch": N_("Toolkit launch"),
    "website_submission": N_("Website submission"), "recommendation": N_("Recommendation"),
    "achievement": N_("Achievement"), "private_sector_forum": N_("Private-sector forum"),
}
ROLES = {"secretariat": N_("Secretariat"), "co_chair": N_("Co-chairs"), "partner": N_("Partner"),
         "national_authority": N_("National authority"), "system": N_("System")}
PEOPLE = {"secretariat": N_("Secretariat staff"), "co_chair": N_("Co-chair"), "partner": N_("Partner"),
          "national_authority": N_("National authority"), "system": N_("Automatic")}
CHANNELS = {"cli": N_("Command line"), "flow": N_("Scheduled flow"), "prefect_ui": N_("Prefect form"),
            "email_link": N_("E-mail link"), "mailbox": N_("Mailbox"), "website": N_("Desk or portal"),
            "import": N_("Import")}
MAIL_STATUS = {"pending": N_("Waiting to be sent"), "sending": N_("Being sent"), "sent": N_("Sent"),
               "dead": N_("Failed for good"), "suppressed": N_("Not sent (opted out)")}
INDUSTRIES = {
    "chemical": N_("Chemical"), "shipping": N_("Shipping"), "consignment": N_("Consignment"),
    "social_media": N_("Social media"), "e_commerce": N_("E-commerce"), "banking": N_("Banking"),
    "artificial_intelligence": N_("Artificial intelligence"), "pharmaceuticals": N_("Pharmaceuticals"),
    "transportation": N_("Transportation"), "financial": N_("Financial"), "other": N_("Other"),
}
#: The other choices of the desk's forms (organization types, languages, forum focus), by their code.
CHOICES = INDUSTRIES | {
    "government": N_("Government"), "international_organization": N_("International organization"),
    "en": N_("English"), "es": N_("Spanish"), "fr": N_("French"), "fatf": N_("FATF"),
    "banking_forum": N_("Banking forum"),
}
#: The labels of the desk's form fields (``model_forms.label_of`` of the input models' field names).
FIELDS = (
    N_("Address (URL)"), N_("Areas of discussion"), N_("Closes on"), N_("Commitments"), N_("Country"),
    N_("Early deadline"), N_("Email"), N_("Focus"), N_("Held on"), N_("Industry"), N_("Kind"), N_("Language"),
    N_("Media"), N_("Name"), N_("Narrative"), N_("Opens on"), N_("Opt outs"), N_("Organization"),
    N_("Organizing agency"), N_("Planned on"), N_("Private partners"), N_("Public partners"), N_("Purpose"),
    N_("Received via"), N_("Recommendations"), N_("Region"), N_("Summary"), N_("Text"), N_("Topic"), N_("Type"),
)
SORTS = {"oldest": N_("Waiting longest"), "newest": N_("Changed last"), "title": N_("Title"),
         "due": N_("Next deadline"), "created": N_("Created last")}
JOBS = {"dispatch": N_("Send the waiting mail"), "sweep": N_("Send due reminders and expire what is overdue"),
        "publish": N_("Republish the website")}
NOTICES = {
    "invitation": N_("Invitation"), "approval_request": N_("Approval request"), "reminder": N_("Reminder"),
    "escalation": N_("Escalation"), "decision": N_("Decision"), "publication_notice": N_("Publication notice"),
    "window_closing": N_("Window closing"), "dialogue_report_received": N_("Dialogue report received"),
    "submission_confirmation": N_("Submission confirmation"), "sign_in": N_("Sign-in link"),
}


class Labels:
    """The desk's words in ``language`` (a template's ``L``)."""

    def __init__(self, language: str) -> None:
        self.lang = language
        self._ = translations(language).gettext

    def _in(self, table: dict[str, str], value: str | None) -> str:
        code = value or ""
        return self._(table[code]) if code in table else self.code(code)

    def code(self, value: str) -> str:
        """A stored code named by the catalog (``states/words.py``), capitalized; else its name with spaces."""
        text = self._(WORDS[value]) if value in WORDS else label_of(value)
        return text[:1].upper() + text[1:]

    def english(self, text: str) -> Markup | str:
        """Text the engine keeps only in English (a delivery error), tagged as such on other pages."""
        return text if self.lang == "en" or not text else Markup('<span lang="en">%s</span>') % text

    def field(self, label: str) -> str:
        """A form field's label (one of ``FIELDS``)."""
        return self._(label)

    def detail(self, key: str) -> str:
        """The name of a detail of an engagement (``topic``, ``held_on``), as its form field is labelled."""
        return self._(label_of(key))

    def notices(self, codes: list[str]) -> str:
        """Notice types (a contact's opt-outs), named and joined."""
        return ", ".join(self.notice(code) for code in codes)

    def opt_outs(self, codes: list[str]) -> str:
        """What a contact opted out of: channels (e-mail, chat) and notice types, named and joined."""
        channels = {"email": N_("e-mail"), "chat": N_("chat")}
        words = channels | WORDS
        return ", ".join(self._(words[code]) if code in words else code for code in codes)

    def choice(self, value: str, text: str) -> str:
        """A choice of a form's select: its code named by the catalog."""
        return self._(CHOICES[value]) if value in CHOICES else self.code(value) if value in WORDS else self._(text)

    @property
    def en(self) -> Markup:
        """The attribute marking an element whose text is English data (a meeting's title) on another page."""
        return Markup("") if self.lang == "en" else Markup(' lang="en"')

    def swg_title(self, swg: object) -> str:
        """An SWG's title in the page's language (its English title where the reference data has no other)."""
        return getattr(swg, f"title_{self.lang}", None) or getattr(swg, "title")

    def kind(self, value: str) -> str:
        return self._in(KINDS, value)

    def state(self, value: str) -> str:
        return self.code(value) if value else self._(N_("(new)"))

    def role(self, value: str | None) -> str:
        return self._in(ROLES, value) if value else self._(N_("Nobody"))

    def person(self, value: str) -> str:
        return self._in(PEOPLE, value)

    def step(self, value: str) -> str:
        return self._(N_("Created")) if value == "create" else self.code(value)

    def channel(self, value: str) -> str:
        return self._in(CHANNELS, value)

    def mail_status(self, value: str) -> str:
        return self._in(MAIL_STATUS, value)

    def notice(self, value: str) -> str:
        return self._in(NOTICES, value)

    def industry(self, value: str | None) -> str:
        return self._in(INDUSTRIES, value)

    def sort(self, value: str) -> str:
        return self._in(SORTS, value)

    def job(self, value: str) -> str:
        return self._in(JOBS, value)

    def refusal(self, error: object) -> Markup | str:
        """Why a desk form was refused: the engine's message, or each field's problem by its label; a rule
        the catalogs do not word (a model validator's) is shown in the engine's English."""
        phrase = error if isinstance(error, Phrase) else getattr(error, "phrase", None)
        if isinstance(phrase, Phrase):
            return phrase.html(self.lang)
        problems = getattr(error, "problems", ())
        if problems and all(problem.phrase.msgid != OTHER for problem in problems):
            return Markup("; ").join(
                Markup("%s: %s") % (self._(label_of(problem.field.split(".")[-1])), problem.phrase.html(self.lang))
                for problem in problems)
        return self.english(str(error))

    def state_description(self, kind_value: str, value: str) -> Markup | str:
        try:
            return self._(get_lifecycle(kind_value).state(value).description)
        except Exception:  # noqa: BLE001 - a stored state no lifecycle declares any more
            return ""

    def day(self, value: date | datetime | None) -> str:
        return long_date(value, self.lang) if value else ""

    def moment(self, value: datetime | None) -> str:
        return long_datetime(value, self.lang) if value else ""

    def language(self, value: str) -> str:
        return LANGUAGE_NAMES.get(value, value)

    def value(self, raw: object) -> str:
        """A stored detail as words: a code ('information_sharing') by its name, a timestamp to the minute,
        a list joined; anything else as it is."""
        if isinstance(raw, str):
            if re.fullmatch(r"[a-z][a-z_]*", raw):
                return self.code(raw)
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}.*", raw):
                return self.moment(datetime.fromisoformat(raw))
            return raw
        if isinstance(raw, list):
            return ", ".join(self.value(item) for item in raw)
        return "" if raw is None else str(raw)
