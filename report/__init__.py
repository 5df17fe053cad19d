"""The Coalition's final report on private-sector engagement (figures by SQL, charts, HTML and PDF; no Prefect)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from models.db import Database
from report.figures import YearFigures, latest_year, year_figures
from report.render import Format, render_html, render_pdf, site_home_from_report
from report.texts import staff_texts, texts_folder
from website.i18n import LANGUAGES
from website.render import REPORT_FOLDER


@dataclass(frozen=True)
class WrittenReport:
    """One report file written."""

    path: Path
    language: str
    format: Format
    year: int


def write_report(db: Database, out: Path, *, language: str = "en", format: Format = "html", year: int | None = None,
                 today: date | None = None, in_site: bool = False, texts: Path | None = None) -> WrittenReport:
    """Compute the figures of ``year`` (default: the latest year on record) and write the report to ``out``.

    ``texts``: the folder of the foreword and executive summary staff wrote (report/texts.py).
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    if format not in ("html", "pdf"):
        raise ValueError(f"format must be html or pdf, not {format!r}")
    year = year or latest_year(db)
    html = render_html(year_figures(db, year), language,
                       site_home=site_home_from_report(language) if in_site else None,
                       generated_on=today or date.today(), texts=staff_texts(texts, language))
    _write(out, html, format)
    return WrittenReport(out, language, format, year)


def _write(out: Path, html: str, format: Format) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "html":
        out.write_text(html, encoding="utf-8")
    else:
        out.write_bytes(render_pdf(html))


def report_path(site_dir: Path, language: str, format: Format) -> Path:
    """Where the report of ``language`` is published in the site."""
    return site_dir / REPORT_FOLDER / f"report-{language}.{format}"


def publish_reports(db: Database, site_dir: Path, *, year: int | None = None, today: date | None = None,
                    formats: tuple[Format, ...] = ("html", "pdf"), texts: Path | None = None) -> list[WrittenReport]:
    """Write the report in every language and format into the site's ``report/`` folder.

    The figures are computed once, and each language's page rendered once for all its formats.
    ``texts``: the folder of the foreword and executive summary staff wrote (report/texts.py).
    """
    year = year or latest_year(db)
    figures = year_figures(db, year)
    written = []
    for language in LANGUAGES:
        html = render_html(figures, language, site_home=site_home_from_report(language), generated_on=today or date.today(),
                           texts=staff_texts(texts, language))
        for format in formats:
            path = report_path(site_dir, language, format)
            _write(path, html, format)
            written.append(WrittenReport(path, language, format, year))
    return written


__all__ = ["WrittenReport", "YearFigures", "latest_year", "publish_reports", "report_path", "texts_folder", "write_report",
           "year_figures"]
