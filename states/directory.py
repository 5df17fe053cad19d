"""Reference data and partners: organizations, contacts, working groups, co-chairs, meetings, windows."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from collections.abc import Iterator
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import CoChair, Contact, Meeting, Organization, SubmissionWindow, SubWorkingGroup, WorkingGroup
from models.db import Database
from models.enums import ApprovalPolicy, EngagementKind, Language
from states.errors import ConflictError, EngageError, NotFoundError
from states.inputs import (
    ContactInput, Email, Id, MeetingInput, OrganizationInput, PartnerRow, SingleLine, Strict, SwgCode, Title, describe,
    parse,
)
from pydantic import Field, ValidationError, model_validator

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


class WorkingGroupInput(Strict):
    code: str = Field(pattern=r"^[1-3]$")
    focus: SingleLine


class CoChairInput(Strict):
    organization: SingleLine
    name: SingleLine
    email: Email
    language: Language = Language.EN


class SwgInput(Strict):
    code: SwgCode
    title: Title
    approval_policy: ApprovalPolicy = ApprovalPolicy.ANY
    quorum: Id | None = None
    co_chairs: list[CoChairInput] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _quorum_fits(self) -> SwgInput:
        if self.approval_policy == ApprovalPolicy.QUORUM:
            if self.quorum is None or self.quorum > max(len(self.co_chairs), 1):
                raise ValueError(f"quorum must be set and at most the number of co-chairs ({len(self.co_chairs)})")
        elif self.quorum is not None:
            raise ValueError("quorum is only for the 'quorum' approval policy")
        return self


class WindowInput(Strict):
    kind: EngagementKind
    opens_on: date
    closes_on: date
    early_deadline: date | None = None

    @model_validator(mode="after")
    def _in_order(self) -> WindowInput:
        if self.closes_on < self.opens_on:
            raise ValueError("closes_on is before opens_on")
        if self.early_deadline and not self.opens_on <= self.early_deadline <= self.closes_on:
            raise ValueError("early_deadline must fall inside the window")
        return self


class ReferenceData(Strict):
    """The Coalition's structure: working groups, SWGs with co-chairs, and submission windows."""

    organizations: list[OrganizationInput]
    working_groups: list[WorkingGroupInput]
    sub_working_groups: list[SwgInput]
    windows: list[WindowInput]


def _organization(session: Session, name: str) -> Organization:
    found = session.scalar(select(Organization).where(Organization.name == name))
    if found is None:
        raise NotFoundError(f"no organization named {name!r}")
    return found


def upsert_organization(session: Session, data: OrganizationInput) -> Organization:
    """Create the organization, or update the one of the same name."""
    found = session.scalar(select(Organization).where(Organization.name == data.name))
    if found is None:
        found = Organization(name=data.name)
        session.add(found)
    found.type, found.industry, found.country, found.region = data.type, data.industry, data.country, data.region
    session.flush()
    return found


def upsert_contact(session: Session, data: ContactInput) -> Contact:
    """Create the contact, or update the one with the same e-mail (which must be of the same organization)."""
    organization = _organization(session, data.organization)
    found = session.scalar(select(Contact).where(func.lower(Contact.email) == data.email.lower()))
    if found is None:
        found = Contact(email=data.email.lower(), organization_id=organization.id)
        session.add(found)
    elif found.organization_id != organization.id:
        raise EngageError(f"{data.email} is already a contact of another organization")
    found.name, found.language = data.name, data.language
    found.opt_outs = [str(choice) for choice in data.opt_outs]
    session.flush()
    return found


def upsert_meeting(session: Session, data: MeetingInput) -> Meeting:
    """Create the meeting, or update the one with the same title and date."""
    found = session.scalar(select(Meeting).where(Meeting.title == data.title, Meeting.starts_on == data.starts_on))
    if found is None:
        found = Meeting(title=data.title, starts_on=data.starts_on)
        session.add(found)
    found.kind, found.swg_code, found.ends_on, found.location = data.kind, data.swg_code, data.ends_on, data.location
    session.flush()
    return found


def load_reference(db: Database, data: dict[str, Any]) -> dict[str, int]:
    """Load (idempotently) the Coalition's organizations, working groups, SWGs, co-chairs and windows."""
    reference = parse(ReferenceData, data)
    with db.transaction() as session:
        for organization in reference.organizations:
            upsert_organization(session, organization)
        for group in reference.working_groups:
            session.merge(WorkingGroup(code=group.code, focus=group.focus))
        session.flush()
        chairs = 0
        for swg in reference.sub_working_groups:
            session.merge(SubWorkingGroup(
                code=swg.code, working_group_code=swg.code.split(".")[0], title=swg.title,
                approval_policy=swg.approval_policy, quorum=swg.quorum,
            ))
            session.flush()
            for chair in swg.co_chairs:
                organization = _organization(session, chair.organization)
                found = session.scalar(select(CoChair).where(CoChair.swg_code == swg.code, CoChair.email == chair.email))
                if found is None:
                    found = CoChair(swg_code=swg.code, email=chair.email.lower())
                    session.add(found)
                found.organization_id, found.name, found.language = organization.id, chair.name, chair.language
                chairs += 1
        for window in reference.windows:
            session.merge(SubmissionWindow(**window.model_dump()))
    return {
        "organizations": len(reference.organizations), "working_groups": len(reference.working_groups),
        "sub_working_groups": len(reference.sub_working_groups), "co_chairs": chairs, "windows": len(reference.windows),
    }


def load_reference_file(db: Database, path: Path = SAMPLE_DATA / "reference.json") -> dict[str, int]:
    """``load_reference`` from a JSON file."""
    return load_reference(db, json.loads(path.read_text(encoding="utf-8")))


CSV_BATCH_ROWS = 2_000
"""Rows written per transaction: an import never holds the write lock for the whole file."""
_IN_CHUNK = 500  # values per SQL ``IN (...)`` lookup
_ORGANIZATIONS, _CONTACTS = Organization.__table__, Contact.__table__


@dataclass
class ImportReport:
    """What a partner import did; ``errors`` name the line and field of every refused row."""

    rows: int = 0
    organizations: int = 0
    contacts: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line a person reads: what was imported, or how many rows were refused."""
        if self.errors:
            return f"{len(self.errors)} problem(s) in {self.rows} row(s); nothing was imported"
        return f"imported {self.rows} row(s): {self.organizations} organizations and {self.contacts} contacts"


def _csv_records(text: str, report: ImportReport) -> Iterator[tuple[int, list[str]]]:
    """(first line number, values) of each non-blank CSV record; a CSV syntax error stops the reading."""
    reader = csv.reader(io.StringIO(text))
    line = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            problem = (f"a value is longer than the limit of {csv.field_size_limit():,} characters"
                       if "field limit" in str(error) else f"not valid CSV ({error})")
            report.errors.append(f"line {reader.line_num}: {problem}; the rest of the file was not read")
            return
        if values:
            yield line, values
        line = reader.line_num + 1


def _check_header(header: list[str]) -> str | None:
    """What is wrong with a partner CSV's header line, if anything."""
    duplicates = sorted({name for name in header if header.count(name) > 1})
    missing = {"name", "industry", "country"} - set(header)
    unknown = set(header) - set(PartnerRow.model_fields)
    if duplicates:
        return f"line 1: duplicate column(s): {', '.join(duplicates)}"
    if missing:
        return f"line 1: missing column(s): {', '.join(sorted(missing))}"
    if unknown:
        return (f"line 1: unknown column(s): {', '.join(sorted(unknown))}; "
                f"the columns are: {', '.join(PartnerRow.model_fields)}")
    return None


def _validate_rows(text: str, report: ImportReport) -> list[tuple[int, PartnerRow]]:
    """Every row validated on its own, with its line number; the problems go to ``report.errors``."""
    records = _csv_records(text, report)
    first = next(records, None)
    if first is None:
        report.errors.append("line 1: the file is empty; expected the columns name,industry,country,...")
        return []
    header = first[1]
    if problem := _check_header(header):
        report.errors.append(problem)
        return []
    rows: list[tuple[int, PartnerRow]] = []
    seen: dict[str, int] = {}
    for number, values in records:
        report.rows += 1
        if len(values) > len(header):
            report.errors.append(f"line {number}: more values than columns ({len(values)} for {len(header)})")
            continue
        try:
            row = PartnerRow.model_validate({key: value for key, value in zip(header, values) if value})
        except ValidationError as error:
            report.errors.append(describe(error, f"line {number}: "))
            continue
        if row.contact_email:
            email = row.contact_email.lower()
            if email in seen:
                report.errors.append(f"line {number}: contact_email: {row.contact_email} already on line {seen[email]}")
                continue
            seen[email] = number
        rows.append((number, row))
    return rows


def _chunks(values: list[Any], size: int = _IN_CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


class _KnownContact(NamedTuple):
    id: int
    organization: str
    name: str
    language: str


def _known_contacts(session: Session, emails: list[str]) -> dict[str, _KnownContact]:
    """The contacts already known by these lower-cased addresses, with their organization's name."""
    known: dict[str, _KnownContact] = {}
    for chunk in _chunks(emails):
        for email, *values in session.execute(
            select(func.lower(Contact.email), Contact.id, Organization.name, Contact.name, Contact.language)
            .join(Organization, Organization.id == Contact.organization_id)
            .where(func.lower(Contact.email).in_(chunk))
        ):
            known[email] = _KnownContact(*values)
    return known


_ORGANIZATION_FIELDS = ("type", "industry", "country", "region")


def _known_organizations(session: Session, names: list[str]) -> dict[str, tuple[Any, ...]]:
    """The organizations already known by these names: (id, type, industry, country, region)."""
    known: dict[str, tuple[Any, ...]] = {}
    columns = [_ORGANIZATIONS.c[name] for name in ("id", *_ORGANIZATION_FIELDS)]
    for chunk in _chunks(names):
        for name, *values in session.execute(select(Organization.name, *columns).where(Organization.name.in_(chunk))):
            known[name] = tuple(values)
    return known


@dataclass
class _Known:
    """What the database holds of an import's organizations and contacts: read once, kept up to date by the batches."""

    organizations: dict[str, tuple[Any, ...]]
    contacts: dict[str, _KnownContact]


def _foreign_contacts(rows: list[tuple[int, PartnerRow]], known: _Known) -> list[str]:
    """Rows whose contact e-mail already belongs to another organization."""
    return [
        f"line {number}: contact_email: {row.contact_email} is already a contact of {known.contacts[email].organization}"
        for number, row in rows
        if row.contact_email and (email := row.contact_email.lower()) in known.contacts
        and known.contacts[email].organization != row.name
    ]


def _write_batch(session: Session, rows: list[tuple[int, PartnerRow]], known: _Known) -> int:
    """Insert the new organizations and contacts of ``rows``, update the changed ones; the contacts imported."""
    organizations = {row.name: row for _, row in rows}  # a later row of the same organization wins
    values = {name: ("partner", row.industry, row.country, row.region) for name, row in organizations.items()}
    changed = [dict(zip(_ORGANIZATION_FIELDS, fields), match=known.organizations[name][0])
               for name, fields in values.items()
               if name in known.organizations and known.organizations[name][1:] != fields]
    new = [dict(zip(_ORGANIZATION_FIELDS, fields), name=name) for name, fields in values.items()
           if name not in known.organizations]
    if changed:
        session.execute(update(_ORGANIZATIONS).where(_ORGANIZATIONS.c.id == bindparam("match")), changed)
    if new:
        inserted = session.execute(
            insert(_ORGANIZATIONS).returning(_ORGANIZATIONS.c.name, _ORGANIZATIONS.c.id, sort_by_parameter_order=True), new)
        known.organizations.update((name, (id_,)) for name, id_ in inserted.all())
    known.organizations.update((name, (known.organizations[name][0], *fields)) for name, fields in values.items())
    inserts, updates, contacts = [], [], 0
    for _, row in rows:
        if row.contact_email is None:
            continue
        contacts += 1
        email, name, language = row.contact_email.lower(), row.contact_name, row.contact_language
        found = known.contacts.get(email)
        if found is None:
            inserts.append({"organization_id": known.organizations[row.name][0], "name": name, "email": email,
                            "language": language, "opt_outs": []})
        elif (found.name, found.language) != (name, language):
            updates.append({"match": found.id, "name": name, "language": language})
    if inserts:
        session.execute(insert(_CONTACTS), inserts)
    if updates:
        session.execute(update(_CONTACTS).where(_CONTACTS.c.id == bindparam("match")), updates)
    return contacts


def import_partners_csv(db: Database, text: str) -> ImportReport:
    """Import partner organizations (and contacts) from CSV: all rows or, if any is refused, none.

    Columns: name, industry, country, region, contact_name, contact_email, contact_language. Every
    row is validated on its own (line numbers in ``errors``) and against the contacts already known,
    before anything is written; then rows are written ``CSV_BATCH_ROWS`` to a transaction, so other
    writers wait at most one batch. Only new or changed organizations and contacts are written; a
    known contact keeps its opt-outs. A concurrent writer adding one of the file's contacts first makes the batch fail
    (unique e-mail) with ``ConflictError``, the batches before it kept.
    """
    report = ImportReport()
    rows = _validate_rows(text, report)
    if report.errors:
        return report
    with db.sessions() as session:
        known = _Known(_known_organizations(session, list({row.name: None for _, row in rows})),
                       _known_contacts(session, [row.contact_email.lower() for _, row in rows if row.contact_email]))
    report.errors.extend(_foreign_contacts(rows, known))
    if report.errors:
        return report
    for batch in _chunks(rows, CSV_BATCH_ROWS):
        try:
            with db.transaction() as session:
                report.contacts += _write_batch(session, batch, known)
        except IntegrityError:
            raise ConflictError(
                f"lines {batch[0][0]}-{batch[-1][0]}: another writer added the same organizations or contacts during "
                f"the import; the rows before line {batch[0][0]} were imported, import the file again"
            ) from None
    report.organizations = len({row.name for _, row in rows})
    return report


class SampleData(Strict):
    """Contacts at governments and organizations, and the 2024 meetings of the replay."""

    contacts: list[ContactInput]
    meetings: list[MeetingInput]


def load_sample(db: Database, folder: Path = SAMPLE_DATA) -> dict[str, int]:
    """Load the reference data, the partners of ``partners.csv`` and the contacts and meetings of ``sample.json``."""
    counts = load_reference_file(db, folder / "reference.json")
    partners = import_partners_csv(db, (folder / "partners.csv").read_text(encoding="utf-8"))
    if partners.errors:
        raise EngageError("sample partners.csv is invalid: " + "; ".join(partners.errors))
    sample = parse(SampleData, json.loads((folder / "sample.json").read_text(encoding="utf-8")))
    with db.transaction() as session:
        for contact in sample.contacts:
            upsert_contact(session, contact)
        for meeting in sample.meetings:
            upsert_meeting(session, meeting)
    return counts | {
        "partners": partners.organizations, "contacts": partners.contacts + len(sample.contacts),
        "meetings": len(sample.meetings),
    }
