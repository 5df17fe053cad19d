"""Whom a participant's mails reach: its designated contact(s), never every contact by default.

A participant reaches the contact named when it was added (``contact_id``, by default the
organization's primary contact: the first one on file), or every contact of its organization only
when staff chose so (``all_contacts``). A participant whose organization had no contact when it was
added reaches the primary contact it has when the mail is written. The same rule says whose mailed
link may still act (``action_links.verify``).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select

from models import Contact, Participant

_PARTICIPANTS, _CONTACTS = Participant.__table__, Contact.__table__
_FIRST = _CONTACTS.alias("first_contact")
PRIMARY_CONTACT = (
    select(func.min(_FIRST.c.id)).where(_FIRST.c.organization_id == _PARTICIPANTS.c.organization_id).scalar_subquery()
)
DESIGNATED = or_(
    _PARTICIPANTS.c.all_contacts.is_(True),
    _CONTACTS.c.id == func.coalesce(_PARTICIPANTS.c.contact_id, PRIMARY_CONTACT),
)


def designated_contacts(*columns: object, engagement_id: ColumnElement | None = None,
                        roles: ColumnElement | None = None) -> Select:
    """``columns`` of the designated contacts of an engagement's participants in some roles: the engagement
    ``engagement_id`` (by default the parameter ``:engagement_id``), the roles ``roles`` (by default ``:roles``)."""
    return (
        select(*columns)
        .select_from(_PARTICIPANTS)
        .join(_CONTACTS, and_(_CONTACTS.c.organization_id == _PARTICIPANTS.c.organization_id, DESIGNATED))
        .where(_PARTICIPANTS.c.engagement_id == (bindparam("engagement_id") if engagement_id is None else engagement_id),
               _PARTICIPANTS.c.role.in_(bindparam("roles", expanding=True)) if roles is None else roles)
    )
