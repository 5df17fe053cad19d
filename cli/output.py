"""How the ``engage`` command prints: a console for answers, one for errors, values from outside as plain text."""

from __future__ import annotations

import unicodedata
from typing import NoReturn

import click
from rich.console import Console
from rich.text import Text

console = Console()
errors = Console(stderr=True)

_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def shown(value: object, style: str = "") -> Text:
    """A value from outside as plain text: no Rich markup; control, format and separator characters
    (terminal escapes, bidi overrides) shown as ``\\uXXXX``, line breaks and ZWNJ/ZWJ kept."""
    text = "" if value is None else str(value)
    if not text.replace("\n", "").isprintable():
        text = "".join(f"\\u{ord(char):04x}" if unicodedata.category(char) in _INVISIBLE and char not in "\n\u200c\u200d"
                       else char for char in text)
    return Text(text, style=style)


def fail(message: str) -> NoReturn:
    """Print a refusal and exit 1."""
    errors.print(Text.assemble(("error:", "bold red"), " ", shown(message)), highlight=False)
    raise click.exceptions.Exit(1)
