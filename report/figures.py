"""The year in numbers, computed from the engine's database (domain only, no Prefect).

Each figure has one rule, written in the docstring of the function that computes it and, in the
same words, in the report's method note (report/templates/report.html, translated with it):

- an event's date is the day it took place by its record, never the day its step was recorded when
  the record says otherwise (`event_day`);
- a figure that only part of the records can give says from how many it comes (`YearFigures.public_partners`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.orm import Session

from models import (
    DialogueReport, Engagement, Meeting, Organization, Participant, SubmissionWindow, SubWorkingGroup, TransitionLog,
)
from models.db import Database
from models.enums import EngagementKind, ParticipantRole
from website.render import FUTURE_INDUSTRIES, PRIORITY_INDUSTRIES

SUBMITTED_KINDS = ("recommendation", "achievement", "website_submission")
#: The roles of the private-sector organizations of an engagement (not its organizer or host).
PARTNER_ROLES = (ParticipantRole.PARTNER, ParticipantRole.PRESENTER, ParticipantRole.INVITEE)
#: The states in which an engagement has engaged its partners, by kind: the meeting took place, the
#: invitation to present was accepted, the submission was accepted (or approved for the website).
ENGAGED_STATES: dict[str, tuple[str, ...]] = {
    EngagementKind.NATIONAL_DIALOGUE: ("held",),
    EngagementKind.SWG_PRESENTATION: ("accepted", "presented"),
    EngagementKind.ALLIANCE_MEETING: ("held",),
    EngagementKind.PRIVATE_SECTOR_FORUM: ("held",),
    EngagementKind.TOOLKIT_LAUNCH: ("presented", "launched"),
    EngagementKind.WEBSITE_SUBMISSION: ("approved",),
    EngagementKind.RECOMMENDATION: ("accepted",),
    EngagementKind.ACHIEVEMENT: ("accepted",),
}
#: Steps the reminder sweep logs without changing the state: they never count as reaching one.
SWEEP_TRIGGERS = ("remind", "escalate")
#: Up to this many steps the report lists each one; beyond, it sums them up by month.
TIMELINE_DETAIL_LIMIT = 60
TIMELINE_TRIGGERS = {
    "hold": "held", "record_presentation": "presented", "present": "presented", "launch": "launched",
}
#: Events that take place at the engagement's meeting, when it has one.
MEETING_EVENTS = ("held", "presented")


@dataclass(frozen=True)
class SwgCounts:
    """Invitations to present at one Sub-Working Group."""

    swg: str
    proposed: int
    approved: int
    declined: int
    presented: int
    titles: dict[str, str] = field(default_factory=dict)
    """The SWG's title by language (``en``, and ``es``, ``fr`` where the reference data has them)."""


@dataclass(frozen=True)
class Selected:
    """An achievement or recommendation the Secretariat selected for the report."""

    engagement_id: int
    kind: str
    title: str
    partner: str
    text: str
    language: str | None


@dataclass(frozen=True)
class Milestone:
    """One dated step of the year's engagements."""

    day: date
    kind: str
    title: str
    event: str
    engagement_id: int = 0


@dataclass(frozen=True)
class Dialogue:
    """A national dialogue held in the year, with what its report says (None: not reported)."""

    engagement_id: int
    country: str
    region: str
    day: date
    public_partners: int | None
    private_partners: int | None

    @property
    def reported(self) -> bool:
        return self.public_partners is not None


@dataclass
class YearFigures:
    """Every figure of the final report."""

    year: int
    dialogues: list[Dialogue] = field(default_factory=list)
    partners_by_industry: list[tuple[str, int]] = field(default_factory=list)
    swg_presentations: list[SwgCounts] = field(default_factory=list)
    alliance_meetings: list[Milestone] = field(default_factory=list)
    recommendations_by_topic: list[tuple[str, int, int]] = field(default_factory=list)
    early_deadline: date | None = None
    achievements_submitted: int = 0
    achievements_accepted: int = 0
    refused_after_window: int = 0
    selected: list[Selected] = field(default_factory=list)
    timeline: list[Milestone] = field(default_factory=list)

    @property
    def dialogues_held(self) -> int:
        return len(self.dialogues)

    @property
    def dialogues_by_country(self) -> list[tuple[str, int]]:
        """(country code, dialogues held), most first."""
        return _counted(dialogue.country for dialogue in self.dialogues)

    @property
    def dialogues_by_region(self) -> list[tuple[str, int]]:
        """(region of the organizing government, dialogues held), most first."""
        return _counted(dialogue.region for dialogue in self.dialogues)

    @property
    def dialogues_reported(self) -> int:
        """How many of the dialogues held have a report (the partners convened come from these alone)."""
        return sum(dialogue.reported for dialogue in self.dialogues)

    @property
    def public_partners(self) -> int:
        """Rule: the sum of the public partners the reports of the dialogues held give (from those that reported
        alone: the report says from how many, `dialogues_reported` of `dialogues_held`)."""
        return sum(dialogue.public_partners or 0 for dialogue in self.dialogues)

    @property
    def private_partners(self) -> int:
        """Rule: as `public_partners`, for the private partners."""
        return sum(dialogue.private_partners or 0 for dialogue in self.dialogues)

    @property
    def partners_engaged(self) -> int:
        return sum(count for _, count in self.partners_by_industry)

    @property
    def timeline_by_month(self) -> list[tuple[date, str, str, int]]:
        """The timeline summed up: (first day of the month, kind, step, how many), in order."""
        counts: dict[tuple[date, str, str], int] = {}
        for step in self.timeline:
            key = (step.day.replace(day=1), str(step.kind), step.event)
            counts[key] = counts.get(key, 0) + 1
        return [(month, kind, event, count) for (month, kind, event), count in counts.items()]

    @property
    def priority_partners(self) -> int:
        return sum(count for industry, count in self.partners_by_industry if industry in PRIORITY_INDUSTRIES)

    @property
    def future_partners(self) -> int:
        """Partners from the future areas of opportunity (artificial intelligence, pharmaceuticals)."""
        return sum(count for industry, count in self.partners_by_industry if industry in FUTURE_INDUSTRIES)

    @property
    def other_partners(self) -> int:
        """Partners from neither the priority industries nor the future areas."""
        return sum(count for industry, count in self.partners_by_industry
                   if industry not in PRIORITY_INDUSTRIES and industry not in FUTURE_INDUSTRIES)


def _counted(values) -> list[tuple[str, int]]:  # noqa: ANN001 - any iterable of labels
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def _in_year(column, year: int):  # noqa: ANN001, ANN202 - SQLAlchemy column and clause
    return and_(column >= datetime(year, 1, 1, tzinfo=timezone.utc), column < datetime(year + 1, 1, 1, tzinfo=timezone.utc))


def _count_if(condition):  # noqa: ANN001, ANN202 - SQLAlchemy clause
    return func.sum(case((condition, 1), else_=0))


ACTIVITY_TRIGGERS = ("hold", "record_presentation", "present", "launch", "submit", "resubmit", "submit_report")


def latest_year(source: Session | Database) -> int:
    """The latest year in which engagements were held, presented or submitted (what a report is about).

    Publication and selection steps do not count: the Secretariat publishes and selects in January
    what happened the year before.
    """
    if isinstance(source, Database):
        with source.transaction() as session:
            return latest_year(session)
    latest = source.scalar(select(func.max(TransitionLog.at)).where(TransitionLog.trigger.in_(ACTIVITY_TRIGGERS)))
    return latest.year if latest else date.today().year


def event_day(event: str, recorded: date, held_on: date | None, meeting_day: date | None) -> date:
    """Rule: an event's date is the day it took place by its record, not the day its step was recorded.

    A national dialogue was held on the date its report gives (the day its ``hold`` step was recorded
    when it has no report); a meeting was held, and a presentation given, on the date of the
    engagement's meeting when it has one; any other step on the day it was recorded.
    """
    if event == "held" and held_on is not None:
        return held_on
    if event in MEETING_EVENTS and meeting_day is not None:
        return meeting_day
    return recorded


def timeline(session: Session, year: int) -> list[Milestone]:
    """Rule: every engagement held, presented or launched whose date (`event_day`) falls in the year, in date order."""
    rows = session.execute(
        select(Engagement.id, Engagement.kind, Engagement.title, TransitionLog.trigger, TransitionLog.at,
               DialogueReport.held_on, Meeting.starts_on)
        .join(TransitionLog, TransitionLog.engagement_id == Engagement.id)
        .outerjoin(DialogueReport, DialogueReport.engagement_id == Engagement.id)
        .outerjoin(Meeting, Meeting.id == Engagement.meeting_id)
        # A report may date a dialogue into the year before or after the step: look one year around.
        .where(TransitionLog.trigger.in_(TIMELINE_TRIGGERS),
               TransitionLog.at >= datetime(year - 1, 1, 1, tzinfo=timezone.utc),
               TransitionLog.at < datetime(year + 2, 1, 1, tzinfo=timezone.utc))
        .order_by(TransitionLog.at, TransitionLog.id)
    )
    events = [
        Milestone(event_day(TIMELINE_TRIGGERS[trigger], at.date(), held_on, meeting_day), kind, title,
                  TIMELINE_TRIGGERS[trigger], engagement_id)
        for engagement_id, kind, title, trigger, at, held_on, meeting_day in rows
    ]
    return sorted((event for event in events if event.day.year == year), key=lambda event: (event.day, event.engagement_id))


def dialogues(session: Session, events: list[Milestone]) -> list[Dialogue]:
    """Rule: a national dialogue counts in the year its held date (`event_day`) falls in, once.

    Its country is the engagement's; its region the region of its organizing government.
    """
    held = {event.engagement_id: event.day for event in events
            if event.kind == EngagementKind.NATIONAL_DIALOGUE and event.event == "held"}
    region = (
        select(func.min(Organization.region)).join(Participant, Participant.organization_id == Organization.id)
        .where(Participant.engagement_id == Engagement.id, Participant.role == ParticipantRole.ORGANIZER)
        .correlate(Engagement).scalar_subquery()
    )
    rows = session.execute(
        select(Engagement.id, Engagement.country, region, DialogueReport.public_partners, DialogueReport.private_partners)
        .outerjoin(DialogueReport, DialogueReport.engagement_id == Engagement.id)
        .where(Engagement.id.in_(held)).order_by(Engagement.id)
    )
    return [Dialogue(engagement_id, country or "", region_name or "Unspecified", held[engagement_id], public, private)
            for engagement_id, country, region_name, public, private in rows]


def partners_by_industry(session: Session, year: int, dialogues_held: list[Dialogue]) -> list[tuple[str, int]]:
    """Rule: partners engaged are the organizations that took part in an engagement that reached an engaged state.

    Engaged states (`ENGAGED_STATES`): a dialogue or meeting held, an invitation to present accepted,
    a submission accepted (approved, for the website). The organization is a partner, presenter or
    invitee of it (never its organizer or host); the engagement counts in the year it reached that
    state (a dialogue: the year of its held date). A refused, withdrawn, rejected or never sent
    submission, or an invitation declined, engages no one. Each organization counts once, under its
    industry ("other" when it has none). The engine records no answer per invitee of a meeting: every
    invitee of a meeting held counts.
    """
    reached = or_(*(and_(Engagement.kind == kind, TransitionLog.to_state.in_(states))
                    for kind, states in ENGAGED_STATES.items() if kind != EngagementKind.NATIONAL_DIALOGUE))
    engaged = select(Engagement.id).join(TransitionLog, TransitionLog.engagement_id == Engagement.id).where(
        reached, TransitionLog.trigger.not_in(SWEEP_TRIGGERS), _in_year(TransitionLog.at, year))
    ids = or_(Participant.engagement_id.in_(engaged), Participant.engagement_id.in_([d.engagement_id for d in dialogues_held]))
    organizations = (
        select(Organization.id, Organization.industry).join(Participant, Participant.organization_id == Organization.id)
        .where(Participant.role.in_(PARTNER_ROLES), ids).distinct().subquery()
    )
    return [
        (industry or "other", count) for industry, count in session.execute(
            select(organizations.c.industry, func.count()).group_by(organizations.c.industry)
            .order_by(func.count().desc(), organizations.c.industry)
        )
    ]


def _reached(state: str):  # noqa: ANN202 - a correlated EXISTS
    return (
        select(TransitionLog.id).where(TransitionLog.engagement_id == Engagement.id, TransitionLog.to_state == state,
                                       TransitionLog.trigger.not_in(SWEEP_TRIGGERS))
        .exists()
    )


def swg_presentations(session: Session, year: int) -> list[SwgCounts]:
    """Rule: invitations to present proposed in the year, by Sub-Working Group, with how many reached
    approved, declined (by the co-chairs) and presented, whenever they reached it."""
    rows = session.execute(
        select(Engagement.swg_code, func.count(), _count_if(_reached("approved")), _count_if(_reached("declined")),
               _count_if(_reached("presented")))
        .where(Engagement.kind == EngagementKind.SWG_PRESENTATION, _in_year(Engagement.created_at, year))
        .group_by(Engagement.swg_code).order_by(Engagement.swg_code)
    )
    titles = {swg.code: {"en": swg.title, "es": swg.title_es or swg.title, "fr": swg.title_fr or swg.title}
              for swg in session.scalars(select(SubWorkingGroup))}
    return [SwgCounts(code or "", int(proposed), int(approved or 0), int(declined or 0), int(presented or 0),
                      titles.get(code or "", {}))
            for code, proposed, approved, declined, presented in rows]


def alliance_meetings(events: list[Milestone]) -> list[Milestone]:
    """Rule: the Prevent Alliance meetings held in the year, on the date of their meeting (`event_day`)."""
    return [event for event in events if event.kind == EngagementKind.ALLIANCE_MEETING and event.event == "held"]


def recommendations_by_topic(session: Session, year: int, early_deadline: date | None) -> list[tuple[str, int, int]]:
    """Rule: recommendations sent in the year (the day the Secretariat received them), by topic: how many
    by the early deadline (that day included) and how many after it."""
    submitted_on = Engagement.details["submitted_on"].as_string()
    topic = Engagement.details["topic"].as_string()
    cutoff = (early_deadline or date(year, 12, 31)).isoformat()
    return [
        (name or "", int(before or 0), int(total) - int(before or 0))
        for name, before, total in session.execute(
            select(topic, _count_if(submitted_on <= cutoff), func.count())
            .where(Engagement.kind == EngagementKind.RECOMMENDATION, submitted_on.is_not(None),
                   submitted_on >= f"{year}-01-01", submitted_on <= f"{year}-12-31")
            .group_by(topic).order_by(topic)
        )
    ]


def achievements(session: Session, year: int) -> tuple[int, int]:
    """Rule: achievements sent in the year (the day received), and achievements the Secretariat accepted
    in the year (the day of its decision)."""
    submitted_on = Engagement.details["submitted_on"].as_string()
    submitted = session.scalar(
        select(func.count()).select_from(Engagement).where(
            Engagement.kind == EngagementKind.ACHIEVEMENT, submitted_on >= f"{year}-01-01", submitted_on <= f"{year}-12-31")
    ) or 0
    accepted = session.scalar(
        select(func.count(distinct(TransitionLog.engagement_id))).join(Engagement, Engagement.id == TransitionLog.engagement_id)
        .where(Engagement.kind == EngagementKind.ACHIEVEMENT, TransitionLog.trigger == "accept", _in_year(TransitionLog.at, year))
    ) or 0
    return submitted, accepted


def refused_after_window(session: Session, year: int) -> int:
    """Rule: submissions begun in the year after their window had closed, and so never sent (still drafts)."""
    return session.scalar(
        select(func.count()).select_from(Engagement).join(SubmissionWindow, SubmissionWindow.kind == Engagement.kind)
        .where(Engagement.kind.in_(SUBMITTED_KINDS), Engagement.state == "draft",
               func.date(Engagement.created_at) > SubmissionWindow.closes_on, _in_year(Engagement.created_at, year))
    ) or 0


def selected(session: Session) -> list[Selected]:
    """Rule: the achievements and recommendations the Secretariat selected for the report, unless since
    unpublished or rejected; quoted in the partner's words."""
    partner_name = (
        select(func.min(Organization.name)).join(Participant, Participant.organization_id == Organization.id)
        .where(Participant.engagement_id == Engagement.id, Participant.role.in_(PARTNER_ROLES))
        .correlate(Engagement).scalar_subquery()
    )
    selected_ids = select(TransitionLog.engagement_id).where(TransitionLog.trigger == "select_for_report")
    return [
        Selected(engagement_id, kind, title, partner or "",
                 str(details.get("summary") or details.get("text") or ""), details.get("language"))
        for engagement_id, kind, title, details, partner in session.execute(
            select(Engagement.id, Engagement.kind, Engagement.title, Engagement.details, partner_name)
            .where(Engagement.id.in_(selected_ids), Engagement.state.not_in(("unpublished", "rejected")))
            .order_by(Engagement.kind, Engagement.id)
        )
    ]


def year_figures(source: Session | Database, year: int) -> YearFigures:
    """Compute the report's figures for ``year``, each by its rule, from the audit log and the engagements."""
    if isinstance(source, Database):
        with source.transaction() as session:
            return year_figures(session, year)
    session = source
    events = timeline(session, year)
    held = dialogues(session, events)
    window = session.get(SubmissionWindow, "recommendation")
    early_deadline = window.early_deadline if window else None
    submitted, accepted = achievements(session, year)
    return YearFigures(
        year=year,
        dialogues=held,
        partners_by_industry=partners_by_industry(session, year, held),
        swg_presentations=swg_presentations(session, year),
        alliance_meetings=alliance_meetings(events),
        recommendations_by_topic=recommendations_by_topic(session, year, early_deadline),
        early_deadline=early_deadline,
        achievements_submitted=submitted,
        achievements_accepted=accepted,
        refused_after_window=refused_after_window(session, year),
        selected=selected(session),
        timeline=events,
    )
