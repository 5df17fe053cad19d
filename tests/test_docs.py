"""The newcomer's documents stay true: the README's commands exist, it fits on a page, the lifecycle docs are current."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {name for line in text.splitlines() if (rule := re.match(r"^([A-Za-z][\w.-]*)\s*:(?!=)", line))
            for name in rule.group(1).split()}


def test_the_readmes_two_commands_are_makefile_targets() -> None:
    section = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    commands = re.findall(r"^make (\S+)", block, re.MULTILINE)
    assert commands == ["demo", "test"]
    assert set(commands) <= _makefile_targets()


def test_the_readme_fits_on_a_page() -> None:
    assert len(README.splitlines()) <= 250


def test_the_lifecycle_docs_are_what_make_docs_generates() -> None:
    spec = importlib.util.spec_from_file_location("lifecycles_doc", ROOT / "scripts" / "lifecycles_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "lifecycles.md").read_text(encoding="utf-8")
    assert current == module.lifecycles_markdown(), "docs/lifecycles.md is stale: run `make docs`"
    assert "docs" in _makefile_targets()
