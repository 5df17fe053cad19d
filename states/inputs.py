"""pydantic models for everything that enters the engine from outside: CLI, files, forms, flows."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, EmailStr, Field, HttpUrl, NonNegativeInt, StringConstraints, ValidationError,
    model_validator,
)

from models.enums import (
    EngagementKind, Industry, Language, MeetingKind, NotificationType, OrganizationType, ParticipantRole, RecommendationTopic,
    Role,
)
from states.errors import EngageError


class InputError(EngageError):
    """Input from outside failed validation; the message names every field at fault."""


def _single_line(value: str) -> str:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("must be a single line without control characters (no CR or LF)")
    return value


def _country(value: str) -> str:
    import pycountry  # its tables load on first use, not when a lifecycle is read

    code = value.strip().upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


SingleLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_single_line)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300), AfterValidator(_single_line)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2_000)]
CountryCode = Annotated[str, AfterValidator(_country)]
SwgCode = Annotated[str, StringConstraints(pattern=r"^[1-3]\.[1-3]$")]
Email = Annotated[EmailStr, StringConstraints(max_length=254)]


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


def parse(model: type[ModelT], data: Any, where: str = "") -> ModelT:
    """Validate ``data`` as ``model``, raising ``InputError`` that names each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InputError(describe(error, where)) from None


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
    region: Annotated[str, StringConstraints(max_length=64), AfterValidator(_single_line)] | None = None

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
    opt_outs: list[Literal["email", "chat"] | NotificationType] = Field(default_factory=list)


class PartnerRow(Strict):
    """One row of a partner CSV: the organization and, optionally, one contact."""

    name: SingleLine
    industry: Industry
    country: CountryCode
    region: Annotated[str, StringConstraints(max_length=64)] | None = None
    contact_name: SingleLine | None = None
    contact_email: Email | None = None
    contact_language: Language = Language.EN

    @model_validator(mode="after")
    def _contact_complete(self) -> PartnerRow:
        if (self.contact_name is None) != (self.contact_email is None):
            raise ValueError("contact_name and contact_email go together")
        return self


class ParticipantInput(Strict):
    organization: SingleLine
    role: ParticipantRole
    contact_email: Email | None = None


class MeetingInput(Strict):
    kind: MeetingKind
    title: Title
    starts_on: date
    ends_on: date | None = None
    swg_code: SwgCode | None = None
    location: SingleLine | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> MeetingInput:
        if self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


# Kind-specific data kept with an engagement.
class DialogueDetails(Strict):
    organizing_agency: SingleLine
    planned_on: date | None = None


class PresentationDetails(Strict):
    topic: Title


class MeetingDetails(Strict):
    purpose: Text


class ToolkitDetails(Strict):
    url: HttpUrl | None = None


class SubmissionDetails(Strict):
    media: Literal["video", "presentation", "document"]
    url: HttpUrl
    summary: Text


class RecommendationDetails(Strict):
    topic: RecommendationTopic
    text: Text


class AchievementDetails(Strict):
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
    meeting_id: int | None = None
    country: CountryCode | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    participants: list[ParticipantInput] = Field(default_factory=list)

    @model_validator(mode="after")
    def _details_fit_kind(self) -> EngagementInput:
        schema = DETAILS_SCHEMAS[self.kind]
        self.details = parse(schema, self.details, "details.").model_dump(mode="json")
        if self.kind == EngagementKind.SWG_PRESENTATION and self.swg_code is None:
            raise ValueError("an invitation to present needs swg_code")
        return self


# Data that comes with particular triggers.
class DialogueReportInput(Strict):
    held_on: date
    organizing_agency: SingleLine
    public_partners: NonNegativeInt
    private_partners: NonNegativeInt
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
    flow_run_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    expected_version: int | None = Field(default=None, ge=1)
