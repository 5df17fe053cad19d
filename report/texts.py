"""What the Secretariat writes for the final report: a foreword and an executive summary per language.

Staff keep them as Markdown files in one folder (``<data_dir>/report/`` for `engage report` and the
report flow): ``foreword.<lang>.md`` and ``summary.<lang>.md``. The report places them first, after
its title page. They are rendered with the website's policy for written text (paragraphs, lists,
emphasis, quotes, http/https/mailto links; any other markup is dropped); a missing foreword is left
out, a missing summary is replaced by one generated from the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup

from website.view import sanitize

#: The texts staff may write, in the order the report shows them.
TEXT_NAMES = ("foreword", "summary")
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


@dataclass(frozen=True)
class StaffTexts:
    """The foreword and executive summary of one language, as safe HTML (None: not written)."""

    foreword: Markup | None = None
    summary: Markup | None = None


def texts_folder(data_dir: Path) -> Path:
    """Where staff keep the report's texts: ``<data_dir>/report``."""
    return Path(data_dir) / "report"


def staff_texts(folder: Path | None, language: str) -> StaffTexts:
    """The texts of ``language`` found in ``folder`` (empty or missing files count as not written)."""
    if folder is None:
        return StaffTexts()
    found: dict[str, Markup] = {}
    for name in TEXT_NAMES:
        path = Path(folder) / f"{name}.{language}.md"
        source = path.read_text("utf-8") if path.is_file() else ""
        if source.strip():
            found[name] = Markup(sanitize(_MARKDOWN.render(source)))
    return StaffTexts(**found)


__all__ = ["TEXT_NAMES", "StaffTexts", "staff_texts", "texts_folder"]
