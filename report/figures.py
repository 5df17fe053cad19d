"""The year in numbers, computed by SQL over the engine's database (domain only, no Prefect)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.orm import Session, aliased

from models import DialogueReport, Engagement, Organization, Participant, SubmissionWindow, TransitionLog
from models.db import Database
from models.enums import EngagementKind, ParticipantRole
from website.render import FUTURE_INDUSTRIES, PRIORITY_INDUSTRIES

SUBMITTED_KINDS = ("recommendation", "achievement", "website_submission")
PARTNER_ROLES = (ParticipantRole.PARTNER, ParticipantRole.PRESENTER)
#: Up to this many steps the report lists each one; beyond, it sums them up by month.
TIMELINE_DETAIL_LIMIT = 60
TIMELINE_TRIGGERS = {
    "hold": "held", "record_presentation": "presented", "present": "presented", "launch": "launched",
}


@dataclass(frozen=True)
class SwgCounts:
    """Invitations to present at one Sub-Working Group."""

    swg: str
    proposed: int
    approved: int
    declined: int
    presented: int


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


@dataclass
class YearFigures:
    """Every figure of the final report."""

    year: int
    dialogues_by_country: list[tuple[str, int]] = field(default_factory=list)
    dialogues_by_region: list[tuple[str, int]] = field(default_factory=list)
    public_partners: int = 0
    private_partners: int = 0
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
        return sum(count for _, count in self.dialogues_by_country)

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


def year_figures(source: Session | Database, year: int) -> YearFigures:
    """Compute the report's figures for ``year`` from the audit log and the engagements."""
    if isinstance(source, Database):
        with source.transaction() as session:
            return year_figures(session, year)
    session = source
    figures = YearFigures(year=year)
    step = aliased(TransitionLog)

    held = (
        select(Engagement.id, Engagement.country).join(step, step.engagement_id == Engagement.id)
        .where(Engagement.kind == EngagementKind.NATIONAL_DIALOGUE, step.trigger == "hold", _in_year(step.at, year))
        .distinct().subquery()
    )
    figures.dialogues_by_country = [
        (country or "", count) for country, count in session.execute(
            select(held.c.country, func.count()).group_by(held.c.country).order_by(func.count().desc(), held.c.country)
        )
    ]
    organizer_region = (
        select(Participant.engagement_id, func.min(Organization.region).label("region"))
        .join(Organization, Organization.id == Participant.organization_id)
        .where(Participant.role == ParticipantRole.ORGANIZER).group_by(Participant.engagement_id).subquery()
    )
    figures.dialogues_by_region = [
        (region or "Unspecified", count) for region, count in session.execute(
            select(organizer_region.c.region, func.count()).select_from(held)
            .outerjoin(organizer_region, organizer_region.c.engagement_id == held.c.id)
            .group_by(organizer_region.c.region).order_by(func.count().desc(), organizer_region.c.region)
        )
    ]
    public, private = session.execute(
        select(func.coalesce(func.sum(DialogueReport.public_partners), 0),
               func.coalesce(func.sum(DialogueReport.private_partners), 0))
        .where(DialogueReport.engagement_id.in_(select(held.c.id)))
    ).one()
    figures.public_partners, figures.private_partners = int(public), int(private)

    engaged = (
        select(Organization.id, Organization.industry)
        .join(Participant, Participant.organization_id == Organization.id)
        .join(Engagement, Engagement.id == Participant.engagement_id)
        .where(Participant.role.in_(PARTNER_ROLES), _in_year(Engagement.created_at, year))
        .distinct().subquery()
    )
    figures.partners_by_industry = [
        (industry or "other", count) for industry, count in session.execute(
            select(engaged.c.industry, func.count()).group_by(engaged.c.industry)
            .order_by(func.count().desc(), engaged.c.industry)
        )
    ]

    def reached(state: str):  # noqa: ANN202 - a correlated EXISTS
        return (
            select(TransitionLog.id).where(TransitionLog.engagement_id == Engagement.id, TransitionLog.to_state == state,
                                           TransitionLog.trigger != "remind", TransitionLog.trigger != "escalate")
            .exists()
        )

    swg_rows = session.execute(
        select(
            Engagement.swg_code, func.count(),
            _count_if(reached("approved")), _count_if(reached("declined")), _count_if(reached("presented")),
        )
        .where(Engagement.kind == EngagementKind.SWG_PRESENTATION, _in_year(Engagement.created_at, year))
        .group_by(Engagement.swg_code).order_by(Engagement.swg_code)
    )
    figures.swg_presentations = [
        SwgCounts(code or "", int(proposed), int(approved or 0), int(declined or 0), int(presented or 0))
        for code, proposed, approved, declined, presented in swg_rows
    ]

    figures.alliance_meetings = [
        Milestone(at.date(), EngagementKind.ALLIANCE_MEETING, title, "held")
        for title, at in session.execute(
            select(Engagement.title, step.at).join(step, step.engagement_id == Engagement.id)
            .where(Engagement.kind == EngagementKind.ALLIANCE_MEETING, step.trigger == "hold", _in_year(step.at, year))
            .order_by(step.at)
        )
    ]

    window = session.get(SubmissionWindow, "recommendation")
    figures.early_deadline = window.early_deadline if window else None
    submitted_on = Engagement.details["submitted_on"].as_string()
    topic = Engagement.details["topic"].as_string()
    cutoff = (figures.early_deadline or date(year, 12, 31)).isoformat()
    early = _count_if(submitted_on <= cutoff)
    figures.recommendations_by_topic = [
        (name or "", int(before or 0), int(total) - int(before or 0))
        for name, before, total in session.execute(
            select(topic, early, func.count())
            .where(Engagement.kind == EngagementKind.RECOMMENDATION, submitted_on.is_not(None),
                   submitted_on >= f"{year}-01-01", submitted_on <= f"{year}-12-31")
            .group_by(topic).order_by(topic)
        )
    ]

    figures.achievements_submitted = session.scalar(
        select(func.count()).select_from(Engagement).where(
            Engagement.kind == EngagementKind.ACHIEVEMENT, submitted_on >= f"{year}-01-01", submitted_on <= f"{year}-12-31"
        )
    ) or 0
    figures.achievements_accepted = session.scalar(
        select(func.count(distinct(TransitionLog.engagement_id))).join(Engagement, Engagement.id == TransitionLog.engagement_id)
        .where(Engagement.kind == EngagementKind.ACHIEVEMENT, TransitionLog.trigger == "accept", _in_year(TransitionLog.at, year))
    ) or 0

    # A submission refused after its window is one created once the window had closed and never sent.
    figures.refused_after_window = session.scalar(
        select(func.count()).select_from(Engagement).join(SubmissionWindow, SubmissionWindow.kind == Engagement.kind)
        .where(Engagement.kind.in_(SUBMITTED_KINDS), Engagement.state == "draft",
               func.date(Engagement.created_at) > SubmissionWindow.closes_on, _in_year(Engagement.created_at, year))
    ) or 0

    partner_name = (
        select(func.min(Organization.name)).join(Participant, Participant.organization_id == Organization.id)
        .where(Participant.engagement_id == Engagement.id, Participant.role.in_(PARTNER_ROLES))
        .correlate(Engagement).scalar_subquery()
    )
    selected_ids = select(TransitionLog.engagement_id).where(TransitionLog.trigger == "select_for_report")
    figures.selected = [
        Selected(engagement_id, kind, title, partner or "",
                 str(details.get("summary") or details.get("text") or ""), details.get("language"))
        for engagement_id, kind, title, details, partner in session.execute(
            select(Engagement.id, Engagement.kind, Engagement.title, Engagement.details, partner_name)
            .where(Engagement.id.in_(selected_ids), Engagement.state.not_in(("unpublished", "rejected")))
            .order_by(Engagement.kind, Engagement.id)
        )
    ]

    figures.timeline = [
        Milestone(at.date(), kind, title, TIMELINE_TRIGGERS[trigger])
        for kind, title, trigger, at in session.execute(
            select(Engagement.kind, Engagement.title, step.trigger, step.at).join(step, step.engagement_id == Engagement.id)
            .where(step.trigger.in_(TIMELINE_TRIGGERS), _in_year(step.at, year))
            .order_by(step.at, Engagement.id)
        )
    ]
    return figures


