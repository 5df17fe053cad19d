"""The catalogs' extraction markers, in a module that imports nothing, so that the lifecycles' declarations (read
by the CLI's quick commands) and every other module mark their messages with the same ``N_``."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the name pybabel extracts
    """Mark ``message`` for extraction into the catalogs; it is translated later, where it is shown."""
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802
    """Mark a message and its plural for extraction (``make catalogs`` passes ``-k N_plural:1,2``)."""
    return singular, plural
