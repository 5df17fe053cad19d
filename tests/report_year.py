"""A small 2024 built through the domain (no Prefect), whose report figures are known exactly."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from models.db import Database
from states.clock import SimulatedClock
from states.errors import GuardFailedError
from states.workflow import apply_transition, create_engagement
from tests.world import CANADA_CHAIR, FRANCE_CHAIR, MEXICO, SECRETARIAT, UNODC_CHAIR, seeded

META = {"role": "partner", "identity": "policy@meta.example"}
SNAP = {"role": "partner", "identity": "policy@snap.example"}
QUIMICA = {"role": "partner", "identity": "mfernandez@quimica-andina.example"}
HOSTILE = '<script>alert("report")</script><img src=x onerror=alert(2)>Precursor alerts'

#: What the report must say about this year, by the rules of report/figures.py.
EXPECTED = {
    # Thailand held its dialogue and never reported it: 3 held, 2 reported.
    "dialogues_by_country": [("FR", 1), ("MX", 1), ("TH", 1)],
    "dialogues_by_region": [("Americas", 1), ("Asia-Pacific", 1), ("Europe", 1)],
    "dialogues_reported": 2,
    "public_partners": 9, "private_partners": 19,
    # France's step was recorded on 16 February; its report says it was held on the 14th.
    "dialogue_days": {"MX": "2024-01-29", "FR": "2024-02-14", "TH": "2024-03-01"},
    # Meta (presenter, invitee), Discord (an invitee of the workshop held); Snap's refused submission and
    # Helix AI Labs' declined invitation engage no one.
    "partners_by_industry": {"social_media": 2, "banking": 1, "chemical": 1, "shipping": 1},
    "swg": [("1.1", 1, 0, 1, 0), ("2.2", 1, 1, 0, 1)],
    "alliance_meetings": 1,
    "recommendations_by_topic": [("information_sharing", 1, 0), ("policy", 0, 1)],
    "achievements_submitted": 1, "achievements_accepted": 1, "refused_after_window": 1, "selected": 2,
    "timeline": [("2024-01-29", "held"), ("2024-02-09", "held"), ("2024-02-14", "held"), ("2024-02-20", "presented"),
                 ("2024-03-01", "held")],
}


class Year:
    """Moves a simulated clock through 2024 and fires steps as the people of the Coalition would."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = SimulatedClock(datetime(2024, 1, 8, 9, tzinfo=timezone.utc))

    def on(self, day: str) -> Year:
        self.clock.set(datetime.fromisoformat(day).replace(hour=9, tzinfo=timezone.utc))
        return self

    def create(self, spec: dict[str, Any], actor: dict[str, str] = SECRETARIAT) -> int:
        return create_engagement(self.db, spec, actor, clock=self.clock)

    def fire(self, engagement: int, *triggers: str, actor: dict[str, str] = SECRETARIAT, **extra: Any) -> None:
        for trigger in triggers:
            apply_transition(self.db, engagement, trigger, actor, clock=self.clock, **extra)


def build_year(db: Database) -> dict[str, int]:
    """Load the sample and replay a small 2024; returns the engagement ids by name."""
    seeded(db)
    year = Year(db).on("2024-01-08")
    ids: dict[str, int] = {}
    for key, country, government, partners in (
        ("dialogue:MX", "MX", "Government of Mexico", ["Química Andina S.A.", "Banco Continental"]),
        ("dialogue:FR", "FR", "Government of France", ["Atlantique Maritime"]),
        ("dialogue:TH", "TH", "Government of Thailand", []),
    ):
        ids[key] = year.create({
            "kind": "national_dialogue", "title": f"National dialogue ({country})", "country": country,
            "details": {"organizing_agency": government},
            "participants": [{"organization": government, "role": "organizer"},
                             *({"organization": name, "role": "partner"} for name in partners)],
        })
        year.fire(ids[key], "convene")
    year.on("2024-01-15")
    ids["pres:meta"] = year.create({"kind": "swg_presentation", "title": "Meta presents at SWG 2.2", "swg_code": "2.2",
                                    "details": {"topic": "Drug sales online"},
                                    "participants": [{"organization": "Meta", "role": "presenter",
                                                      "contact_email": "policy@meta.example"}]})
    ids["pres:helix"] = year.create({"kind": "swg_presentation", "title": "Helix AI Labs at SWG 1.1", "swg_code": "1.1",
                                     "details": {"topic": "AI detection"},
                                     "participants": [{"organization": "Helix AI Labs", "role": "presenter"}]})
    year.fire(ids["pres:meta"], "request_approval")
    year.fire(ids["pres:helix"], "request_approval")
    year.on("2024-01-18").fire(ids["pres:meta"], "approve", actor=FRANCE_CHAIR)
    year.fire(ids["pres:meta"], "approve", actor=UNODC_CHAIR)
    year.fire(ids["pres:helix"], "decline", actor=CANADA_CHAIR, comment="Not this session")
    year.fire(ids["pres:meta"], "accept", actor=META)
    ids["alliance"] = year.on("2024-01-22").create({
        "kind": "alliance_meeting", "title": "Prevent Alliance workshop", "meeting_id": 1,
        "details": {"purpose": "Youth prevention framework"},
        "participants": [{"organization": "Meta", "role": "invitee", "contact_email": "policy@meta.example"},
                         {"organization": "Discord", "role": "invitee"},
                         {"organization": "UNODC", "role": "host"}]})
    year.fire(ids["alliance"], "schedule", "send_invitations")
    year.on("2024-01-29").fire(ids["dialogue:MX"], "hold", actor=MEXICO)
    year.fire(ids["dialogue:MX"], "submit_report", actor=MEXICO, data={
        "held_on": "2024-01-29", "organizing_agency": "CONADIC", "public_partners": 6, "private_partners": 14,
        "narrative": "Chemical, shipping and banking firms met.", "areas_of_discussion": ["precursors"]})
    year.fire(ids["dialogue:MX"], "start_review", "publish")
    year.on("2024-02-09").fire(ids["alliance"], "hold")
    year.on("2024-02-16").fire(ids["dialogue:FR"], "hold")
    year.fire(ids["dialogue:FR"], "submit_report", data={
        "held_on": "2024-02-14", "organizing_agency": "MILDECA", "public_partners": 3, "private_partners": 5})

    year.on("2024-02-20").fire(ids["pres:meta"], "record_presentation")
    year.on("2024-03-01").fire(ids["dialogue:TH"], "hold")

    for key, day, topic, text in (("rec:early", "2024-04-10", "information_sharing", HOSTILE),
                                  ("rec:late", "2024-06-03", "policy", "Align platform policies.")):
        ids[key] = year.on(day).create({
            "kind": "recommendation", "title": f"Recommendation on {topic}", "details": {"topic": topic, "text": text},
            "participants": [{"organization": "Química Andina S.A.", "role": "partner",
                              "contact_email": "mfernandez@quimica-andina.example"}]}, QUIMICA)
        year.fire(ids[key], "submit", actor=QUIMICA)
        year.fire(ids[key], "start_review", "accept")
    year.fire(ids["rec:early"], "select_for_report")

    ids["ach:meta"] = year.on("2024-08-01").create({
        "kind": "achievement", "title": "Meta removed drug-sale listings",
        "details": {"summary": "Removed drug-sale listings at scale", "received_via": "website"},
        "participants": [{"organization": "Meta", "role": "partner", "contact_email": "policy@meta.example"}]}, META)
    year.fire(ids["ach:meta"], "submit", actor=META)
    year.fire(ids["ach:meta"], "start_review", "accept", "select_for_report")

    ids["web:late"] = year.on("2024-10-05").create({
        "kind": "website_submission", "title": "Late safety video",
        "details": {"media": "video", "url": "https://example.org/video", "summary": "A video."},
        "participants": [{"organization": "Snap Inc.", "role": "partner", "contact_email": "policy@snap.example"}]}, SNAP)
    try:
        year.fire(ids["web:late"], "submit", actor=SNAP)
    except GuardFailedError:
        pass
    else:  # pragma: no cover - the guard must refuse
        raise AssertionError("a submission after the window was accepted")
    return ids
