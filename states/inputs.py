"""pydantic models for everything that enters the engine from outside: CLI, files, forms, flows.

One input policy applies to every text: Unicode is normalised (NFC); control, format and separator
characters (Cc, Cf except ZWNJ/ZWJ, Zl, Zp, NEL) are refused in one-line fields, and in multi-line
fields line breaks are normalised to LF while every other control character (NUL included) is
refused; every text, URL and list has a length limit; integers are strict (no bool, no string) and
bounded to the database's 32-bit INTEGER columns. Whatever is accepted is storable on SQLite and
PostgreSQL and sendable by the mailer.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, time
from zoneinfo import available_timezones
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, StrictInt, StringConstraints, UrlConstraints,
    ValidationError, ValidationInfo, model_validator,
)

from models.enums import (
    EngagementKind, Industry, Language, MeetingKind, NotificationType, OrganizationType, ParticipantRole, RecommendationTopic,
    Role,
)
from states.checks import INT32_MAX, check_id
from states.errors import InputError
from states.form_messages import field_problem
EMAIL_MAX_LENGTH = 150
"""Long enough for real addresses, short enough for the outbox's 200-character dedupe key."""
ALLOWED_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"})
"""ZERO WIDTH NON-JOINER and JOINER: Persian, Indic scripts and emoji sequences need them."""
_LINE_BREAKS = {ord("\r"): "\n", 0x85: "\n", 0x2028: "\n", 0x2029: "\n\n"}
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _refused_character(value: str, allowed: str) -> tuple[int, str] | None:
    """The first character the policy refuses, with its position, or None."""
    if value.isprintable():  # fast path: no Cc, Cf, Cs, Zl, Zp at all
        return None
    for position, char in enumerate(value):
        if char in allowed or char in ALLOWED_FORMAT_CHARACTERS:
            continue
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return position, char
    return None


def _describe_character(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}{f' {name}' if name else ''}"


def clean_line(value: str) -> str:
    """NFC-normalised ``value``, refused if it holds a line break, control, format or separator character."""
    value = unicodedata.normalize("NFC", value)
    if found := _refused_character(value, ""):
        position, char = found
        raise ValueError(
            f"must be a single line without control, format or separator characters (no CR, LF, NEL, U+2028); "
            f"found {_describe_character(char)} at position {position}"
        )
    return value.strip()


def clean_text(value: str) -> str:
    """NFC-normalised multi-line ``value``: CR, CRLF, NEL, U+2028 become LF (U+2029 a blank line);
    tabs are kept; any other control or format character (NUL included) is refused."""
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").translate(_LINE_BREAKS)
    if found := _refused_character(value, "\n\t"):
        position, char = found
        raise ValueError(f"must not contain control or format characters; found {_describe_character(char)} "
                         f"at position {position}")
    return value.strip()


def _text_type(max_length: int, *, min_length: int = 1, multiline: bool = False) -> Any:  # noqa: ANN401 - a type
    """A text field under the policy, its length checked again after normalisation."""
    clean = clean_text if multiline else clean_line

    def check(value: str) -> str:
        value = clean(value)
        if len(value) < min_length:
            raise ValueError(f"must have at least {min_length} character(s) once normalised")
        if len(value) > max_length:
            raise ValueError(f"must have at most {max_length} characters once normalised")
        return value

    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
                     AfterValidator(check)]


def _country(value: str) -> str:
    import pycountry  # its tables load on first use, not when a lifecycle is read

    code = value.strip().upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+"
                            r"[A-Za-z]{2,63})")


def _plain_address(value: str) -> str | None:
    """The normalised form of a plain ASCII address (what ``validate_email`` returns for it), found without
    the cost of a full check; None when the address needs that check (IDN, quoting, special-use domains)."""
    from email_validator import SPECIAL_USE_DOMAIN_NAMES  # loaded on first use: listings need no e-mail check

    match = _PLAIN_ADDRESS.fullmatch(value)
    if match is None or len(value) > 254 or len(match["local"]) > 64 or "xn--" in value.lower():
        return None
    domain = match["domain"].lower()
    if any(label[2:4] == "--" for label in domain.split(".")):  # RFC 5890's reserved "??--" labels
        return None
    if any(domain == name or domain.endswith(f".{name}") for name in SPECIAL_USE_DOMAIN_NAMES):
        return None
    return f"{match['local']}@{domain}"


def _email(value: str) -> str:
    """A normalised address the mailer can send to: ASCII local part, a domain IDNA can encode."""
    value = clean_line(value)
    if plain := _plain_address(value):
        return plain
    from email_validator import EmailNotValidError, validate_email

    try:
        address = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise ValueError(f"value is not a valid email address: {error}") from None
    try:
        address.domain.encode("idna")
    except UnicodeError:
        raise ValueError(f"the domain {address.domain!r} cannot be encoded for SMTP (IDNA)") from None
    return address.normalized


SingleLine = _text_type(200)
Title = _text_type(300, min_length=3)
Region = _text_type(64)
Text = _text_type(20_000, multiline=True)
Comment = _text_type(2_000, min_length=0, multiline=True)
CountryCode = Annotated[str, StringConstraints(max_length=64), AfterValidator(_country)]
SwgCode = Annotated[str, StringConstraints(pattern=r"^[1-3]\.[1-3]$")]


def _time_zone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r}: give an IANA name such as 'Europe/Vienna'")
    return value


TimeZone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), AfterValidator(_time_zone)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=EMAIL_MAX_LENGTH), AfterValidator(_email)]
Url = Annotated[HttpUrl, UrlConstraints(max_length=2_000)]
Id = Annotated[StrictInt, Field(ge=1, le=INT32_MAX)]
Count = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]


class Strict(BaseModel):
    """Unknown fields are refused, strings are trimmed; validators are built on first use, not at import."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


ModelT = TypeVar("ModelT", bound=BaseModel)


def describe(error: ValidationError, where: str = "") -> str:
    """One line per failing field: ``field: message``."""
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "input"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{where}{field}: {message}")
    return "; ".join(lines)


def parse(model: type[ModelT], data: Any, where: str = "", *, language: str | None = None) -> ModelT:
    """Validate ``data`` as ``model``, raising ``InputError`` that names each bad field.

    ``language`` is the language of the form the data came from: partner text without a
    ``language`` of its own is taken to be written in it.
    """
    try:
        return model.model_validate(data, context={"language": language} if language else None)
    except ValidationError as error:
        raise InputError(describe(error, where),
                         problems=tuple(field_problem(problem, where) for problem in error.errors())) from None


class Actor(Strict):
    """Who fires a trigger: a role, and an identity (an e-mail for people, a name for the system)."""

    role: Role
    identity: SingleLine

    @model_validator(mode="after")
    def _people_are_emails(self) -> Actor:
        if self.role in {Role.CO_CHAIR, Role.PARTNER, Role.NATIONAL_AUTHORITY} and "@" not in self.identity:
            raise ValueError(f"a {self.role.value} is identified by e-mail address, got {self.identity!r}")
        self.identity = self.identity.lower() if "@" in self.identity else self.identity
        return self


class OrganizationInput(Strict):
    name: SingleLine
    type: OrganizationType
    industry: Industry | None = None
    country: CountryCode | None = None
    region: Region | None = None

    @model_validator(mode="after")
    def _partners_have_industry(self) -> OrganizationInput:
        if self.type == OrganizationType.PARTNER and self.industry is None:
            raise ValueError("a partner organization needs an industry")
        return self


class ContactInput(Strict):
    organization: SingleLine
    name: SingleLine
    email: Email
    language: Language = Language.EN
    opt_outs: list[Literal["email", "chat"] | NotificationType] = Field(default_factory=list, max_length=20)


class PartnerRow(Strict):
    """One row of a partner CSV: the organization and, optionally, one contact."""

    name: SingleLine
    industry: Industry
    country: CountryCode
    region: Region | None = None
    contact_name: SingleLine | None = None
    contact_email: Email | None = None
    contact_language: Language = Language.EN

    @model_validator(mode="after")
    def _contact_complete(self) -> PartnerRow:
        if (self.contact_name is None) != (self.contact_email is None):
            raise ValueError("contact_name and contact_email go together")
        return self


class ParticipantInput(Strict):
    """An organization taking part, and whom its mails reach: the contact named, else its primary contact;
    every contact only with ``all_contacts`` (a staff choice)."""

    organization: SingleLine
    role: ParticipantRole
    contact_email: Email | None = None
    all_contacts: bool = False

    @model_validator(mode="after")
    def _one_choice(self) -> ParticipantInput:
        if self.all_contacts and self.contact_email:
            raise ValueError("name a contact_email or choose all_contacts, not both")
        return self


class MeetingInput(Strict):
    """A meeting; its hours (``start_time``, ``end_time``, both or neither) are local to ``time_zone``."""

    kind: MeetingKind
    title: Title
    starts_on: date
    ends_on: date | None = None
    swg_code: SwgCode | None = None
    location: SingleLine | None = None
    start_time: time | None = None
    end_time: time | None = None
    time_zone: TimeZone | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> MeetingInput:
        if self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if (self.start_time is None) != (self.end_time is None):
            raise ValueError("give both start_time and end_time, or neither")
        if any(moment is not None and moment.tzinfo is not None for moment in (self.start_time, self.end_time)):
            raise ValueError("start_time and end_time are local times in time_zone: give them without an offset")
        if self.start_time is not None and self.time_zone is None:
            raise ValueError("a meeting with hours needs its time_zone")
        if self.start_time is not None and (self.ends_on or self.starts_on) == self.starts_on \
                and self.end_time <= self.start_time:  # type: ignore[operator]
            raise ValueError("end_time is not after start_time")
        return self


class PartnerText(Strict):
    """Text written by a partner or an authority, and the language it was written in.

    Without a ``language`` of its own it is taken to be in the language of the form it came from
    (the ``language`` given to :func:`parse`), else English.
    """

    language: Language = Language.EN

    @model_validator(mode="before")
    @classmethod
    def _form_language(cls, data: Any, info: ValidationInfo) -> Any:  # noqa: ANN401 - raw input
        form_language = (info.context or {}).get("language")
        if isinstance(data, dict) and data.get("language") is None and form_language:
            return {**data, "language": form_language}
        return data


# Kind-specific data kept with an engagement.
class DialogueDetails(Strict):
    organizing_agency: SingleLine
    planned_on: date | None = None


class PresentationDetails(Strict):
    topic: Title


class MeetingDetails(Strict):
    purpose: Text


class ToolkitDetails(Strict):
    url: Url | None = None


class SubmissionDetails(PartnerText):
    media: Literal["video", "presentation", "document"]
    url: Url
    summary: Text


class RecommendationDetails(PartnerText):
    topic: RecommendationTopic
    text: Text


class AchievementDetails(PartnerText):
    summary: Text
    received_via: Literal["website", "mailbox"] = "website"


class ForumDetails(Strict):
    focus: Literal["fatf", "banking_forum"]
    purpose: Text


DETAILS_SCHEMAS: dict[str, type[Strict]] = {
    EngagementKind.NATIONAL_DIALOGUE: DialogueDetails,
    EngagementKind.SWG_PRESENTATION: PresentationDetails,
    EngagementKind.ALLIANCE_MEETING: MeetingDetails,
    EngagementKind.TOOLKIT_LAUNCH: ToolkitDetails,
    EngagementKind.WEBSITE_SUBMISSION: SubmissionDetails,
    EngagementKind.RECOMMENDATION: RecommendationDetails,
    EngagementKind.ACHIEVEMENT: AchievementDetails,
    EngagementKind.PRIVATE_SECTOR_FORUM: ForumDetails,
}


class EngagementInput(Strict):
    """A new engagement; ``details`` are checked against the kind's own schema."""

    kind: EngagementKind
    title: Title
    swg_code: SwgCode | None = None
    meeting_id: Id | None = None
    country: CountryCode | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    participants: list[ParticipantInput] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _details_fit_kind(self, info: ValidationInfo) -> EngagementInput:
        schema = DETAILS_SCHEMAS[self.kind]
        language = (info.context or {}).get("language")
        self.details = parse(schema, self.details, "details.", language=language).model_dump(mode="json")
        if self.kind == EngagementKind.SWG_PRESENTATION and self.swg_code is None:
            raise ValueError("an invitation to present needs swg_code")
        seen: set[tuple[str, str]] = set()
        for person in self.participants:
            if (person.organization, person.role) in seen:
                raise ValueError(f"participants: {person.organization} is listed twice as {person.role.value}")
            seen.add((person.organization, person.role))
        return self


# Data that comes with particular triggers.
class DialogueReportInput(PartnerText):
    held_on: date
    organizing_agency: SingleLine
    public_partners: Count
    private_partners: Count
    narrative: Text | None = None
    areas_of_discussion: list[SingleLine] = Field(default_factory=list, max_length=20)
    recommendations: Text | None = None


class OutcomeInput(Strict):
    summary: Text
    commitments: list[SingleLine] = Field(default_factory=list, max_length=50)


class TransitionRequest(Strict):
    """What a caller asks of ``apply_transition``, checked before anything is read."""

    trigger: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,40}$")]
    actor: Actor
    comment: Comment | None = None
    data: dict[str, Any] | None = None
    flow_run_id: _text_type(64) | None = None  # type: ignore[valid-type]
    idempotency_key: _text_type(200) | None = None  # type: ignore[valid-type]
    expected_version: Id | None = None
