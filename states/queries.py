"""Read-only views of engagements, organizations and the audit trail: the read path of `engage list`,
`org list`, `org show`, `show` and `history`.

Plain parameterized SQL through the DB-API driver itself (``sqlite3``; ``psycopg`` for PostgreSQL URLs,
imported only then), so that these commands start without SQLAlchemy, the mapped models or pydantic's
input models. Each function returns exactly what the commands print, as named tuples (cheaper to
define than dataclasses), with timestamps in UTC and JSON decoded whatever the database
(``tests/test_cli_startup.py`` checks them against the ORM on both).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import quote

from models.enums import EngagementKind, OrganizationType
from states.checks import check_id
from states.errors import InputError, NotFoundError


class Reader:
    """A read-only connection to the engine's database, for one SQLAlchemy-style URL.

    Statements are written with ``?`` placeholders; for PostgreSQL they become ``%s``.
    """

    def __init__(self, url: str) -> None:
        scheme = url.split("://", 1)[0]
        self.dialect = scheme.split("+", 1)[0]
        if self.dialect == "sqlite":
            path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
            self.present = bool(path) and Path(path).is_file()
            self.connection: Any = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=30) \
                if self.present else None
        elif self.dialect in ("postgresql", "postgres"):
            import psycopg

            self.present = True
            self.connection = psycopg.connect("postgresql://" + url.split("://", 1)[1], autocommit=True)
        else:
            raise ValueError(f"no read path for database URL scheme {scheme!r}: use sqlite or postgresql")

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        if self.connection is not None:
            self.connection.close()

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Every row ``sql`` returns for ``params``."""
        if self.dialect != "sqlite":
            sql = sql.replace("?", "%s")
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchall()
        finally:
            cursor.close()

    def has_schema(self) -> bool:
        """Whether the database exists and holds the engine's tables."""
        if not self.present:
            return False
        if self.dialect == "sqlite":
            return bool(self.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'engagements'"))
        return self.rows("SELECT to_regclass('engagements') IS NOT NULL")[0][0]


def _utc(value: datetime | str | None) -> datetime | None:
    """A stored timestamp as an aware UTC datetime (SQLite returns text without a zone)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _json(value: object) -> Any:  # noqa: ANN401 - whatever JSON the column holds
    """A JSON column's value, decoded (psycopg decodes it already, sqlite3 returns the text)."""
    return json.loads(value) if isinstance(value, str) else value


class EngagementView(NamedTuple):
    """An engagement as `engage list` and `engage show` print it."""

    id: int
    kind: str
    title: str
    state: str
    version: int
    swg_code: str | None
    meeting_id: int | None
    country: str | None
    details: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    next_due_at: datetime | None
    reminders_sent: int
    escalated: bool


class ParticipantView(NamedTuple):
    """An organization taking part, its role, and its chosen contact's address (``None``: all contacts)."""

    organization: str
    role: str
    contact_email: str | None


class ReportView(NamedTuple):
    """A national authority's report of a dialogue."""

    held_on: date
    organizing_agency: str
    public_partners: int
    private_partners: int
    narrative: str | None
    areas_of_discussion: list[str]
    recommendations: str | None
    submitted_at: datetime


class VoteView(NamedTuple):
    """One co-chair's recorded decision."""

    co_chair_name: str
    co_chair_email: str
    decision: str
    decided_at: datetime
    channel: str
    comment: str | None


class LogView(NamedTuple):
    """One row of an engagement's audit trail."""

    at: datetime
    trigger: str
    from_state: str
    to_state: str
    actor: str
    actor_role: str
    channel: str
    flow_run_id: str | None
    comment: str | None


class OrganizationView(NamedTuple):
    """An organization."""

    id: int
    name: str
    type: str
    industry: str | None
    country: str | None
    region: str | None


class ContactView(NamedTuple):
    """A contact of an organization."""

    name: str
    email: str
    language: str
    opt_outs: list[str]


_ENGAGEMENT = ("SELECT id, kind, title, state, version, swg_code, meeting_id, country, details, created_at, updated_at, "
               "next_due_at, reminders_sent, escalated FROM engagements")


def _engagement(row: tuple[Any, ...]) -> EngagementView:
    (id_, kind, title, state, version, swg_code, meeting_id, country, details, created_at, updated_at, next_due_at,
     reminders_sent, escalated) = row
    return EngagementView(id_, kind, title, state, version, swg_code, meeting_id, country, _json(details) or {},
                          _utc(created_at), _utc(updated_at), _utc(next_due_at), reminders_sent, bool(escalated))


def _check_kind_and_state(kind: str | None, state: str | None) -> None:
    """Refuse an unknown kind, or a state no lifecycle (of that kind) has, listing the valid ones."""
    if kind is not None and kind not in set(EngagementKind):
        raise InputError(f"kind: {kind!r} is not a kind of engagement; choose one of: {', '.join(EngagementKind)}")
    if state is not None:
        from states.lifecycles import LIFECYCLES  # only to check a state: a plain listing needs no lifecycle

        lifecycles = [LIFECYCLES[kind]] if kind else list(LIFECYCLES.values())
        states = sorted({spec.name for lifecycle in lifecycles for spec in lifecycle.states})
        if state not in states:
            raise InputError(f"state: {state!r} is not a state{f' of {kind}' if kind else ''}; "
                             f"choose one of: {', '.join(states)}")


def list_engagements(reader: Reader, *, kind: str | None = None, state: str | None = None,
                     limit: int = 200) -> list[EngagementView]:
    """Engagements, newest first, optionally of one kind and/or state (``InputError`` for unknown ones)."""
    _check_kind_and_state(kind, state)
    conditions = [condition for condition, value in (("kind = ?", kind), ("state = ?", state)) if value]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    params = [value for value in (kind, state) if value]
    return [_engagement(row) for row in reader.rows(f"{_ENGAGEMENT}{where} ORDER BY id DESC LIMIT ?", *params, limit)]


def get_engagement(reader: Reader, engagement_id: int) -> EngagementView:
    """One engagement; ``NotFoundError`` if there is none."""
    check_id(engagement_id, "engagement_id")
    found = reader.rows(f"{_ENGAGEMENT} WHERE id = ?", engagement_id)
    if not found:
        raise NotFoundError(f"no engagement with id {engagement_id}")
    return _engagement(found[0])


def participants(reader: Reader, engagement_id: int) -> list[ParticipantView]:
    """Who takes part in an engagement, in the order they were added."""
    return [ParticipantView._make(row) for row in reader.rows(
        "SELECT o.name, p.role, c.email FROM participants p JOIN organizations o ON o.id = p.organization_id "
        "LEFT OUTER JOIN contacts c ON c.id = p.contact_id WHERE p.engagement_id = ? ORDER BY p.id", engagement_id)]


def claim(reader: Reader, engagement_id: int) -> str | None:
    """How staff see an engagement's sender when the website form only claimed an organization, if it did."""
    found = reader.rows("SELECT email, organization, claim FROM pending_submissions WHERE engagement_id = ? "
                        "AND claim IS NOT NULL", engagement_id)
    if not found:
        return None
    email, organization, status = found[0]
    if status == "accepted":
        return f"sent by {email} for {organization} (claim accepted by staff)"
    return f"{email} claims to be from {organization} (not verified: `engage accept-claim {engagement_id}` once verified)"


def dialogue_report(reader: Reader, engagement_id: int) -> ReportView | None:
    """The report a national authority submitted for a dialogue, if any."""
    found = reader.rows(
        "SELECT held_on, organizing_agency, public_partners, private_partners, narrative, areas_of_discussion, "
        "recommendations, submitted_at FROM dialogue_reports WHERE engagement_id = ?", engagement_id)
    if not found:
        return None
    held_on, agency, public, private, narrative, areas, recommendations, submitted_at = found[0]
    return ReportView(date.fromisoformat(held_on) if isinstance(held_on, str) else held_on, agency, public, private,
                      narrative, _json(areas) or [], recommendations, _utc(submitted_at))


def votes(reader: Reader, engagement_id: int) -> list[VoteView]:
    """The co-chairs' recorded decisions on an engagement, in the order they came."""
    return [VoteView(name, email, decision, _utc(decided_at), channel, comment)
            for name, email, decision, decided_at, channel, comment in reader.rows(
                "SELECT c.name, c.email, v.decision, v.decided_at, v.channel, v.comment FROM approval_votes v "
                "JOIN co_chairs c ON c.id = v.co_chair_id WHERE v.engagement_id = ? ORDER BY v.id", engagement_id)]


def history(reader: Reader, engagement_id: int) -> list[LogView]:
    """The audit trail of an engagement, oldest first; ``NotFoundError`` for an unknown engagement."""
    get_engagement(reader, engagement_id)
    return [LogView(_utc(at), *rest) for at, *rest in reader.rows(
        "SELECT at, trigger, from_state, to_state, actor, actor_role, channel, flow_run_id, comment FROM transition_log "
        "WHERE engagement_id = ? ORDER BY id", engagement_id)]


_ORGANIZATION = "SELECT o.id, o.name, o.type, o.industry, o.country, o.region"


def list_organizations(reader: Reader, *, type: str | None = None) -> list[tuple[OrganizationView, int]]:
    """Organizations by name, with how many contacts each has (``InputError`` for an unknown type)."""
    if type is not None and type not in set(OrganizationType):
        raise InputError(f"type: {type!r} is not an organization type; choose one of: {', '.join(OrganizationType)}")
    where, params = (" WHERE o.type = ?", [type]) if type else ("", [])
    return [(OrganizationView._make(row[:6]), row[6]) for row in reader.rows(
        f"{_ORGANIZATION}, count(c.id) FROM organizations o LEFT OUTER JOIN contacts c ON c.organization_id = o.id"
        f"{where} GROUP BY o.id, o.name, o.type, o.industry, o.country, o.region ORDER BY o.name", *params)]


def get_organization(reader: Reader, name: str) -> tuple[OrganizationView, list[ContactView]]:
    """One organization, by exact name, and its contacts; ``NotFoundError`` if there is none."""
    found = reader.rows(f"{_ORGANIZATION} FROM organizations o WHERE o.name = ?", name)
    if not found:
        raise NotFoundError(f"no organization named {name!r}")
    organization = OrganizationView._make(found[0])
    contacts = reader.rows("SELECT name, email, language, opt_outs FROM contacts WHERE organization_id = ? ORDER BY id",
                           organization.id)
    return organization, [ContactView(name, email, language, _json(opt_outs) or []) for name, email, language, opt_outs
                          in contacts]


def undeliverable(reader: Reader, emails: list[str]) -> dict[str, str]:
    """The addresses among ``emails`` a delivery report said mail cannot reach (lower-cased): why, and since when."""
    if not emails:
        return {}
    marks = ", ".join("?" for _ in emails)
    rows = reader.rows(f"SELECT email, reason, since FROM undeliverable_addresses WHERE email IN ({marks})",
                       *(email.lower() for email in emails))
    return {email: f"{reason} since {str(since)[:10]}" for email, reason, since in rows}
