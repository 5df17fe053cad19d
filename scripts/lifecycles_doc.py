"""Print docs/lifecycles.md: every lifecycle's Mermaid diagram, as `engage diagram all` draws it.

`make docs` writes it; tests/test_docs.py checks that the file is what this prints.
"""

from __future__ import annotations

import sys

from states.diagram import mermaid
from states.lifecycles import LIFECYCLES

HEADER = """\
# Lifecycles

Generated from the lifecycle declarations (`states/lifecycles/`) by `make docs`: the diagrams that
`engage diagram all` prints, one section per kind; do not edit by hand. Triggers show the roles
allowed to fire them and their guards in brackets; notes show who a waiting state waits on. Every
waiting state also has the sweep's `remind` and `escalate` steps (system only, state kept).
"""


def lifecycles_markdown() -> str:
    """The whole of docs/lifecycles.md."""
    sections = [f"## {lifecycle.title} (`{kind}`)\n\n```mermaid\n{mermaid(lifecycle)}```\n"
                for kind, lifecycle in LIFECYCLES.items()]
    return "\n".join([HEADER, *sections])


if __name__ == "__main__":
    sys.stdout.write(lifecycles_markdown())
