"""Who receives the notifications a transition causes, as outbox rows written in its transaction.

What the mails need besides the engagement (its partners, the votes so far, the addressees with their
bounced addresses: ``Fact``) is read with the engagement itself, in the transition's one read
(``fact_columns``, in ``states.workflow``); ``enqueue`` then builds the rows without a round trip.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ColumnElement, FromClause, Select, and_, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from models import (
    ActionLink, ApprovalVote, CoChair, Contact, Organization, OutboxMessage, Participant, UndeliverableAddress,
)
from models.enums import DeliveryChannel, NotificationType, OutboxStatus, ParticipantRole, Role
from models.db import Rows
from settings import Settings
from states.action_links import asks_action, link_row
from states.context import EngagementRow
from states.designation import designated_contacts
from states.guards import PARTNER_ROLES
from states.spec import Lifecycle, Notify, Recipient


@dataclass(frozen=True)
class Addressee:
    name: str
    address: str
    language: str
    channel: DeliveryChannel
    opt_outs: tuple[str, ...] = ()
    undeliverable: str | None = None
    """Why mail cannot reach the address, as a delivery report said (``states.mail_intake``): it gets nothing."""


@dataclass(frozen=True)
class Vote:
    """A co-chair's vote written with the change: the mails count it among the votes so far."""

    co_chair_id: int
    name: str
    decision: str
    comment: str | None


class Fact(StrEnum):
    """What a transition's mails need read besides the engagement."""

    BRIEFING = "briefing"
    """The partners' names, the co-chairs' votes so far and why the Secretariat's address is unreachable, if it is."""
    CO_CHAIRS = "co_chairs"
    """The SWG's co-chairs, each with whether they voted and why their address is unreachable, if it is."""
    PARTNERS = "partners"
    """The designated contacts of the partners (``states.designation``), each with their bounce."""
    ORGANIZERS = "organizers"
    """The designated contacts of the organizer, each with their bounce."""


OUTBOX, LINKS = OutboxMessage.__table__, ActionLink.__table__
#: Whoever reads these is told which partners and which votes are concerned.
BRIEFED = {Recipient.SECRETARIAT, Recipient.CO_CHAIRS}
_FACTS = {Recipient.CO_CHAIRS: Fact.CO_CHAIRS, Recipient.PARTNERS: Fact.PARTNERS, Recipient.ORGANIZER: Fact.ORGANIZERS}

WAITED_ON = {
    Role.CO_CHAIR: Recipient.CO_CHAIRS,
    Role.PARTNER: Recipient.PARTNERS,
    Role.NATIONAL_AUTHORITY: Recipient.ORGANIZER,
    Role.SECRETARIAT: Recipient.SECRETARIAT,
}

# The facts as columns of the engagement's read (correlated to its row), built once per database:
# a list of rows is one JSON array of arrays, in a fixed order (PostgreSQL's ``json_agg(... ORDER BY ...)``;
# SQLite aggregates an ordered subquery).
_CONTACTS, _CHAIRS, _VOTES = Contact.__table__, CoChair.__table__, ApprovalVote.__table__
_PARTICIPANTS, _ORGANIZATIONS = Participant.__table__, Organization.__table__
_UNDELIVERABLE = UndeliverableAddress.__table__
_ROLES = {Fact.PARTNERS: PARTNER_ROLES, Fact.ORGANIZERS: (ParticipantRole.ORGANIZER,)}


def _json_list(dialect: str, engagement: FromClause, query: Select, *order_by: ColumnElement) -> ColumnElement:
    """``query``'s columns, row by row in ``order_by``, as one JSON array of arrays (``NULL`` or ``[]`` for none)."""
    items = list(query.selected_columns)
    if dialect == "postgresql":
        return query.with_only_columns(
            func.json_agg(aggregate_order_by(func.json_build_array(*items), *order_by), type_=JSON)).scalar_subquery()
    items = [func.json(item) if isinstance(item.type, JSON) else item for item in items]  # JSON, not a string
    rows = query.with_only_columns(func.json_array(*items).label("item")).order_by(*order_by) \
        .correlate(engagement).subquery()
    return select(func.json_group_array(func.json(rows.c.item), type_=JSON)).scalar_subquery()


def _designated(engagement: FromClause, roles: tuple[str, ...]) -> Select:
    """The designated contacts of the engagement's participants in ``roles`` (written in the statement)."""
    return designated_contacts(
        _CONTACTS.c.id, _CONTACTS.c.name, _CONTACTS.c.email, _CONTACTS.c.language, _CONTACTS.c.opt_outs,
        _UNDELIVERABLE.c.reason, engagement_id=engagement.c.id,
        roles=_PARTICIPANTS.c.role.in_([literal_column(f"'{role.value}'") for role in roles]),
    ).outerjoin(_UNDELIVERABLE, _UNDELIVERABLE.c.email == func.lower(_CONTACTS.c.email))


def fact_columns(dialect: str, fact: Fact, engagement: FromClause) -> list[ColumnElement]:
    """``fact`` as labelled columns of a read of ``engagement`` (``engagements`` or a subquery of its rows: ``id``,
    ``swg_code``; parameters ``:now``, ``:secretariat``)."""
    if fact is Fact.BRIEFING:
        partners = (select(_ORGANIZATIONS.c.name).select_from(_PARTICIPANTS)
                    .join(_ORGANIZATIONS, _ORGANIZATIONS.c.id == _PARTICIPANTS.c.organization_id)
                    .where(_PARTICIPANTS.c.engagement_id == engagement.c.id,
                           _PARTICIPANTS.c.role.in_([literal_column(f"'{role.value}'") for role in PARTNER_ROLES])))
        # each vote says whether it was made by ``:now`` (a vote being recorded now comes after those)
        votes = (select(_CHAIRS.c.name, _VOTES.c.decision, _VOTES.c.comment,
                        _VOTES.c.decided_at <= bindparam("now", type_=_VOTES.c.decided_at.type))
                 .select_from(_VOTES).join(_CHAIRS, _CHAIRS.c.id == _VOTES.c.co_chair_id)
                 .where(_VOTES.c.engagement_id == engagement.c.id))
        return [
            _json_list(dialect, engagement, partners, _PARTICIPANTS.c.id).label("partner_names"),
            _json_list(dialect, engagement, votes, _VOTES.c.decided_at, _VOTES.c.id).label("votes_so_far"),
            select(_UNDELIVERABLE.c.reason).where(_UNDELIVERABLE.c.email == bindparam("secretariat"))
            .scalar_subquery().label("secretariat_undeliverable"),
        ]
    if fact is Fact.CO_CHAIRS:
        voted = select(_VOTES.c.id).where(_VOTES.c.co_chair_id == _CHAIRS.c.id,
                                          _VOTES.c.engagement_id == engagement.c.id).correlate_except(_VOTES).exists()
        chairs = (select(_CHAIRS.c.id, _CHAIRS.c.name, _CHAIRS.c.email, _CHAIRS.c.language, _UNDELIVERABLE.c.reason,
                         voted)
                  .select_from(_CHAIRS)
                  .outerjoin(_UNDELIVERABLE, _UNDELIVERABLE.c.email == func.lower(_CHAIRS.c.email))
                  .where(_CHAIRS.c.swg_code == engagement.c.swg_code))
        return [_json_list(dialect, engagement, chairs, _CHAIRS.c.id).label("co_chair_list")]
    return [_json_list(dialect, engagement, _designated(engagement, _ROLES[fact]), _CONTACTS.c.id)
            .label(f"{fact.value}_contacts")]


def facts_needed(lifecycle: Lifecycle, notifies: tuple[Notify, ...], state: str) -> set[Fact]:
    """What ``notifies`` need read, sent as the engagement enters (or stays in) ``state``."""
    targets = {resolved_recipient(lifecycle, notify, state) for notify in notifies}
    return {_FACTS[target] for target in targets if target in _FACTS} | ({Fact.BRIEFING} if targets & BRIEFED else set())


def _contacts(engagement: EngagementRow, fact: Fact) -> list[Addressee]:
    people: dict[int, Addressee] = {}  # a contact designated by two of the engagement's participants gets one mail
    for id_, name, email, language, opt_outs, undeliverable in getattr(engagement, f"{fact.value}_contacts") or ():
        people.setdefault(id_, Addressee(name, email, language, DeliveryChannel.EMAIL, tuple(opt_outs or ()),
                                         undeliverable))
    return list(people.values())


def _co_chairs(engagement: EngagementRow, *, undecided_only: bool, voter: int | None) -> list[Addressee]:
    """The SWG's co-chairs (only those who have not voted, ``voter`` voting now, when ``undecided_only``)."""
    return [Addressee(name, email, language, DeliveryChannel.EMAIL, undeliverable=undeliverable)
            for id_, name, email, language, undeliverable, voted in engagement.co_chair_list or ()
            if not (undecided_only and (voted or id_ == voter))]


def _secretariat(settings: Settings, undeliverable: str | None) -> list[Addressee]:
    people = [Addressee(settings.secretariat_name, settings.secretariat_email, "en", DeliveryChannel.EMAIL,
                        undeliverable=undeliverable)]
    return people + [Addressee(settings.secretariat_name, url, "en", DeliveryChannel.CHAT) for url in settings.chat_urls]


def resolved_recipient(lifecycle: Lifecycle, notify: Notify, state: str) -> Recipient:
    """Whom ``notify`` reaches in ``state`` (``WAITED_ON`` resolved to the party waited on)."""
    if notify.to is Recipient.WAITED_ON:
        wait = lifecycle.state(state).wait
        return WAITED_ON[wait.on] if wait else Recipient.SECRETARIAT
    return notify.to


def addressees(lifecycle: Lifecycle, engagement: EngagementRow, notify: Notify, state: str, settings: Settings,
               voter: int | None) -> list[Addressee]:
    """Everyone ``notify`` reaches for ``engagement`` in ``state``, as read with it (``voter``: the co-chair whose
    vote is being recorded, if one)."""
    to = resolved_recipient(lifecycle, notify, state)
    if notify.to is Recipient.WAITED_ON and to is Recipient.CO_CHAIRS:
        return _co_chairs(engagement, undecided_only=True, voter=voter)
    if to is Recipient.SECRETARIAT:
        return _secretariat(settings, engagement.secretariat_undeliverable)
    if to is Recipient.CO_CHAIRS:
        return _co_chairs(engagement, undecided_only=False, voter=voter)
    return _contacts(engagement, _FACTS[to])


def _about(engagement: EngagementRow, briefed: bool, vote: Vote | None) -> dict[str, Any]:
    """What the mails say of the engagement's meeting (last day, place) and, to the Secretariat and the co-chairs
    (``briefed``), of its partners, approval policy and votes so far (with ``vote``, being recorded now)."""
    context: dict[str, Any] = {}
    if engagement.meeting_id:
        context |= {"meeting_id": engagement.meeting_id, "meeting_location": engagement.meeting_location,
                    "meeting_ends_on": engagement.meeting_ends_on.isoformat() if engagement.meeting_ends_on else None}
        if engagement.meeting_start_time is not None:  # local hours in the meeting's time zone
            context |= {"meeting_start_time": engagement.meeting_start_time.strftime("%H:%M"),
                        "meeting_end_time": engagement.meeting_end_time.strftime("%H:%M"),
                        "meeting_time_zone": engagement.meeting_time_zone}
    if briefed:
        context["partner"] = ", ".join(name for (name,) in engagement.partner_names or ())
        if engagement.swg_code:
            votes = [{"name": name, "decision": decision, "comment": comment}
                     for name, decision, comment, _ in engagement.votes_so_far or ()]
            if vote is not None:  # after the votes made by now, before any dated later (a simulated clock's)
                made = sum(1 for *_, by_now in engagement.votes_so_far or () if by_now)
                votes.insert(made, {"name": vote.name, "decision": vote.decision, "comment": vote.comment})
            context |= {"approval_policy": engagement.approval_policy, "quorum": engagement.quorum, "votes": votes}
    return {key: value for key, value in context.items() if value not in (None, "")}


def _answer_by(lifecycle: Lifecycle, engagement: EngagementRow, state: str, now: datetime) -> str | None:
    """The day co-chairs are asked to answer by: when the Secretariat is told the answer is late (the
    reminders' end, as the sweep escalates), for a waiting state that does not expire."""
    wait = lifecycle.state(state).wait
    if wait is None or wait.on is not Role.CO_CHAIR or wait.expire_after is not None:
        return None
    since = engagement.waiting_since if engagement.state == state and engagement.waiting_since else now
    return (since + wait.remind_after * (wait.max_reminders + 1)).date().isoformat()


def published_page(settings: Settings, engagement: EngagementRow, language: str) -> str:
    """The engagement's page on the website, in ``language`` (English at the site's root)."""
    prefix = "" if language == "en" else f"{language}/"
    return f"{settings.site_url.rstrip('/')}/{prefix}{engagement.kind}/{engagement.id}.html"


def _base_context(lifecycle: Lifecycle, engagement: EngagementRow, state: str) -> dict[str, Any]:
    context: dict[str, Any] = {
        "engagement_id": engagement.id,
        "engagement_title": engagement.title,
        "engagement_kind": engagement.kind,
        "kind_title": lifecycle.title,
        "state": state,
        "state_description": lifecycle.state(state).description,
    }
    if engagement.swg_code:
        context |= {"swg_code": engagement.swg_code, "swg_title": engagement.swg_title}
    if engagement.meeting_id:
        context |= {"meeting_title": engagement.meeting_title, "meeting_date": engagement.meeting_starts_on.isoformat()}
    return context


def _swg_title(engagement: EngagementRow, language: str) -> dict[str, str]:
    """The SWG's title in the recipient's language, where the reference data has it."""
    title = getattr(engagement, f"swg_title_{language}", None) if engagement.swg_code else None
    return {"swg_title": title} if title else {}


def _address_key(person: Addressee) -> str:
    """The address in a dedupe key; a digest for chat, whose apprise URL holds a secret and may be long."""
    if person.channel is DeliveryChannel.CHAT:
        return hashlib.sha256(person.address.encode()).hexdigest()[:24]
    return person.address


def _nobody(engagement: EngagementRow, notify: Notify, log_id: int, base: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A ``suppressed`` row that records a notification nobody could receive, so its absence shows."""
    return {
        "dedupe_key": f"t{log_id}:{notify.type.value}:nobody", "engagement_id": engagement.id, "transition_id": log_id,
        "notification_type": notify.type.value, "channel": DeliveryChannel.EMAIL.value, "recipient_name": "",
        "recipient_address": "", "language": "en", "mandatory": notify.mandatory, "context": base,
        "status": OutboxStatus.SUPPRESSED, "status_reason": f"no recipient: nobody on file for {notify.to.value}",
        "attempts": 0, "next_attempt_at": now, "created_at": now,
    }


def enqueue(lifecycle: Lifecycle, engagement: EngagementRow, notifies: tuple[Notify, ...], *, log_id: int, state: str,
            extra: dict[str, Any], now: datetime, settings: Settings, vote: Vote | None = None) -> Rows:
    """The outbox rows to write, one per notification and addressee; opted-out ones are kept as suppressed.

    ``engagement`` is the transition's read, with the facts ``notifies`` need (``facts_needed``), read before
    ``vote`` (the co-chair's vote recorded with the change, if one) was written.
    A notification that reaches nobody is written as one ``suppressed`` row saying so.
    A mail that asks its recipient to act gets its signed action link written alongside.
    Returns the rows table by table, for ``models.db.insert_rows`` with the transition's other rows.
    """
    if not notifies:
        return []
    targets = {resolved_recipient(lifecycle, notify, state) for notify in notifies}
    base = _base_context(lifecycle, engagement, state) | _about(engagement, bool(targets & BRIEFED), vote) | extra
    if Recipient.CO_CHAIRS in targets and "deadline" not in base and (day := _answer_by(lifecycle, engagement, state, now)):
        base["deadline"] = day
    key, lifetime = None, timedelta(days=settings.link_lifetime_days)  # the key is read once, when first needed
    rows, links = [], []
    # an address a delivery report said mail cannot reach (states.mail_intake) gets nothing, mandatory or not
    voter = vote.co_chair_id if vote is not None else None
    reached = [(notify, addressees(lifecycle, engagement, notify, state, settings, voter)) for notify in notifies]
    for notify, people in reached:
        recipient = resolved_recipient(lifecycle, notify, state)
        if not people:
            rows.append(_nobody(engagement, notify, log_id, base, now))
        for person in people:
            opted_out = next((o for o in (person.channel.value, notify.type.value) if o in person.opt_outs), None)
            undeliverable = person.undeliverable
            suppressed = undeliverable is not None or (opted_out is not None and not notify.mandatory)
            dedupe_key = f"t{log_id}:{notify.type.value}:{person.channel.value}:{_address_key(person)}"
            link = None
            if person.channel is DeliveryChannel.EMAIL and not suppressed and asks_action(notify.type, recipient):
                key = key or settings.signing_key()
                link = link_row(
                    key, lifecycle, notification=notify.type, recipient=recipient, state=state,
                    engagement_id=engagement.id, dedupe_key=dedupe_key, email=person.address,
                    language=person.language, now=now, lifetime=lifetime,
                )
                links.append(link)
            link_context = {"link_purpose": link["purpose"], "link_expires": link["expires_at"].date().isoformat()} \
                if link else {}
            if notify.type is NotificationType.PUBLICATION_NOTICE:
                link_context = {"link_purpose": "published_page",
                                "page_url": published_page(settings, engagement, person.language)}
            rows.append({
                "dedupe_key": dedupe_key,
                "engagement_id": engagement.id,
                "transition_id": log_id,
                "notification_type": notify.type.value,
                "channel": person.channel.value,
                "recipient_name": person.name,
                "recipient_address": person.address,
                "language": person.language,
                "mandatory": notify.mandatory,
                "context": base | {"recipient_name": person.name, "audience": recipient.value} | link_context
                | _swg_title(engagement, person.language),
                "status": OutboxStatus.SUPPRESSED if suppressed else OutboxStatus.PENDING,
                "status_reason": (
                    f"address undeliverable: {undeliverable}" if undeliverable is not None
                    else f"recipient opted out of {opted_out}" if suppressed
                    else f"mandatory notice, sent despite opt-out of {opted_out}" if opted_out
                    else None
                ),
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            })
    return [(OUTBOX, rows), (LINKS, [link for link in links if link is not None])]
