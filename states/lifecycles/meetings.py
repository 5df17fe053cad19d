"""Seed II and workstream 3: public-private meetings (Prevent Alliance, private-sector forum)."""

from models.enums import EngagementKind, NotificationType
from states.lifecycles.building import (
    PUBLISHED, SECRETARIAT, UNPUBLISHED, STAFF_OR_SYSTEM, lifecycle, notify, publication_steps,
)
from states.spec import N_, Lifecycle, Recipient, StateSpec, TransitionSpec


def meeting_lifecycle(kind: EngagementKind, title: str, proposed: str) -> Lifecycle:
    """Proposed, scheduled, invitations out, held, outcome recorded, published; cancellable until held."""
    return lifecycle(
        kind,
        title,
        [
            StateSpec("proposed", proposed, initial=True),
            StateSpec("scheduled", N_("A date and a place are set")),
            StateSpec("invitations_sent", N_("The private-sector participants are invited")),
            StateSpec("held", N_("The meeting took place; its outcome is to be recorded")),
            StateSpec("outcome_recorded", N_("The outcome (framework, action plan, commitments) is recorded")),
            PUBLISHED,
            UNPUBLISHED,
            StateSpec("cancelled", N_("Called off before it was held"), final=True),
        ],
        [
            TransitionSpec("schedule", ("proposed",), "scheduled", SECRETARIAT, N_("Set the meeting"), guards=("has_meeting",)),
            TransitionSpec(
                "send_invitations", ("scheduled",), "invitations_sent", STAFF_OR_SYSTEM, N_("Invite the participants"),
                guards=("has_partner_contact",),
                notify=(notify(NotificationType.INVITATION, Recipient.PARTNERS, mandatory=True),),
            ),
            TransitionSpec("hold", ("invitations_sent",), "held", SECRETARIAT, N_("Record that the meeting took place")),
            TransitionSpec(
                "record_outcome", ("held",), "outcome_recorded", SECRETARIAT, N_("Record what the meeting produced"),
                guards=("outcome_given",), effects=("store_outcome",), data_schema="OutcomeInput",
            ),
            *publication_steps(("outcome_recorded",)),
            TransitionSpec(
                "cancel", ("proposed", "scheduled"), "cancelled", SECRETARIAT, N_("Call the meeting off"),
                guards=("comment_given",),
            ),
            TransitionSpec(
                "cancel", ("invitations_sent",), "cancelled", SECRETARIAT, N_("Call the meeting off; the invitees are told"),
                guards=("comment_given",),
                notify=(notify(NotificationType.DECISION, Recipient.PARTNERS, mandatory=True),),
            ),
        ],
    )


ALLIANCE_MEETING = meeting_lifecycle(
    EngagementKind.ALLIANCE_MEETING, N_("Prevent Alliance meeting"),
    N_("UNODC, with the tech partners of the Alliance, proposes a meeting"),
)
PRIVATE_SECTOR_FORUM = meeting_lifecycle(
    EngagementKind.PRIVATE_SECTOR_FORUM, N_("Private-sector forum (FATF, banking sector)"),
    N_("An international organization proposes a meeting"),
)
