"""Every figure of the final report follows its rule (report/figures.py) on a year built through the domain."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from report import year_figures
from report.render import render_html
from tests.report_year import EXPECTED, Year, build_year
from tests.world import FRANCE_CHAIR, UNODC_CHAIR

X_CORP = {"role": "partner", "identity": "safety@x.example"}


def test_report_figures_match_the_year(db) -> None:  # noqa: ANN001
    build_year(db)
    figures = year_figures(db, 2024)
    assert figures.dialogues_by_country == EXPECTED["dialogues_by_country"]
    assert figures.dialogues_by_region == EXPECTED["dialogues_by_region"]
    assert {d.country: d.day.isoformat() for d in figures.dialogues} == EXPECTED["dialogue_days"]
    assert (figures.public_partners, figures.private_partners) == (EXPECTED["public_partners"], EXPECTED["private_partners"])
    assert figures.dialogues_reported == EXPECTED["dialogues_reported"]
    assert dict(figures.partners_by_industry) == EXPECTED["partners_by_industry"]
    assert (figures.priority_partners, figures.future_partners, figures.other_partners) == (5, 0, 0)
    assert [(r.swg, r.proposed, r.approved, r.declined, r.presented) for r in figures.swg_presentations] == EXPECTED["swg"]
    assert len(figures.alliance_meetings) == EXPECTED["alliance_meetings"]
    assert figures.recommendations_by_topic == EXPECTED["recommendations_by_topic"]
    assert figures.achievements_submitted == EXPECTED["achievements_submitted"]
    assert figures.achievements_accepted == EXPECTED["achievements_accepted"]
    assert figures.refused_after_window == EXPECTED["refused_after_window"]
    assert [(s.kind, s.partner) for s in figures.selected] == [("achievement", "Meta"), ("recommendation", "Química Andina S.A.")]
    assert [(m.day.isoformat(), m.event) for m in figures.timeline] == EXPECTED["timeline"]
    mixed = replace(figures, partners_by_industry=[("banking", 2), ("pharmaceuticals", 1), ("other", 3)])
    assert (mixed.priority_partners, mixed.future_partners, mixed.other_partners) == (2, 1, 3)
    assert year_figures(db, 2023).dialogues_held == 0  # another year: nothing


def test_a_dialogue_is_dated_and_counted_by_the_held_date_of_its_report(db) -> None:  # noqa: ANN001
    ids = build_year(db)
    figures = year_figures(db, 2024)
    france = next(step for step in figures.timeline if step.engagement_id == ids["dialogue:FR"])
    assert france.day == date(2024, 2, 14)  # the report's date, not the 16th when the step was recorded
    # A dialogue held on 30 December 2024 and recorded in January 2025 belongs to 2024.
    year = Year(db).on("2025-01-06")
    late = year.create({"kind": "national_dialogue", "title": "National dialogue (CA)", "country": "CA",
                        "details": {"organizing_agency": "Health Canada"},
                        "participants": [{"organization": "Government of Canada", "role": "organizer"},
                                         {"organization": "First Meridian Bank", "role": "partner"}]})
    year.fire(late, "convene", "hold")
    year.fire(late, "submit_report", data={"held_on": "2024-12-30", "organizing_agency": "Health Canada",
                                           "public_partners": 2, "private_partners": 3})
    after = year_figures(db, 2024)
    assert dict(after.dialogues_by_country)["CA"] == 1 and after.dialogues_held == 4
    assert (after.public_partners, after.dialogues_reported) == (11, 3)
    assert dict(after.partners_by_industry)["banking"] == 2  # First Meridian Bank, through that dialogue
    assert after.timeline[-1].day == date(2024, 12, 30)
    assert year_figures(db, 2025).dialogues_held == 0


def test_partners_engaged_count_engaged_states_only(db) -> None:  # noqa: ANN001
    build_year(db)
    industries = dict(year_figures(db, 2024).partners_by_industry)
    # Meta and Discord (an invitee of the workshop held); not Snap, whose only submission was refused.
    assert industries["social_media"] == 2
    assert "artificial_intelligence" not in industries  # Helix AI Labs' invitation was declined by the co-chairs
    year = Year(db).on("2024-05-06")
    # X Corp.: an achievement rejected; Snap: an invitation to present withdrawn. Neither engages anyone.
    rejected = year.create({"kind": "achievement", "title": "Rejected", "details": {"summary": "Not an achievement"},
                            "participants": [{"organization": "X Corp.", "role": "partner",
                                              "contact_email": "safety@x.example"}]}, X_CORP)
    year.fire(rejected, "submit", actor=X_CORP)
    year.fire(rejected, "start_review")
    year.fire(rejected, "reject", comment="Out of scope")
    withdrawn = year.create({"kind": "swg_presentation", "title": "Snap at SWG 2.2", "swg_code": "2.2", "details": {"topic": "Safety"},
                             "participants": [{"organization": "Snap Inc.", "role": "presenter"}]})
    year.fire(withdrawn, "withdraw", comment="Not this year")
    # A forum held with two invited banks: both count (one was already engaged through Mexico's dialogue).
    forum = year.create({"kind": "private_sector_forum", "title": "Banking forum", "meeting_id": 7,
                         "details": {"focus": "banking_forum", "purpose": "Financial flows."},
                         "participants": [{"organization": "FATF", "role": "host"},
                                          {"organization": "Banco Continental", "role": "invitee"},
                                          {"organization": "First Meridian Bank", "role": "invitee"}]})
    year.fire(forum, "schedule", "send_invitations")
    assert dict(year_figures(db, 2024).partners_by_industry)["banking"] == 1  # invited, not yet held
    year.fire(forum, "hold")
    industries = dict(year_figures(db, 2024).partners_by_industry)
    assert industries["banking"] == 2 and industries["social_media"] == 2
    assert "other" not in industries  # FATF, the host (no industry), never counts
    # An invitation to present accepted engages its presenter even before the presentation.
    accepted = year.create({"kind": "swg_presentation", "title": "X at SWG 2.2", "swg_code": "2.2", "details": {"topic": "Search"},
                            "participants": [{"organization": "X Corp.", "role": "presenter",
                                              "contact_email": "safety@x.example"}]})
    year.fire(accepted, "request_approval")
    year.fire(accepted, "approve", actor=FRANCE_CHAIR)
    year.fire(accepted, "approve", actor=UNODC_CHAIR)
    assert dict(year_figures(db, 2024).partners_by_industry)["social_media"] == 2
    year.fire(accepted, "accept", actor=X_CORP)
    assert dict(year_figures(db, 2024).partners_by_industry)["social_media"] == 3


def test_a_figure_from_part_of_the_records_says_so(db) -> None:  # noqa: ANN001
    build_year(db)
    figures = year_figures(db, 2024)
    for language, sentence in (
        ("en", "In the 2 of 3 national dialogues that reported, national authorities convened 9 public and 19 private"),
        ("es", "En los 2 de 3 diálogos nacionales que presentaron informe"),
        ("fr", "Dans les 2 dialogues nationaux sur 3 qui ont rendu un rapport"),
    ):
        html = " ".join(render_html(figures, language, generated_on=date(2025, 1, 20)).split())
        assert sentence in html, language
        assert 'id="method"' in html and html.count("<dt>") >= 10  # the method note, one rule a figure
    everyone = replace(figures, dialogues=[d for d in figures.dialogues if d.reported])
    html = " ".join(render_html(everyone, "en", generated_on=date(2025, 1, 20)).split())
    assert "National authorities convened 9 public and 19 private partners in 2 national dialogues." in html
    assert "2 of 2" not in html and "from the 2 of" not in html
