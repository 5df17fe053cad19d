"""Domain errors: each message says, in words a person understands, what was wrong.

A refusal that a web page can show is raised with a ``Phrase`` (a catalog msgid and its parameters):
each door says it in its reader's language (``error.phrase.html(language)``), while ``str(error)``
stays the English sentence the CLI and the logs print. Other refusals are raised with plain English text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from website.i18n import N_, N_plural, Phrase


class EngageError(Exception):
    """Base of every refusal by the engine; the database is unchanged when one is raised."""

    phrase: Phrase | None = None
    """The refusal as a catalog message, when it was raised with one."""

    def __init__(self, message: str | Phrase = "", *args: object) -> None:
        if isinstance(message, Phrase):
            self.phrase = message
            message = english(message)
        super().__init__(message, *args)


def english(phrase: Phrase) -> str:
    """``phrase`` as plain English text (the CLI's and the logs' words)."""
    return html.unescape(str(phrase.html("en")))


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with one field of a form: its dotted name (``details.url``) and what to say of it."""

    field: str
    phrase: Phrase


class InputError(EngageError):
    """Input from outside failed validation; the message names every field at fault.

    ``problems`` holds each field's message (all of them, from one validation), for a form to show
    each at its field in its own language.
    """

    def __init__(self, message: str | Phrase = "", *args: object, problems: tuple[FieldProblem, ...] = ()) -> None:
        super().__init__(message, *args)
        self.problems = problems


REQUIRED = N_("Please fill in this field.")
#: What to say of a field by the type of pydantic's error (https://docs.pydantic.dev/latest/errors/validation_errors/).
_BY_TYPE = {
    "missing": REQUIRED,
    "url_scheme": N_("The link must start with http:// or https://."),
    "url_parsing": N_("Please enter a web address (a link starting with https://)."),
    "url_type": N_("Please enter a web address (a link starting with https://)."),
    "url_syntax_violation": N_("Please enter a web address (a link starting with https://)."),
    "enum": N_("Please choose one of the options."),
    "literal_error": N_("Please choose one of the options."),
    "int_parsing": N_("Please enter a whole number."),
    "int_type": N_("Please enter a whole number."),
    "date_parsing": N_("Please enter a date (year-month-day)."),
    "date_from_datetime_parsing": N_("Please enter a date (year-month-day)."),
    "date_type": N_("Please enter a date (year-month-day)."),
    "string_pattern_mismatch": N_("This value does not have the expected form."),
    "extra_forbidden": N_("This field is not part of the form."),
}
_TOO_SHORT = N_plural("Please write at least %(num)s character.", "Please write at least %(num)s characters.")
_TOO_LONG = N_plural("Please write at most %(num)s character.", "Please write at most %(num)s characters.")
_TOO_SMALL = N_("Please enter a number of at least %(num)s.")
_TOO_LARGE = N_("Please enter a number of at most %(num)s.")
_EMAIL = N_("Please enter a valid e-mail address (name@example.org).")
_CONTROL = N_("Please remove the invisible control characters from this text.")
_OTHER = N_("This value cannot be accepted; please check it.")


def field_problem(error: dict[str, Any], where: str = "") -> FieldProblem:
    """One of pydantic's ``ValidationError.errors()`` as a field and a catalog message with its parameters."""
    field = where + (".".join(str(part) for part in error["loc"]) or "input")
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "string_too_short" or (kind == "value_error" and "at least" in error["msg"]):
        least = int(context.get("min_length") or _number_in(error["msg"]) or 1)
        phrase = Phrase.of(REQUIRED) if least <= 1 else Phrase.of(_TOO_SHORT, least, num=least)
    elif kind == "string_too_long" or (kind == "value_error" and "at most" in error["msg"]):
        most = int(context.get("max_length", 0)) or _number_in(error["msg"])
        phrase = Phrase.of(_TOO_LONG, most, num=most)
    elif kind in ("greater_than_equal", "greater_than"):
        phrase = Phrase.of(_TOO_SMALL, num=str(context.get("ge", context.get("gt"))))
    elif kind in ("less_than_equal", "less_than"):
        phrase = Phrase.of(_TOO_LARGE, num=str(context.get("le", context.get("lt"))))
    elif kind == "value_error" and ("email" in error["msg"] or field.endswith("email")):
        phrase = Phrase.of(_EMAIL)
    elif kind == "value_error" and ("control or format" in error["msg"] or "control, format" in error["msg"]):
        phrase = Phrase.of(_CONTROL)
    else:
        phrase = Phrase.of(_BY_TYPE.get(kind, _OTHER))
    return FieldProblem(field, phrase)


def _number_in(text: str) -> int:
    digits = "".join(char if char.isdigit() else " " for char in text).split()
    return int(digits[0]) if digits else 0


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
