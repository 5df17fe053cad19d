"""The demo's 2024 replay ends with the final report, whose figures are those of the replay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.db import Database
from report import latest_year, year_figures
from tests.prerequisites import require_poppler

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(1200)]


def test_the_demo_ends_with_the_report_of_its_2024(prefect_api: None, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    require_poppler()  # before the replay (~75 s), not after it
    # The session's Prefect API (a temporary local server, started as `make demo`'s ephemeral one is),
    # not a second one of its own: starting and migrating one costs ~8 s.
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(tmp_path / "prefect"),
                   "PREFECT_API_URL": PREFECT_API_URL.value(), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "flows.demo", str(tmp_path / "data")], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=1100)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Warning" not in done.stdout + done.stderr, "a newcomer's replay prints no warnings"
    site = tmp_path / "data" / "site"
    for language in ("en", "es", "fr"):
        for suffix in ("html", "pdf"):
            assert (site / "report" / f"report-{language}.{suffix}").stat().st_size > 5_000
    summary = " ".join(done.stdout.split())
    assert f"final report (HTML) │ {site / 'report' / 'report-en.html'}" in summary
    assert f"final report (PDF) │ {site / 'report' / 'report-en.pdf'}" in summary
    assert 'href="report/report-en.html"' in (site / "index.html").read_text("utf-8")

    db = Database(f"sqlite:///{tmp_path / 'data' / 'engage.db'}")
    assert latest_year(db) == 2024
    figures = year_figures(db, 2024)
    db.dispose()
    assert figures.dialogues_by_country == [("FR", 1), ("MX", 1), ("TH", 1)]
    assert figures.dialogues_by_region == [("Americas", 1), ("Asia-Pacific", 1), ("Europe", 1)]
    assert (figures.public_partners, figures.private_partners, figures.dialogues_reported) == (10, 23, 2)
    # France's dialogue: the 14 February of its report, not the 12th when its step was recorded.
    assert {d.country: d.day.isoformat() for d in figures.dialogues} == {"MX": "2024-01-29", "FR": "2024-02-14",
                                                                          "TH": "2024-02-12"}
    # Snap's refused website submission does not count; Discord (invited to the workshop held) and First
    # Meridian Bank (invited to the banking forum held) do; Helix AI Labs, declined by the co-chairs, does not.
    assert dict(figures.partners_by_industry) == {"social_media": 4, "banking": 2, "consignment": 2, "shipping": 2,
                                                  "chemical": 1, "e_commerce": 1, "pharmaceuticals": 1}
    assert [(r.swg, r.proposed, r.approved, r.declined, r.presented) for r in figures.swg_presentations] == [
        ("1.1", 1, 0, 1, 0), ("2.2", 1, 1, 0, 1), ("3.1", 1, 1, 0, 1)]
    assert [m.day.isoformat() for m in figures.alliance_meetings] == ["2024-02-09", "2024-07-11"]
    assert figures.recommendations_by_topic == [("information_sharing", 1, 0), ("innovative_products_and_services", 0, 1)]
    # Banco Continental sent one through the portal: submitted, not yet reviewed.
    assert (figures.achievements_submitted, figures.achievements_accepted, figures.refused_after_window) == (3, 2, 1)
    assert (figures.priority_partners, figures.future_partners, figures.other_partners) == (12, 1, 0)
    assert [(m.day.isoformat(), m.event) for m in figures.timeline if m.kind == "national_dialogue"] == [
        ("2024-01-29", "held"), ("2024-02-12", "held"), ("2024-02-14", "held")]
    assert [s.partner for s in figures.selected] == ["Meta", "X Corp.", "Química Andina S.A."]
    text = subprocess.run(["pdftotext", str(site / "report" / "report-en.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = " ".join(text.split())
    assert ("In the 2 of 3 national dialogues that reported, national authorities convened 10 public and 23 private "
            "partners.") in flat
    assert "Search interventions pointing to treatment resources" in flat
    assert "12 partners came from the six priority industries, 1 from the future areas of opportunity" in flat
