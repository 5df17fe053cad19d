"""Persistence of the engine: SQLAlchemy 2 typed ORM, migrated by Alembic.

The mapped classes are exported lazily (PEP 562): ``import models.enums`` maps nothing, and the first
name taken from ``models`` (``from models import Engagement``, ``models.Base``) imports every model
module, so ``Base.metadata`` then holds every table.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.audit import TransitionLog
    from models.base import Base
    from models.engagement import ApprovalVote, DialogueReport, Engagement, Participant
    from models.events import EngineEvent
    from models.mailbox import InboundMessage, UndeliverableAddress
    from models.outbox import OutboxMessage
    from models.outbox_channel import OutboxChannel
    from models.portal import ActionLink, AddressOptOut, PendingSubmission
    from models.reference import (
        CoChair, Contact, Meeting, Organization, SecretariatSignature, SubmissionWindow, SubWorkingGroup, WorkingGroup,
    )
    from models.security import PortalSession, RateLimitCounter

_MODULES = {
    "models.audit": ("TransitionLog",),
    "models.base": ("Base",),
    "models.engagement": ("ApprovalVote", "DialogueReport", "Engagement", "Participant"),
    "models.events": ("EngineEvent",),
    "models.mailbox": ("InboundMessage", "UndeliverableAddress"),
    "models.outbox": ("OutboxMessage",),
    "models.outbox_channel": ("OutboxChannel",),
    "models.portal": ("ActionLink", "AddressOptOut", "PendingSubmission"),
    "models.reference": ("CoChair", "Contact", "Meeting", "Organization", "SecretariatSignature", "SubmissionWindow",
                         "SubWorkingGroup", "WorkingGroup"),
    "models.security": ("PortalSession", "RateLimitCounter"),
}

__all__ = sorted(name for names in _MODULES.values() for name in names)


def __getattr__(name: str) -> object:
    """A mapped class (or ``Base``), every model module imported on the first one asked for."""
    if name not in __all__:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    for module_name, names in _MODULES.items():
        module = import_module(module_name)
        globals().update({exported: getattr(module, exported) for exported in names})
    return globals()[name]
