"""Seed I: a national authority convenes private-sector organizations and may report the dialogue."""

from models.enums import EngagementKind, NotificationType, Role
from states.lifecycles.building import (
    AUTHORITY_OR_STAFF, DAYS, PUBLISHED, SECRETARIAT, STAFF_OR_SYSTEM, UNPUBLISHED,
    lifecycle, notify, publication_steps,
)
from states.spec import Recipient, StateSpec, TransitionSpec, Wait

NATIONAL_DIALOGUE = lifecycle(
    EngagementKind.NATIONAL_DIALOGUE,
    "National dialogue",
    [
        StateSpec("planned", "The national authority plans a dialogue", initial=True),
        StateSpec("convened", "Private-sector organizations have been invited"),
        StateSpec(
            "held", "The dialogue took place; a report to the Secretariat is welcome",
            wait=Wait(Role.NATIONAL_AUTHORITY, 14 * DAYS, max_reminders=2, expire_after=90 * DAYS, expire_trigger="close_unreported"),
        ),
        StateSpec("report_submitted", "The report reached the Secretariat"),
        StateSpec("under_review", "The Secretariat reviews the report"),
        StateSpec(
            "revision_requested", "The Secretariat asked the national authority to revise the report",
            wait=Wait(Role.NATIONAL_AUTHORITY, 14 * DAYS, max_reminders=2),
        ),
        PUBLISHED,
        UNPUBLISHED,
        StateSpec("closed_unreported", "Held, and no report will follow", final=True),
        StateSpec("cancelled", "Called off before it was held", final=True),
    ],
    [
        TransitionSpec("convene", ("planned",), "convened", AUTHORITY_OR_STAFF, "Invite the private-sector organizations"),
        TransitionSpec("hold", ("convened",), "held", AUTHORITY_OR_STAFF, "Record that the dialogue took place"),
        TransitionSpec(
            "submit_report", ("held", "revision_requested"), "report_submitted", AUTHORITY_OR_STAFF,
            "Report date, organizing agency and partner counts (and optionally a narrative)",
            guards=("report_complete",), effects=("store_dialogue_report",), data_schema="DialogueReportInput",
            notify=(
                notify(NotificationType.DIALOGUE_REPORT_RECEIVED, Recipient.SECRETARIAT),
                notify(NotificationType.DIALOGUE_REPORT_RECEIVED, Recipient.ORGANIZER, mandatory=True),
            ),
        ),
        TransitionSpec("start_review", ("report_submitted",), "under_review", SECRETARIAT, "Begin reviewing the report"),
        TransitionSpec(
            "return_for_revision", ("under_review",), "revision_requested", SECRETARIAT, "Send the report back with comments",
            guards=("comment_given",),
            notify=(notify(NotificationType.DECISION, Recipient.ORGANIZER, mandatory=True),),
        ),
        *publication_steps(("under_review",)),
        TransitionSpec("close_unreported", ("held",), "closed_unreported", STAFF_OR_SYSTEM, "Close without a report"),
        TransitionSpec("cancel", ("planned", "convened"), "cancelled", AUTHORITY_OR_STAFF, "Call the dialogue off"),
    ],
)
