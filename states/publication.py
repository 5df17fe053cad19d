"""What the Coalition website shows now: every engagement in state ``published``, as ``PublishedItem``s.

Domain only (no Prefect). Partner-written text is escaped here and sanitized again by the website.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Row, Text, cast, select
from sqlalchemy.orm import Session

from models import (
    DialogueReport, Engagement, Meeting, Organization, Participant, SubmissionWindow, SubWorkingGroup, TransitionLog,
)
from models.db import Database
from models.enums import EngagementKind, ParticipantRole
from website import PartnerProfile, PublishedItem, SiteContext, SiteReport, SkippedItem, SubmissionWindowInfo, publish
from website.i18n import N_, N_plural, Phrase
from website.render import DEFAULT_PORTAL_URL, DEFAULT_SITE_URL, INDEX_PAGE_SIZE, failure_reason
from website.view import FactValue, ItemSource, Section

PUBLISHED = "published"
#: Engagements read from the database at a time when publishing.
PAGE = 1000
#: What an item is made of, of its engagement's row (read as plain rows: no ORM objects to build; the
#: details as their text, parsed only for an item that is made).
_COLUMNS = (Engagement.id, Engagement.kind, Engagement.title, cast(Engagement.details, Text).label("details"),
            Engagement.country, Engagement.swg_code, Engagement.meeting_id, Engagement.updated_at)
_REPORT = (DialogueReport.engagement_id, DialogueReport.held_on, DialogueReport.organizing_agency,
           DialogueReport.public_partners, DialogueReport.private_partners, DialogueReport.narrative,
           DialogueReport.areas_of_discussion, DialogueReport.recommendations)
#: Part of every item's stamp: how this module makes items (a new version makes every item again).
_CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
SUBMITTED_KINDS = ("recommendation", "achievement", "website_submission")
TOPIC_LABELS = {
    "advocacy_campaigns": N_("Advocacy campaigns"),
    "resource_mobilization": N_("Resource mobilization"),
    "information_sharing": N_("Information sharing"),
    "innovative_products_and_services": N_("Innovative products and services"),
    "policy": N_("Policy"),
}


#: What the site says of national dialogues and presentations, in each page's language.
_CONVENED = N_("%(agency)s convened %(public)s and %(private)s on %(day)s.")
_PUBLIC_PARTNERS = N_plural("%(count)s public partner", "%(count)s public partners")
_PRIVATE_PARTNERS = N_plural("%(count)s private partner", "%(count)s private partners")
_PRESENTED = N_plural("%(partners)s presented: %(topic)s", "%(partners)s presented: %(topic)s")


def _paragraphs(text: str | None) -> str:
    """Plain text -> escaped HTML paragraphs."""
    if not text:
        return ""
    blocks = [block.strip() for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    return "".join(f"<p>{html.escape(block).replace(chr(10), '<br>')}</p>" for block in blocks)


def published_items(source: Session | Database) -> list[PublishedItem]:
    """Every published engagement, with its facts, texts and partners (those that cannot be made into
    an item left out: `collect_published` says which and why)."""
    return collect_published(source)[0]


def collect_published(source: Session | Database) -> tuple[list[PublishedItem], list[SkippedItem]]:
    """Every published engagement as an item, and those whose data cannot be made into one, with why."""
    if isinstance(source, Database):
        with source.transaction() as session:
            return collect_published(session)
    skipped: list[SkippedItem] = []
    return list(stream_published(source, skipped)), skipped


def stream_published(session: Session, skipped: list[SkippedItem], *, page: int = PAGE) -> Iterator[PublishedItem]:
    """Every published engagement as an item, by engagement id, read ``page`` engagements at a time (so
    that memory does not grow with the site); those that cannot be made into one go to ``skipped``, with why."""
    for source in published_sources(session, page=page):
        try:
            yield source.make()
        except Exception as error:  # noqa: BLE001 - one engagement's bad data must not stop the others' pages
            skipped.append(SkippedItem(source.engagement_id, failure_reason(error)))


def published_sources(session: Session, *, page: int = PAGE) -> Iterator[ItemSource]:
    """Every published engagement as the source of an item, by engagement id, read ``page`` engagements at a
    time; its stamp covers every row the item is made from, and the item is made only if asked for."""
    swgs = {s.code: s for s in session.scalars(select(SubWorkingGroup))}
    after = 0
    while True:
        engagements = session.execute(
            select(*_COLUMNS).where(Engagement.state == PUBLISHED, Engagement.id > after).order_by(Engagement.id).limit(page)
        ).all()
        if not engagements:
            return
        yield from _sources(session, engagements, after, swgs)
        after = engagements[-1].id


def _sources(session: Session, engagements: Sequence[Row[Any]], after: int,
             swgs: dict[str, SubWorkingGroup]) -> Iterator[ItemSource]:
    """``engagements`` (ids above ``after``, ascending) as item sources, with their partners, reports, meetings and
    milestones: one query each, over the range of their ids (no list of ids to send)."""
    ids = {engagement.id for engagement in engagements}
    last = engagements[-1].id
    partners: dict[int, list[str]] = defaultdict(list)
    organizers: dict[int, list[str]] = defaultdict(list)
    for engagement_id, role, name in session.execute(
        select(Participant.engagement_id, Participant.role, Organization.name)
        .join(Organization, Organization.id == Participant.organization_id)
        .where(Participant.engagement_id > after, Participant.engagement_id <= last)
        .order_by(Participant.id)
    ):
        if engagement_id not in ids:
            continue
        target = organizers if role in (ParticipantRole.ORGANIZER, ParticipantRole.HOST) else partners
        if name not in target[engagement_id]:
            target[engagement_id].append(name)
    reports = {r.engagement_id: r for r in session.execute(
        select(*_REPORT).where(DialogueReport.engagement_id > after, DialogueReport.engagement_id <= last))}
    meeting_ids = {e.meeting_id for e in engagements if e.meeting_id}
    meetings = {m.id: m for m in session.scalars(select(Meeting).where(Meeting.id.in_(meeting_ids)))} if meeting_ids else {}
    milestones: dict[int, set[str]] = defaultdict(set)
    for engagement_id, trigger in session.execute(
        select(TransitionLog.engagement_id, TransitionLog.trigger).where(
            TransitionLog.engagement_id > after, TransitionLog.engagement_id <= last,
            TransitionLog.trigger.in_(("include_in_deliverable", "include_in_final_report")),
        )
    ):
        milestones[engagement_id].add(trigger)
    for engagement in engagements:
        made_of = (engagement, partners[engagement.id], organizers[engagement.id], reports.get(engagement.id),
                   meetings.get(engagement.meeting_id), swgs.get(engagement.swg_code), milestones[engagement.id])
        yield ItemSource(engagement.id, _stamp(*made_of), functools.partial(_item, *made_of))


def _stamp(engagement: Row[Any], partners: list[str], organizers: list[str], report: Row[Any] | None,
           meeting: Meeting | None, swg: SubWorkingGroup | None, milestones: set[str]) -> str:
    """What ``_item`` makes an item of, and this module's code, digested: equal stamps, equal items."""
    parts = (_CODE, tuple(engagement), partners, organizers, tuple(report) if report else None,
             (meeting.title, meeting.starts_on, meeting.ends_on, meeting.location) if meeting else None,
             (swg.code, swg.title, swg.title_es, swg.title_fr) if swg else None, sorted(milestones))
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def _published_at(engagement: Row[Any], details: dict[str, Any]) -> datetime:
    stamp = details.get("published_at")
    moment = datetime.fromisoformat(stamp) if stamp else engagement.updated_at
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _item(engagement: Row[Any], partners: list[str], organizers: list[str], report: Row[Any] | None,
          meeting: Meeting | None, swg: SubWorkingGroup | None, milestones: set[str]) -> PublishedItem:
    details: dict[str, Any] = json.loads(engagement.details or "{}") or {}
    facts: dict[str, FactValue] = {}
    summary = body = ""
    lead: Phrase | None = None
    sections: list[Section] = []
    links: list[str] = []
    kind = engagement.kind
    if engagement.country:
        facts[N_("Country")] = engagement.country
    if swg is not None:
        facts[N_("Sub-Working Group")] = {"en": f"{swg.code} {swg.title}", "es": f"{swg.code} {swg.title_es or swg.title}",
                                          "fr": f"{swg.code} {swg.title_fr or swg.title}"}
    if meeting is not None:
        facts[N_("Meeting")] = meeting.title
        facts[N_("Date")] = (meeting.starts_on, meeting.ends_on) if meeting.ends_on else meeting.starts_on
        if meeting.location:
            facts[N_("Location")] = meeting.location
    if organizers:
        facts[N_("Organized by")] = ", ".join(organizers)
    if kind == EngagementKind.NATIONAL_DIALOGUE:
        if report is not None:
            facts |= {
                N_("Held on"): report.held_on, N_("Organizing agency"): report.organizing_agency,
                N_("Public partners"): str(report.public_partners), N_("Private partners"): str(report.private_partners),
            }
            lead = Phrase.of(_CONVENED, agency=report.organizing_agency, day=report.held_on,
                             public=Phrase.of(_PUBLIC_PARTNERS, report.public_partners, count=report.public_partners),
                             private=Phrase.of(_PRIVATE_PARTNERS, report.private_partners, count=report.private_partners))
            body = _paragraphs(report.narrative)
            if report.areas_of_discussion:
                sections.append(Section(title=N_("Areas of discussion"), entries=list(report.areas_of_discussion)))
            if report.recommendations:
                sections.append(Section(title=N_("Recommendations"), text=_paragraphs(report.recommendations)))
        elif details.get("organizing_agency"):
            facts[N_("Organizing agency")] = details["organizing_agency"]
    elif kind == EngagementKind.SWG_PRESENTATION:
        if details.get("topic"):
            facts[N_("Topic")] = details["topic"]
            topic = details["topic"]
            lead = (Phrase.of(_PRESENTED, len(partners), partners=", ".join(partners), topic=topic)
                    if partners else Phrase.of(N_("A partner presented: %(topic)s"), topic=topic))
    elif kind in (EngagementKind.ALLIANCE_MEETING, EngagementKind.PRIVATE_SECTOR_FORUM):
        if details.get("focus"):
            focus = {"fatf": N_("FATF"), "banking_forum": N_("Banking-sector forum")}
            facts[N_("Focus")] = focus.get(details["focus"], details["focus"])
        summary = _paragraphs(details.get("purpose"))
        outcome = details.get("outcome") or {}
        body = _paragraphs(outcome.get("summary"))
        if outcome.get("commitments"):
            sections.append(Section(title=N_("Commitments"), entries=list(outcome["commitments"])))
    elif kind == EngagementKind.TOOLKIT_LAUNCH:
        if details.get("url"):
            links.append(details["url"])
    elif kind == EngagementKind.WEBSITE_SUBMISSION:
        facts[N_("Format")] = str(details.get("media", "")).capitalize()
        summary = _paragraphs(details.get("summary"))
        if details.get("url"):
            links.append(details["url"])
    elif kind == EngagementKind.RECOMMENDATION:
        facts[N_("Topic")] = TOPIC_LABELS.get(details.get("topic", ""), str(details.get("topic", "")))
        facts[N_("Coalition deliverable")] = N_("Yes") if "include_in_deliverable" in milestones else N_("No")
        body = _paragraphs(details.get("text"))
    elif kind == EngagementKind.ACHIEVEMENT:
        facts[N_("Received via")] = details.get("received_via", "website")
        facts[N_("In the final report")] = N_("Yes") if "include_in_final_report" in milestones else N_("No")
        summary = _paragraphs(details.get("summary"))
    if details.get("submitted_on"):
        facts[N_("Received on")] = date.fromisoformat(details["submitted_on"])  # written by the engine, not a partner
    return PublishedItem(
        engagement_id=engagement.id, kind=kind, title=engagement.title, published_at=_published_at(engagement, details),
        lead=lead, summary=summary, body=body, sections=sections, partners=partners, facts={k: v for k, v in facts.items() if v},
        links=links, country=engagement.country,
        # The language the partner wrote in (None: the page's language).
        language=details.get("language"),
    )


def site_context(source: Session | Database, *, portal_url: str, today: date | None = None,
                 site_url: str = DEFAULT_SITE_URL) -> SiteContext:
    """What the website shows besides the items: partner profiles, the submission windows, the portal, its address."""
    if isinstance(source, Database):
        with source.transaction() as session:
            return site_context(session, portal_url=portal_url, today=today, site_url=site_url)
    session = source
    partners = [
        PartnerProfile(name=name, country=country, industry=industry)
        for name, country, industry in session.execute(
            select(Organization.name, Organization.country, Organization.industry).order_by(Organization.name)
        )
    ]
    windows = [
        SubmissionWindowInfo(kind=w.kind, opens_on=w.opens_on, closes_on=w.closes_on, early_deadline=w.early_deadline)
        for w in session.scalars(select(SubmissionWindow).where(SubmissionWindow.kind.in_(SUBMITTED_KINDS)))
    ]
    return SiteContext(portal_url=portal_url, partners=partners, windows=windows, today=today, site_url=site_url)


def portal_url(settings: object) -> str:
    """The public address of the portal whose forms the site links to (``public_base_url`` if set)."""
    return getattr(settings, "public_base_url", None) or DEFAULT_PORTAL_URL


def publish_site(db: Database, site_dir: Path, *, portal: str = DEFAULT_PORTAL_URL, today: date | None = None,
                 page_size: int = INDEX_PAGE_SIZE, site_url: str = DEFAULT_SITE_URL) -> SiteReport:
    """Make ``site_dir`` hold exactly what is published now, with the partners' profiles and the windows.

    ``page_size``: items per page of the lists by kind, country and industry; ``site_url``: the site's
    public address (settings' ``site_url``), under which its feeds, sitemap and hreflang links point. A
    published engagement that cannot be rendered is left off and reported in the result's ``skipped``;
    every other page is published.
    """
    with db.transaction() as session:
        context = site_context(session, portal_url=portal, today=today, site_url=site_url)
        return publish(site_dir, published_sources(session), context, page_size=page_size)
