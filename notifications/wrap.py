"""Word-wrapping the plain-text part: what Jinja2's ``wordwrap(width, false)`` gives, at a fraction of the cost.

``textwrap`` builds a wrapper and runs a regular expression over every paragraph. Most lines
are short, or plain words between single spaces, where a greedy fill gives exactly
``textwrap``'s lines; anything else (hyphens, tabs, runs of spaces, words made of Unicode
spaces) goes through ``textwrap`` itself. Results are memoized: the parts that do not vary by
recipient (footer, link notice, most paragraphs of a mass notice) are wrapped once per process.
"""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache

_NEEDS_TEXTWRAP = re.compile(r"[-\t]|  |^ |\s$|(?:^| )[^\S ]+(?: |$)")


@lru_cache(maxsize=4096)
def wrap(text: str, width: int = 76) -> str:
    """``text`` wrapped to ``width`` columns, each line on its own, long words kept whole.

    Equal to Jinja2's ``do_wordwrap(text, width, break_long_words=False)``.
    """
    return "\n".join([_wrap_line(line, width) for line in text.splitlines()])


def _wrap_line(line: str, width: int) -> str:
    if len(line) <= width and not line[-1:].isspace():
        return line
    if _NEEDS_TEXTWRAP.search(line):
        return "\n".join(textwrap.wrap(line, width=width, expand_tabs=False, replace_whitespace=False,
                                       break_long_words=False))
    words = line.split(" ")
    lines: list[str] = []
    current = words[0]
    for word in words[1:]:
        if len(current) + 1 + len(word) <= width:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    lines.append(current)
    return "\n".join(lines)
