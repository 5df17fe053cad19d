"""Persistence of the engine: SQLAlchemy 2 typed ORM, migrated by Alembic."""

from models.audit import TransitionLog
from models.base import Base
from models.engagement import ApprovalVote, DialogueReport, Engagement, Participant
from models.events import EngineEvent
from models.outbox import OutboxMessage
from models.outbox_channel import OutboxChannel
from models.portal import ActionLink, PendingSubmission
from models.reference import CoChair, Contact, Meeting, Organization, SubmissionWindow, SubWorkingGroup, WorkingGroup

__all__ = [
    "ActionLink",
    "ApprovalVote",
    "Base",
    "CoChair",
    "Contact",
    "DialogueReport",
    "Engagement",
    "EngineEvent",
    "Meeting",
    "Organization",
    "OutboxChannel",
    "OutboxMessage",
    "Participant",
    "PendingSubmission",
    "SubWorkingGroup",
    "SubmissionWindow",
    "TransitionLog",
    "WorkingGroup",
]
