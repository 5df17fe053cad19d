"""Workstream 1: UNODC presents the PPP toolkit at the February SWG 2.2 session and launches it."""

from models.enums import EngagementKind
from states.lifecycles.building import PUBLISHED, SECRETARIAT, UNPUBLISHED, lifecycle, publication_steps
from states.spec import StateSpec, TransitionSpec

TOOLKIT_LAUNCH = lifecycle(
    EngagementKind.TOOLKIT_LAUNCH,
    "Public-private partnership toolkit launch",
    [
        StateSpec("drafted", "UNODC drafts the toolkit", initial=True),
        StateSpec("presentation_scheduled", "Its presentation is on an SWG session's agenda"),
        StateSpec("presented", "UNODC presented it to the SWG"),
        StateSpec("launched", "Officially launched"),
        PUBLISHED,
        UNPUBLISHED,
        StateSpec("cancelled", "Dropped before its presentation", final=True),
    ],
    [
        TransitionSpec(
            "schedule_presentation", ("drafted",), "presentation_scheduled", SECRETARIAT,
            "Put it on an SWG session's agenda", guards=("has_meeting",),
        ),
        TransitionSpec("present", ("presentation_scheduled",), "presented", SECRETARIAT, "Presented at the session"),
        TransitionSpec("launch", ("presented",), "launched", SECRETARIAT, "Official launch"),
        *publication_steps(("launched",)),
        TransitionSpec(
            "cancel", ("drafted", "presentation_scheduled"), "cancelled", SECRETARIAT, "Drop the launch",
            guards=("comment_given",),
        ),
    ],
)
