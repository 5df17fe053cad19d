"""Domain errors: each message says, in words a person understands, what was wrong.

A refusal that a web page can show is raised with a ``Phrase`` (a catalog msgid and its parameters):
each door says it in its reader's language (``error.phrase.html(language)``), while ``str(error)``
stays the English sentence the CLI and the logs print. Other refusals are raised with plain English text.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI's read-only commands import this module, and nothing heavy with it
    from states.form_messages import FieldProblem
    from website.i18n import Phrase


class EngageError(Exception):
    """Base of every refusal by the engine; the database is unchanged when one is raised."""

    phrase: Phrase | None = None
    """The refusal as a catalog message, when it was raised with one."""
    seen: Any = None
    """What the refused step's read saw, when a transition was refused after its read (a ``states.workflow.Seen``;
    typed loosely here: the engine's errors import nothing of the engine)."""

    def __init__(self, message: str | Phrase = "", *args: object) -> None:
        if not isinstance(message, str):
            self.phrase = message
            message = english(message)
        super().__init__(message, *args)


def english(phrase: Phrase) -> str:
    """``phrase`` as plain English text (the CLI's and the logs' words)."""
    return html.unescape(str(phrase.html("en")))


class InputError(EngageError):
    """Input from outside failed validation; the message names every field at fault.

    ``problems`` holds each field's message (all of them, from one validation), for a form to show
    each at its field in its own language.
    """

    def __init__(self, message: str | Phrase = "", *args: object, problems: tuple[FieldProblem, ...] = ()) -> None:
        super().__init__(message, *args)
        self.problems = problems


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
