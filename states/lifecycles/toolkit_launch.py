"""Workstream 1: UNODC presents the PPP toolkit at the February SWG 2.2 session and launches it."""

from models.enums import EngagementKind
from states.lifecycles.building import PUBLISHED, SECRETARIAT, UNPUBLISHED, lifecycle, publication_steps
from states.spec import N_, StateSpec, TransitionSpec

TOOLKIT_LAUNCH = lifecycle(
    EngagementKind.TOOLKIT_LAUNCH,
    N_("Public-private partnership toolkit launch"),
    [
        StateSpec("drafted", N_("UNODC drafts the toolkit"), initial=True),
        StateSpec("presentation_scheduled", N_("Its presentation is on an SWG session's agenda")),
        StateSpec("presented", N_("UNODC presented it to the SWG")),
        StateSpec("launched", N_("Officially launched")),
        PUBLISHED,
        UNPUBLISHED,
        StateSpec("cancelled", N_("Dropped before its presentation"), final=True),
    ],
    [
        TransitionSpec(
            "schedule_presentation", ("drafted",), "presentation_scheduled", SECRETARIAT,
            N_("Put it on an SWG session's agenda"), guards=("has_meeting",),
        ),
        TransitionSpec("present", ("presentation_scheduled",), "presented", SECRETARIAT, N_("Presented at the session")),
        TransitionSpec("launch", ("presented",), "launched", SECRETARIAT, N_("Official launch")),
        *publication_steps(("launched",)),
        TransitionSpec(
            "cancel", ("drafted", "presentation_scheduled"), "cancelled", SECRETARIAT, N_("Drop the launch"),
            guards=("comment_given",),
        ),
    ],
)
