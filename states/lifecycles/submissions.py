"""Seeds III, IV and VI: what partners send the Coalition through its website or mailbox."""

from models.enums import EngagementKind, NotificationType, Role
from states.lifecycles.building import (
    DAYS, PARTNER_OR_STAFF, PUBLISHED, SECRETARIAT, SYSTEM, UNPUBLISHED,
    lifecycle, notify, publication_steps,
)
from states.spec import N_, Recipient, StateSpec, TransitionSpec, Wait

DRAFT = StateSpec("draft", N_("Being prepared by the partner"), initial=True)
REJECTED = StateSpec("rejected", N_("Not accepted"), final=True)
DECISION_TO_PARTNER = (notify(NotificationType.DECISION, Recipient.PARTNERS, mandatory=True),)


def submit(*, sources: tuple[str, ...] = ("draft",), trigger: str = "submit") -> TransitionSpec:
    """Send the submission, only while its window is open; the secretariat hears of it.

    The system first submits what a website sender confirmed while only claiming to be from a known
    organization (``states.intake``); a resubmission comes from the partner or staff.
    """
    roles = PARTNER_OR_STAFF | SYSTEM if trigger == "submit" else PARTNER_OR_STAFF
    return TransitionSpec(
        trigger, sources, "submitted", roles, N_("Send it to the Secretariat while the window is open"),
        guards=("window_open",), effects=("stamp_submitted",),
        notify=(notify(NotificationType.DECISION, Recipient.SECRETARIAT),),
    )


def select_for_report(sources: tuple[str, ...]) -> TransitionSpec:
    """The Secretariat quotes it in the Coalition's final report (state kept; the audit row records it)."""
    return TransitionSpec("select_for_report", sources, None, SECRETARIAT, N_("Quote it in the final report"),
                          effects=("mark_selected_for_report",))


REVIEW_STEPS = (
    submit(),
    TransitionSpec("start_review", ("submitted",), "under_review", SECRETARIAT, N_("Begin the review")),
    TransitionSpec("accept", ("under_review",), "accepted", SECRETARIAT, N_("Accept"), notify=DECISION_TO_PARTNER),
    TransitionSpec("reject", ("under_review",), "rejected", SECRETARIAT, N_("Reject"), guards=("comment_given",),
                   notify=DECISION_TO_PARTNER),
)
"""Submitted, reviewed by the Secretariat, then accepted or rejected (recommendations, achievements)."""

WEBSITE_SUBMISSION = lifecycle(
    EngagementKind.WEBSITE_SUBMISSION,
    N_("Website exchange of experiences (video, presentation, document)"),
    [
        DRAFT,
        StateSpec("submitted", N_("Received; waiting for screening")),
        StateSpec("screening", N_("The Secretariat screens it for the website")),
        StateSpec(
            "changes_requested", N_("Returned to the partner for changes"),
            wait=Wait(Role.PARTNER, 7 * DAYS, max_reminders=2, expire_after=30 * DAYS, expire_trigger="expire"),
        ),
        StateSpec("approved", N_("Approved for the website")),
        PUBLISHED,
        UNPUBLISHED,
        REJECTED,
        StateSpec("expired", N_("The requested changes never came"), final=True),
    ],
    [
        submit(),
        TransitionSpec("start_screening", ("submitted",), "screening", SECRETARIAT, N_("Begin screening")),
        TransitionSpec("approve", ("screening",), "approved", SECRETARIAT, N_("Fit for the website"), notify=DECISION_TO_PARTNER),
        TransitionSpec("reject", ("screening",), "rejected", SECRETARIAT, N_("Not fit for the website"),
                       guards=("comment_given",), notify=DECISION_TO_PARTNER),
        TransitionSpec("request_changes", ("screening",), "changes_requested", SECRETARIAT, N_("Ask for changes"),
                       guards=("comment_given",), notify=DECISION_TO_PARTNER),
        submit(sources=("changes_requested",), trigger="resubmit"),
        TransitionSpec("expire", ("changes_requested",), "expired", SYSTEM, N_("No changes before the deadline")),
        *publication_steps(("approved",)),
    ],
)

RECOMMENDATION = lifecycle(
    EngagementKind.RECOMMENDATION,
    N_("Recommendation from a public-private partner"),
    [
        DRAFT,
        StateSpec("submitted", N_("Received; waiting for review")),
        StateSpec("under_review", N_("The Secretariat reviews it")),
        StateSpec("accepted", N_("Accepted by the Secretariat")),
        StateSpec("in_deliverable", N_("Part of a Global Coalition deliverable (received by the early deadline)")),
        PUBLISHED,
        UNPUBLISHED,
        REJECTED,
    ],
    [
        *REVIEW_STEPS,
        TransitionSpec(
            "include_in_deliverable", ("accepted",), "in_deliverable", SECRETARIAT,
            N_("Consider it as a Coalition deliverable"), guards=("received_by_early_deadline",),
        ),
        select_for_report(("accepted", "in_deliverable", "published")),
        *publication_steps(("accepted", "in_deliverable")),
    ],
)

ACHIEVEMENT = lifecycle(
    EngagementKind.ACHIEVEMENT,
    N_("Private-sector achievement"),
    [
        DRAFT,
        StateSpec("submitted", N_("Received through the website or the mailbox")),
        StateSpec("under_review", N_("The Secretariat reviews it")),
        StateSpec("accepted", N_("Accepted by the Secretariat")),
        StateSpec("in_final_report", N_("Selected for the Coalition's final report")),
        PUBLISHED,
        UNPUBLISHED,
        REJECTED,
    ],
    [
        *REVIEW_STEPS,
        TransitionSpec("include_in_final_report", ("accepted",), "in_final_report", SECRETARIAT,
                       N_("Select it for the final report")),
        select_for_report(("accepted", "in_final_report", "published")),
        *publication_steps(("accepted", "in_final_report")),
    ],
)
