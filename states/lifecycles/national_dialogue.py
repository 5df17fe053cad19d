"""Seed I: a national authority convenes private-sector organizations and may report the dialogue."""

from models.enums import EngagementKind, NotificationType, Role
from states.lifecycles.building import (
    AUTHORITY_OR_STAFF, DAYS, PUBLISHED, SECRETARIAT, STAFF_OR_SYSTEM, UNPUBLISHED,
    lifecycle, notify, publication_steps,
)
from states.spec import N_, Recipient, StateSpec, TransitionSpec, Wait

NATIONAL_DIALOGUE = lifecycle(
    EngagementKind.NATIONAL_DIALOGUE,
    N_("National dialogue"),
    [
        StateSpec("planned", N_("The national authority plans a dialogue"), initial=True),
        StateSpec("convened", N_("Private-sector organizations have been invited")),
        StateSpec(
            "held", N_("The dialogue took place; a report to the Secretariat is welcome"),
            wait=Wait(Role.NATIONAL_AUTHORITY, 14 * DAYS, max_reminders=2, expire_after=90 * DAYS, expire_trigger="close_unreported"),
        ),
        StateSpec("report_submitted", N_("The report reached the Secretariat")),
        StateSpec("under_review", N_("The Secretariat reviews the report")),
        StateSpec(
            "revision_requested", N_("The Secretariat asked the national authority to revise the report"),
            wait=Wait(Role.NATIONAL_AUTHORITY, 14 * DAYS, max_reminders=2),
        ),
        PUBLISHED,
        UNPUBLISHED,
        StateSpec("closed_unreported", N_("Held, and no report will follow"), final=True),
        StateSpec("cancelled", N_("Called off before it was held"), final=True),
    ],
    [
        TransitionSpec("convene", ("planned",), "convened", AUTHORITY_OR_STAFF, N_("Invite the private-sector organizations")),
        TransitionSpec("hold", ("convened",), "held", AUTHORITY_OR_STAFF, N_("Record that the dialogue took place")),
        TransitionSpec(
            "submit_report", ("held", "revision_requested"), "report_submitted", AUTHORITY_OR_STAFF,
            N_("Report date, organizing agency and partner counts (and optionally a narrative)"),
            guards=("report_complete",), effects=("store_dialogue_report",), data_schema="DialogueReportInput",
            notify=(
                notify(NotificationType.DIALOGUE_REPORT_RECEIVED, Recipient.SECRETARIAT),
                notify(NotificationType.DIALOGUE_REPORT_RECEIVED, Recipient.ORGANIZER, mandatory=True),
            ),
        ),
        TransitionSpec("start_review", ("report_submitted",), "under_review", SECRETARIAT, N_("Begin reviewing the report")),
        TransitionSpec(
            "return_for_revision", ("under_review",), "revision_requested", SECRETARIAT, N_("Send the report back with comments"),
            guards=("comment_given",),
            notify=(notify(NotificationType.DECISION, Recipient.ORGANIZER, mandatory=True),),
        ),
        *publication_steps(("under_review",)),
        TransitionSpec("close_unreported", ("held",), "closed_unreported", STAFF_OR_SYSTEM, N_("Close without a report")),
        TransitionSpec("cancel", ("planned", "convened"), "cancelled", AUTHORITY_OR_STAFF, N_("Call the dialogue off")),
    ],
)
