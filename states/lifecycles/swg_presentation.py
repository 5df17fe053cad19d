"""Seed V: at the co-chairs' discretion, a private-sector representative presents at an SWG meeting."""

from models.enums import EngagementKind, NotificationType, Role
from states.lifecycles.building import (
    CO_CHAIR, DAYS, PARTNER, PUBLISHED, SECRETARIAT, STAFF_OR_SYSTEM, SYSTEM, UNPUBLISHED,
    lifecycle, notify, publication_steps,
)
from states.spec import N_, Recipient, StateSpec, TransitionSpec, Wait

APPROVED_EVENT = "engage.approval.approved"
DECLINED_EVENT = "engage.approval.declined"
NOT_YET_INVITED = ("proposed", "awaiting_approval", "approved")
INVITED = ("invitation_sent", "accepted")

SWG_PRESENTATION = lifecycle(
    EngagementKind.SWG_PRESENTATION,
    N_("Invitation to present at a Sub-Working Group"),
    [
        StateSpec("proposed", N_("A presentation by a partner is proposed for an SWG meeting"), initial=True),
        StateSpec(
            "awaiting_approval", N_("The SWG's co-chairs decide, by the SWG's approval policy"),
            wait=Wait(Role.CO_CHAIR, 7 * DAYS, max_reminders=1),
        ),
        StateSpec("approved", N_("The co-chairs approved; the invitation goes out with the decision"),
                  then="send_invitation"),
        StateSpec("declined", N_("The co-chairs declined"), final=True),
        StateSpec(
            "invitation_sent", N_("The partner is invited and asked to answer"),
            wait=Wait(Role.PARTNER, 7 * DAYS, max_reminders=2, expire_after=28 * DAYS, expire_trigger="expire"),
        ),
        StateSpec("accepted", N_("The partner will present")),
        StateSpec("declined_by_partner", N_("The partner will not present"), final=True),
        StateSpec("expired", N_("The partner did not answer in time"), final=True),
        StateSpec("presented", N_("The partner presented at the meeting")),
        PUBLISHED,
        UNPUBLISHED,
        StateSpec("withdrawn", N_("Withdrawn before the presentation"), final=True),
    ],
    [
        TransitionSpec(
            "request_approval", ("proposed",), "awaiting_approval", STAFF_OR_SYSTEM, N_("Ask the co-chairs to decide"),
            guards=("has_swg", "has_partner_contact"),
            notify=(notify(NotificationType.APPROVAL_REQUEST, Recipient.CO_CHAIRS, mandatory=True),),
        ),
        TransitionSpec(
            "approve", ("awaiting_approval",), "approved", CO_CHAIR, N_("Approve; the policy is now satisfied"),
            effects=("record_vote",), guards=("approval_granted",),
            notify=(notify(NotificationType.DECISION, Recipient.SECRETARIAT),), emits=(APPROVED_EVENT,),
        ),
        TransitionSpec(
            "approve", ("awaiting_approval",), None, CO_CHAIR, N_("Approve; more co-chairs must still decide"),
            effects=("record_vote",), guards=("approval_pending",),
        ),
        TransitionSpec(
            "decline", ("awaiting_approval",), "declined", CO_CHAIR, N_("Decline; approval can no longer be reached"),
            effects=("record_vote",), guards=("approval_refused",),
            notify=(notify(NotificationType.DECISION, Recipient.SECRETARIAT),), emits=(DECLINED_EVENT,),
        ),
        TransitionSpec(
            "decline", ("awaiting_approval",), None, CO_CHAIR, N_("Decline; the other co-chairs may still approve"),
            effects=("record_vote",), guards=("approval_pending",),
        ),
        TransitionSpec(
            "send_invitation", ("approved",), "invitation_sent", STAFF_OR_SYSTEM, N_("Invite the partner to present"),
            notify=(notify(NotificationType.INVITATION, Recipient.PARTNERS, mandatory=True),),
        ),
        TransitionSpec("accept", ("invitation_sent",), "accepted", PARTNER, N_("The partner accepts"),
                       notify=(notify(NotificationType.DECISION, Recipient.PARTNERS),
                               notify(NotificationType.DECISION, Recipient.SECRETARIAT))),
        TransitionSpec(
            "decline_invitation", ("invitation_sent",), "declined_by_partner", PARTNER, N_("The partner declines"),
            notify=(notify(NotificationType.DECISION, Recipient.SECRETARIAT),
                    notify(NotificationType.DECISION, Recipient.PARTNERS)),
        ),
        TransitionSpec("expire", ("invitation_sent",), "expired", SYSTEM, N_("No answer before the deadline"),
                       notify=(notify(NotificationType.DECISION, Recipient.SECRETARIAT),)),
        TransitionSpec("record_presentation", ("accepted",), "presented", SECRETARIAT, N_("The partner presented")),
        *publication_steps(("presented",)),
        TransitionSpec(
            "withdraw", NOT_YET_INVITED, "withdrawn", SECRETARIAT, N_("Withdraw before the partner is invited"),
            guards=("comment_given",),
        ),
        TransitionSpec(
            "withdraw", INVITED, "withdrawn", SECRETARIAT, N_("Withdraw the invitation before the presentation"),
            guards=("comment_given",),
            notify=(notify(NotificationType.DECISION, Recipient.PARTNERS, mandatory=True),),
        ),
    ],
)
