"""Who receives the notifications a transition causes, as outbox rows written in its transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal_column, null, select, union_all

from models import (
    ActionLink, ApprovalVote, CoChair, Contact, Meeting, Organization, OutboxMessage, Participant, UndeliverableAddress,
)
from models.enums import DeliveryChannel, NotificationType, OutboxStatus, ParticipantRole, Role
from models.db import Rows
from models.prebuilt import Prebuilt
from settings import Settings
from states.action_links import link_row
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


# Built once, as Core statements on the tables: the designated contacts of an engagement's participants in
# some roles (see ``states.designation``), an SWG's co-chairs (all, or those who have not voted), each with the
# reason mail cannot reach their address if a delivery report gave one, and the rows a transition's
# notifications write.
_CONTACTS, _CHAIRS, _VOTES = Contact.__table__, CoChair.__table__, ApprovalVote.__table__
_UNDELIVERABLE = UndeliverableAddress.__table__
PARTICIPANT_CONTACTS = Prebuilt(designated_contacts(
    _CONTACTS.c.id, _CONTACTS.c.name, _CONTACTS.c.email, _CONTACTS.c.language, _CONTACTS.c.opt_outs,
    _UNDELIVERABLE.c.reason.label("undeliverable"),
).outerjoin(_UNDELIVERABLE, _UNDELIVERABLE.c.email == func.lower(_CONTACTS.c.email)).order_by(_CONTACTS.c.id))
_ALL_CO_CHAIRS = (
    select(_CHAIRS.c.name, _CHAIRS.c.email, _CHAIRS.c.language, _UNDELIVERABLE.c.reason.label("undeliverable"))
    .outerjoin(_UNDELIVERABLE, _UNDELIVERABLE.c.email == func.lower(_CHAIRS.c.email))
    .where(_CHAIRS.c.swg_code == bindparam("swg_code"))
    .order_by(_CHAIRS.c.id)
)
UNDECIDED_CO_CHAIRS = Prebuilt(_ALL_CO_CHAIRS.where(
    _CHAIRS.c.id.not_in(select(_VOTES.c.co_chair_id).where(_VOTES.c.engagement_id == bindparam("engagement_id")))))
ALL_CO_CHAIRS = Prebuilt(_ALL_CO_CHAIRS)
OUTBOX, LINKS = OutboxMessage.__table__, ActionLink.__table__
# What the mails say besides the engagement itself: where and until when its meeting is, and in one statement
# which partners take part (``part`` 0), the co-chairs' votes so far, with their comments (``part`` 1), and, as
# these mails go to the Secretariat, why mail cannot reach its address if a delivery report said so (``part`` 2).
_MEETINGS, _PARTICIPANTS, _ORGANIZATIONS = Meeting.__table__, Participant.__table__, Organization.__table__
MEETING_PLACE = Prebuilt(select(_MEETINGS.c.ends_on, _MEETINGS.c.location, _MEETINGS.c.start_time, _MEETINGS.c.end_time,
                       _MEETINGS.c.time_zone).where(_MEETINGS.c.id == bindparam("meeting_id")))
_PARTNER_NAMES = (
    select(literal_column("0").label("part"), _ORGANIZATIONS.c.name, null().label("decision"), null().label("comment"),
           _PARTICIPANTS.c.id.label("participant_id"), null().label("decided_at"), null().label("vote_id"))
    .join(_PARTICIPANTS, _PARTICIPANTS.c.organization_id == _ORGANIZATIONS.c.id)
    .where(_PARTICIPANTS.c.engagement_id == bindparam("engagement_id"),
           _PARTICIPANTS.c.role.in_([literal_column(f"'{role.value}'") for role in PARTNER_ROLES]))
)
_VOTES_SO_FAR = (
    select(literal_column("1"), _CHAIRS.c.name, _VOTES.c.decision, _VOTES.c.comment, null(), _VOTES.c.decided_at,
           _VOTES.c.id)
    .join(_CHAIRS, _CHAIRS.c.id == _VOTES.c.co_chair_id)
    .where(_VOTES.c.engagement_id == bindparam("engagement_id"))
)
_SECRETARIAT_UNDELIVERABLE = select(literal_column("2"), _UNDELIVERABLE.c.email, null(), _UNDELIVERABLE.c.reason,
                                    null(), null(), null()).where(_UNDELIVERABLE.c.email == bindparam("secretariat"))
_BRIEFING = union_all(_PARTNER_NAMES, _VOTES_SO_FAR, _SECRETARIAT_UNDELIVERABLE)
BRIEFING = Prebuilt(_BRIEFING.order_by(*(_BRIEFING.selected_columns[name] for name in (
    "part", "participant_id", "decided_at", "vote_id"))))
#: Whoever reads these is told which partners and which votes are concerned.
BRIEFED = {Recipient.SECRETARIAT, Recipient.CO_CHAIRS}

WAITED_ON = {
    Role.CO_CHAIR: Recipient.CO_CHAIRS,
    Role.PARTNER: Recipient.PARTNERS,
    Role.NATIONAL_AUTHORITY: Recipient.ORGANIZER,
    Role.SECRETARIAT: Recipient.SECRETARIAT,
}


def _contacts(connection: Connection, engagement_id: int, roles: tuple[str, ...]) -> list[Addressee]:
    rows = PARTICIPANT_CONTACTS.all(connection, {"engagement_id": engagement_id, "roles": roles})
    people: dict[int, Addressee] = {}  # a contact designated by two of the engagement's participants gets one mail
    for c in rows:
        people.setdefault(c.id, Addressee(c.name, c.email, c.language, DeliveryChannel.EMAIL, tuple(c.opt_outs or ()),
                                          c.undeliverable))
    return list(people.values())


def _co_chairs(connection: Connection, engagement: EngagementRow, *, undecided_only: bool) -> list[Addressee]:
    query = UNDECIDED_CO_CHAIRS if undecided_only else ALL_CO_CHAIRS
    rows = query.all(connection, {"swg_code": engagement.swg_code, "engagement_id": engagement.id})
    return [Addressee(c.name, c.email, c.language, DeliveryChannel.EMAIL, undeliverable=c.undeliverable) for c in rows]


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


def addressees(connection: Connection, lifecycle: Lifecycle, engagement: EngagementRow, notify: Notify, state: str,
               settings: Settings, secretariat_undeliverable: str | None) -> list[Addressee]:
    """Everyone ``notify`` reaches for ``engagement`` in ``state`` (the Secretariat's address unreachable for the
    reason ``secretariat_undeliverable``, if one)."""
    to = resolved_recipient(lifecycle, notify, state)
    if notify.to is Recipient.WAITED_ON and to is Recipient.CO_CHAIRS:
        return _co_chairs(connection, engagement, undecided_only=True)
    if to is Recipient.SECRETARIAT:
        return _secretariat(settings, secretariat_undeliverable)
    if to is Recipient.CO_CHAIRS:
        return _co_chairs(connection, engagement, undecided_only=False)
    if to is Recipient.PARTNERS:
        return _contacts(connection, engagement.id, PARTNER_ROLES)
    return _contacts(connection, engagement.id, (ParticipantRole.ORGANIZER,))


def _about(connection: Connection, engagement: EngagementRow, briefing: list[Any] | None) -> dict[str, Any]:
    """What the mails say of the engagement's meeting (last day, place) and, to the Secretariat and the
    co-chairs, of its partners, approval policy and votes so far (``briefing``: ``BRIEFING``'s rows)."""
    context: dict[str, Any] = {}
    if engagement.meeting_id:
        place = MEETING_PLACE.first(connection, {"meeting_id": engagement.meeting_id})
        context |= {"meeting_id": engagement.meeting_id, "meeting_location": place.location,
                    "meeting_ends_on": place.ends_on.isoformat() if place.ends_on else None}
        if place.start_time is not None:  # local hours in the meeting's time zone
            context |= {"meeting_start_time": place.start_time.strftime("%H:%M"),
                        "meeting_end_time": place.end_time.strftime("%H:%M"), "meeting_time_zone": place.time_zone}
    if briefing is not None:
        context["partner"] = ", ".join(row.name for row in briefing if row.part == 0)
        if engagement.swg_code:
            context |= {"approval_policy": engagement.approval_policy, "quorum": engagement.quorum,
                        "votes": [{"name": v.name, "decision": v.decision, "comment": v.comment} for v in briefing
                                  if v.part == 1]}
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


def enqueue(connection: Connection, lifecycle: Lifecycle, engagement: EngagementRow, notifies: tuple[Notify, ...], *,
            log_id: int, state: str, extra: dict[str, Any], now: datetime, settings: Settings) -> Rows:
    """The outbox rows to write, one per notification and addressee; opted-out ones are kept as suppressed.

    A notification that reaches nobody is written as one ``suppressed`` row saying so.
    A mail that asks its recipient to act gets its signed action link written alongside.
    Returns the rows table by table, for ``models.db.insert_rows`` with the transition's other rows.
    """
    if not notifies:
        return []
    targets = {resolved_recipient(lifecycle, notify, state) for notify in notifies}
    briefing = BRIEFING.all(connection, {
        "engagement_id": engagement.id, "secretariat": settings.secretariat_email.lower()}) if targets & BRIEFED else None
    base = _base_context(lifecycle, engagement, state) | _about(connection, engagement, briefing) | extra
    if Recipient.CO_CHAIRS in targets and "deadline" not in base and (day := _answer_by(lifecycle, engagement, state, now)):
        base["deadline"] = day
    key, lifetime = None, timedelta(days=settings.link_lifetime_days)  # the key is read once, when first needed
    rows, links = [], []
    # an address a delivery report said mail cannot reach (states.mail_intake) gets nothing, mandatory or not
    bounced = next((row.comment for row in briefing or () if row.part == 2), None)  # the Secretariat's
    reached = [(notify, addressees(connection, lifecycle, engagement, notify, state, settings, bounced))
               for notify in notifies]
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
            if person.channel is DeliveryChannel.EMAIL and not suppressed:
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
