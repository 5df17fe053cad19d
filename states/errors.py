"""Domain errors: each message says, in words a person understands, what was wrong."""

from __future__ import annotations


class EngageError(Exception):
    """Base of every refusal by the engine; the database is unchanged when one is raised."""


class InputError(EngageError):
    """Input from outside failed validation; the message names every field at fault."""


class NotFoundError(EngageError):
    """A referenced engagement, organization, contact, SWG or co-chair does not exist."""


class UnknownTriggerError(EngageError):
    """The trigger is not part of the engagement's lifecycle, or not possible from its state."""


class NotAllowedError(EngageError):
    """The actor's role, or identity, may not fire this trigger."""


class GuardFailedError(EngageError):
    """A rule of the lifecycle refused the change (window closed, report incomplete, ...)."""


class ConflictError(EngageError):
    """Another writer changed the engagement first; reload and decide again."""


class DefinitionError(EngageError):
    """A lifecycle definition is inconsistent; raised when it is loaded."""


class AlreadyDecidedError(GuardFailedError):
    """This co-chair's decision is already recorded; a second one (from any channel) changes nothing."""
