"""Checks of plain values that need no pydantic, so that read-only commands can use them."""

from __future__ import annotations

from states.errors import InputError

INT32_MAX = 2**31 - 1
"""The largest value of an INTEGER column on PostgreSQL: every id and count the engine stores."""


def check_id(value: object, field: str = "id") -> int:
    """``value`` as a database id (1 .. 2**31-1), or ``InputError`` naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{field}: must be a whole number, got {type(value).__name__}")
    if not 1 <= value <= INT32_MAX:
        raise InputError(f"{field}: must be between 1 and {INT32_MAX}, got {value}")
    return value
