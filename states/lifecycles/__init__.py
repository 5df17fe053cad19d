"""The eight engagement lifecycles, validated when this package is imported (the names of their guards and
effects when ``states.machines`` is: reading a lifecycle needs neither the database layer nor pydantic)."""

from __future__ import annotations

from models.enums import EngagementKind
from states.errors import NotFoundError
from states.lifecycles.meetings import ALLIANCE_MEETING, PRIVATE_SECTOR_FORUM
from states.lifecycles.national_dialogue import NATIONAL_DIALOGUE
from states.lifecycles.submissions import ACHIEVEMENT, RECOMMENDATION, WEBSITE_SUBMISSION
from states.lifecycles.swg_presentation import SWG_PRESENTATION
from states.lifecycles.toolkit_launch import TOOLKIT_LAUNCH
from states.spec import Lifecycle, validate_lifecycle

LIFECYCLES: dict[str, Lifecycle] = {
    lifecycle.kind: lifecycle
    for lifecycle in (
        NATIONAL_DIALOGUE, SWG_PRESENTATION, ALLIANCE_MEETING, TOOLKIT_LAUNCH,
        WEBSITE_SUBMISSION, RECOMMENDATION, ACHIEVEMENT, PRIVATE_SECTOR_FORUM,
    )
}
assert set(LIFECYCLES) == set(EngagementKind), "every engagement kind needs a lifecycle"

for _lifecycle in LIFECYCLES.values():
    validate_lifecycle(_lifecycle)


def get_lifecycle(kind: str) -> Lifecycle:
    """The lifecycle of engagement kind ``kind``."""
    try:
        return LIFECYCLES[kind]
    except KeyError:
        raise NotFoundError(f"unknown engagement kind {kind!r}; kinds are: {', '.join(LIFECYCLES)}") from None
