"""Seed II and workstream 3: public-private meetings (Prevent Alliance, private-sector forum)."""

from models.enums import EngagementKind, NotificationType
from states.lifecycles.building import (
    PUBLISHED, SECRETARIAT, UNPUBLISHED, STAFF_OR_SYSTEM, lifecycle, notify, publication_steps,
)
from states.spec import Lifecycle, Recipient, StateSpec, TransitionSpec


def meeting_lifecycle(kind: EngagementKind, title: str, host: str) -> Lifecycle:
    """Proposed, scheduled, invitations out, held, outcome recorded, published; cancellable until held."""
    return lifecycle(
        kind,
        title,
        [
            StateSpec("proposed", f"{host} proposes a meeting", initial=True),
            StateSpec("scheduled", "A date and a place are set"),
            StateSpec("invitations_sent", "The private-sector participants are invited"),
            StateSpec("held", "The meeting took place; its outcome is to be recorded"),
            StateSpec("outcome_recorded", "The outcome (framework, action plan, commitments) is recorded"),
            PUBLISHED,
            UNPUBLISHED,
            StateSpec("cancelled", "Called off before it was held", final=True),
        ],
        [
            TransitionSpec("schedule", ("proposed",), "scheduled", SECRETARIAT, "Set the meeting", guards=("has_meeting",)),
            TransitionSpec(
                "send_invitations", ("scheduled",), "invitations_sent", STAFF_OR_SYSTEM, "Invite the participants",
                guards=("has_partner_contact",),
                notify=(notify(NotificationType.INVITATION, Recipient.PARTNERS, mandatory=True),),
            ),
            TransitionSpec("hold", ("invitations_sent",), "held", SECRETARIAT, "Record that the meeting took place"),
            TransitionSpec(
                "record_outcome", ("held",), "outcome_recorded", SECRETARIAT, "Record what the meeting produced",
                guards=("outcome_given",), effects=("store_outcome",), data_schema="OutcomeInput",
            ),
            *publication_steps(("outcome_recorded",)),
            TransitionSpec(
                "cancel", ("proposed", "scheduled"), "cancelled", SECRETARIAT, "Call the meeting off",
                guards=("comment_given",),
            ),
            TransitionSpec(
                "cancel", ("invitations_sent",), "cancelled", SECRETARIAT, "Call the meeting off; the invitees are told",
                guards=("comment_given",),
                notify=(notify(NotificationType.DECISION, Recipient.PARTNERS, mandatory=True),),
            ),
        ],
    )


ALLIANCE_MEETING = meeting_lifecycle(
    EngagementKind.ALLIANCE_MEETING, "Prevent Alliance meeting", "UNODC, with the tech partners of the Alliance,"
)
PRIVATE_SECTOR_FORUM = meeting_lifecycle(
    EngagementKind.PRIVATE_SECTOR_FORUM, "Private-sector forum (FATF, banking sector)", "An international organization"
)
