"""What guards and effects see of the change being made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Row

from states.inputs import Actor
from states.spec import Lifecycle, TransitionSpec
from website.i18n import Phrase


EngagementRow = Row[Any]
"""A read-only row of the ``engagements`` table, read by the change (attribute access, like the ORM class),
with its SWG's ``swg_title`` (``swg_title_es``, ``swg_title_fr``), ``approval_policy`` and ``quorum`` and its meeting's ``meeting_title`` and
``meeting_starts_on`` (``None`` without one)."""

CoChairSeat = Row[Any]
"""A co-chair's seat on an SWG (``id``, ``swg_code``, ``name``, ``email``) with their vote on the engagement:
``decision``, ``decided_at`` and ``channel``, ``None`` while they have not voted."""


@dataclass
class TransitionContext:
    """One attempted transition: read by guards, extended by effects, inside the open transaction."""

    connection: Connection
    engagement: EngagementRow
    lifecycle: Lifecycle
    actor: Actor
    now: datetime
    comment: str | None = None
    data: BaseModel | None = None
    co_chair: CoChairSeat | None = None
    refusals: list[Phrase] = field(default_factory=list)
    row_updates: dict[str, Any] = field(default_factory=dict)
    fired: TransitionSpec | None = None
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def details(self) -> dict[str, Any]:
        """The engagement's kind-specific data, including changes made by effects so far."""
        return self.row_updates.get("details", self.engagement.details or {})
