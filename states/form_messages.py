"""What a form says of a field pydantic refused: a catalog message with its parameters, by pydantic's error type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from website.i18n import N_, N_plural, Phrase


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with one field of a form: its dotted name (``details.url``) and what to say of it."""

    field: str
    phrase: Phrase


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
#: What a field is told when pydantic's reason has no message of its own (a model validator's rule).
OTHER = N_("This value cannot be accepted; please check it.")


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
        phrase = Phrase.of(_BY_TYPE.get(kind, OTHER))
    return FieldProblem(field, phrase)


def _number_in(text: str) -> int:
    digits = "".join(char if char.isdigit() else " " for char in text).split()
    return int(digits[0]) if digits else 0
