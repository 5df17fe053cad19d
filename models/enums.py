"""Closed vocabularies of the domain, stored as plain strings."""

from __future__ import annotations

from enum import StrEnum


class OrganizationType(StrEnum):
    PARTNER = "partner"
    GOVERNMENT = "government"
    INTERNATIONAL_ORGANIZATION = "international_organization"


class Industry(StrEnum):
    """Priority industries of the seed, the future ones, and those the dialogues also invite."""

    CHEMICAL = "chemical"
    SHIPPING = "shipping"
    CONSIGNMENT = "consignment"
    SOCIAL_MEDIA = "social_media"
    E_COMMERCE = "e_commerce"
    BANKING = "banking"
    ARTIFICIAL_INTELLIGENCE = "artificial_intelligence"
    PHARMACEUTICALS = "pharmaceuticals"
    TRANSPORTATION = "transportation"
    FINANCIAL = "financial"
    OTHER = "other"


PRIORITY_INDUSTRIES = frozenset(
    {Industry.CHEMICAL, Industry.SHIPPING, Industry.CONSIGNMENT, Industry.SOCIAL_MEDIA, Industry.E_COMMERCE, Industry.BANKING}
)
FUTURE_INDUSTRIES = frozenset({Industry.ARTIFICIAL_INTELLIGENCE, Industry.PHARMACEUTICALS})


class Language(StrEnum):
    EN = "en"
    ES = "es"
    FR = "fr"


class ApprovalPolicy(StrEnum):
    ANY = "any"
    ALL = "all"
    QUORUM = "quorum"


class EngagementKind(StrEnum):
    NATIONAL_DIALOGUE = "national_dialogue"
    SWG_PRESENTATION = "swg_presentation"
    ALLIANCE_MEETING = "alliance_meeting"
    TOOLKIT_LAUNCH = "toolkit_launch"
    WEBSITE_SUBMISSION = "website_submission"
    RECOMMENDATION = "recommendation"
    ACHIEVEMENT = "achievement"
    PRIVATE_SECTOR_FORUM = "private_sector_forum"


class Role(StrEnum):
    """Who may fire a trigger."""

    SECRETARIAT = "secretariat"
    CO_CHAIR = "co_chair"
    NATIONAL_AUTHORITY = "national_authority"
    PARTNER = "partner"
    SYSTEM = "system"


class ParticipantRole(StrEnum):
    """What an organization is to an engagement."""

    ORGANIZER = "organizer"
    PARTNER = "partner"
    PRESENTER = "presenter"
    HOST = "host"
    INVITEE = "invitee"


class MeetingKind(StrEnum):
    SWG_SESSION = "swg_session"
    WG_MEETING = "wg_meeting"
    ALLIANCE_MEETING = "alliance_meeting"
    FORUM = "forum"


class Channel(StrEnum):
    """How a change reached the engine."""

    CLI = "cli"
    FLOW = "flow"
    PREFECT_UI = "prefect_ui"
    EMAIL_LINK = "email_link"
    MAILBOX = "mailbox"
    WEBSITE = "website"
    IMPORT = "import"


class Decision(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    SUPPRESSED = "suppressed"


class DeliveryChannel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"


class NotificationType(StrEnum):
    INVITATION = "invitation"
    APPROVAL_REQUEST = "approval_request"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    DECISION = "decision"
    PUBLICATION_NOTICE = "publication_notice"
    WINDOW_CLOSING = "window_closing"
    DIALOGUE_REPORT_RECEIVED = "dialogue_report_received"
    SUBMISSION_CONFIRMATION = "submission_confirmation"
    SIGN_IN = "sign_in"


class RecommendationTopic(StrEnum):
    ADVOCACY_CAMPAIGNS = "advocacy_campaigns"
    RESOURCE_MOBILIZATION = "resource_mobilization"
    INFORMATION_SHARING = "information_sharing"
    INNOVATIVE_PRODUCTS_AND_SERVICES = "innovative_products_and_services"
    POLICY = "policy"
