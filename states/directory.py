"""Reference data and partners: organizations, contacts, working groups, co-chairs, meetings, windows.

The partner CSV import (``import_partners_csv``) runs at the database's speed: every row is validated
in Python first (line-numbered errors, nothing written if any is refused); the valid rows are then
staged in temporary tables of one connection (PostgreSQL ``COPY``, SQLite one ``executemany``),
checked against the known contacts in one query, and written by a few set-based statements per batch
of ``CSV_BATCH_ROWS`` rows (``UPDATE ... FROM`` where a value differs, ``INSERT ... SELECT`` where no
row matches), the same statements on both databases. A repeated import writes no row; the report
counts organizations and contacts new, updated and unchanged from what the statements changed.
"""

from __future__ import annotations

import csv
from bisect import bisect_left, bisect_right
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    Column, ColumnElement, Connection, Integer, MetaData, Table, Text, exists, func, insert, literal, literal_column, or_, select, update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import (
    CoChair, Contact, Meeting, Organization, SecretariatSignature, SubmissionWindow, SubWorkingGroup, WorkingGroup,
)
from models.db import Database
from models.enums import ApprovalPolicy, EngagementKind, Language
from states.errors import ConflictError, EngageError, NotFoundError, english
from states.form_messages import OTHER, field_problem
from states.words import series
from states.inputs import (
    ContactInput, Email, Id, MeetingInput, OrganizationInput, PartnerRow, SingleLine, Strict, SwgCode, Title, describe,
    parse,
)
from pydantic import Field, ValidationError, model_validator
from website.i18n import N_, N_plural, Phrase

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
    title_es: Title | None = None
    title_fr: Title | None = None
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
    secretariat_signatures: dict[Language, SingleLine] = Field(default_factory=dict)
    """How the Secretariat signs its mails, by language."""


def _organization(session: Session, name: str) -> Organization:
    found = session.scalar(select(Organization).where(Organization.name == name))
    if found is None:
        raise NotFoundError(Phrase.of(N_("no organization named %(name)s"), name=repr(name)))
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
        raise EngageError(Phrase.of(N_("%(email)s is already a contact of another organization"), email=data.email))
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
    found.start_time, found.end_time, found.time_zone = data.start_time, data.end_time, data.time_zone
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
                title_es=swg.title_es, title_fr=swg.title_fr, approval_policy=swg.approval_policy, quorum=swg.quorum,
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
        for language, signature in reference.secretariat_signatures.items():
            session.merge(SecretariatSignature(language=language.value, signature=signature))
    return {
        "organizations": len(reference.organizations), "working_groups": len(reference.working_groups),
        "sub_working_groups": len(reference.sub_working_groups), "co_chairs": chairs, "windows": len(reference.windows),
    }


def load_reference_file(db: Database, path: Path = SAMPLE_DATA / "reference.json") -> dict[str, int]:
    """``load_reference`` from a JSON file."""
    return load_reference(db, json.loads(path.read_text(encoding="utf-8")))


CSV_BATCH_ROWS = 2_000
"""Rows written per transaction: an import never holds the write lock for the whole file."""
_ORGANIZATIONS, _CONTACTS = Organization.__table__, Contact.__table__
_PARTNER = "partner"  # the type of every organization a partner CSV names

# The file's rows, staged in temporary tables of the import's connection: an organization once (the
# values of its last row, the line of its first), a contact once (its address lower-cased).
_STAGING = MetaData()
_STAGED_ORGANIZATIONS = Table(
    "import_organizations", _STAGING,
    Column("line", Integer, nullable=False, index=True), Column("name", Text, nullable=False),
    Column("industry", Text), Column("country", Text), Column("region", Text),
    prefixes=["TEMPORARY"],
)
_STAGED_CONTACTS = Table(
    "import_contacts", _STAGING,
    Column("line", Integer, nullable=False, index=True), Column("organization", Text, nullable=False),
    Column("name", Text, nullable=False), Column("email", Text, nullable=False), Column("language", Text, nullable=False),
    prefixes=["TEMPORARY"],
)


@dataclass
class Tally:
    """How many of an import's organizations (or contacts) were new, updated and unchanged."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        """Every organization (or contact) the file names, once."""
        return self.new + self.updated + self.unchanged

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.new + other.new, self.updated + other.updated, self.unchanged + other.unchanged)

    def phrase(self, message: str) -> Phrase:
        """``message`` (the organizations' or contacts' counts) with this tally's counts."""
        return Phrase.of(message, new=self.new, updated=self.updated, unchanged=self.unchanged)


class LineProblem(str):
    """A refused line of an import: its English text (the CLI's), with the ``phrase`` a page says in its reader's language."""

    phrase: Phrase

    def __new__(cls, phrase: Phrase, text: str | None = None) -> LineProblem:
        problem = super().__new__(cls, english(phrase) if text is None else text)
        problem.phrase = phrase
        return problem


def _row_problem(number: int, error: ValidationError) -> LineProblem:
    """A row pydantic refused: each field's problem from the catalog (pydantic's English where it has none)."""
    fields = []
    for item in error.errors():
        problem = field_problem(item)
        fields.append(Phrase.of(N_("%(field)s: %(problem)s"), field=problem.field,
                                problem=item["msg"].removeprefix("Value error, ") if problem.phrase.msgid == OTHER
                                else problem.phrase))
    return LineProblem(Phrase.of(N_("line %(line)s: %(problems)s"), line=number,
                                 problems=series(fields, N_("%(first)s; %(rest)s"))),
                       describe(error, f"line {number}: "))


@dataclass
class ImportReport:
    """What a partner import did; ``errors`` name the line and field of every refused row."""

    rows: int = 0
    organizations: Tally = field(default_factory=Tally)
    contacts: Tally = field(default_factory=Tally)
    errors: list[LineProblem] = field(default_factory=list)

    @property
    def phrase(self) -> Phrase:
        """What a person reads: what was imported, or how many rows were refused."""
        rows = Phrase.of(N_plural("%(num)s row", "%(num)s rows"), self.rows, num=self.rows)
        if self.errors:
            return Phrase.of(N_("%(problems)s in %(rows)s; nothing was imported"), rows=rows, problems=Phrase.of(
                N_plural("%(num)s problem", "%(num)s problems"), len(self.errors), num=len(self.errors)))
        return Phrase.of(
            N_("Imported %(rows)s: %(organizations)s; %(contacts)s"), rows=rows,
            organizations=self.organizations.phrase(
                N_("organizations %(new)s new, %(updated)s updated, %(unchanged)s unchanged")),
            contacts=self.contacts.phrase(N_("contacts %(new)s new, %(updated)s updated, %(unchanged)s unchanged")))

    @property
    def summary(self) -> str:
        """The summary in English (the CLI's words)."""
        return english(self.phrase)


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
            report.errors.append(LineProblem(
                Phrase.of(N_("line %(line)s: a value is longer than the limit of %(limit)s characters; "
                             "the rest of the file was not read"), line=reader.line_num,
                          limit=f"{csv.field_size_limit():,}") if "field limit" in str(error)
                else Phrase.of(N_("line %(line)s: not valid CSV (%(error)s); the rest of the file was not read"),
                               line=reader.line_num, error=str(error))))
            return
        if values:
            yield line, values
        line = reader.line_num + 1


def _check_header(header: list[str]) -> LineProblem | None:
    """What is wrong with a partner CSV's header line, if anything."""
    duplicates = sorted({name for name in header if header.count(name) > 1})
    missing = {"name", "industry", "country"} - set(header)
    unknown = set(header) - set(PartnerRow.model_fields)
    if duplicates:
        return LineProblem(Phrase.of(N_plural("line 1: duplicate column: %(columns)s", "line 1: duplicate columns: %(columns)s"),
                                     len(duplicates), columns=", ".join(duplicates)))
    if missing:
        return LineProblem(Phrase.of(N_plural("line 1: missing column: %(columns)s", "line 1: missing columns: %(columns)s"),
                                     len(missing), columns=", ".join(sorted(missing))))
    if unknown:
        return LineProblem(Phrase.of(N_plural("line 1: unknown column: %(columns)s; the columns are: %(all)s",
                                              "line 1: unknown columns: %(columns)s; the columns are: %(all)s"),
                                     len(unknown), columns=", ".join(sorted(unknown)), all=", ".join(PartnerRow.model_fields)))
    return None


def _validate_rows(text: str, report: ImportReport) -> list[tuple[int, PartnerRow]]:
    """Every row validated on its own, with its line number; the problems go to ``report.errors``."""
    records = _csv_records(text, report)
    first = next(records, None)
    if first is None:
        report.errors.append(LineProblem(Phrase.of(N_("line 1: the file is empty; expected the columns %(columns)s"),
                                                   columns="name,industry,country,...")))
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
            report.errors.append(LineProblem(Phrase.of(
                N_("line %(line)s: more values than columns (%(values)s for %(columns)s)"),
                line=number, values=len(values), columns=len(header))))
            continue
        try:
            row = PartnerRow.model_validate({key: value for key, value in zip(header, values) if value})
        except ValidationError as error:
            report.errors.append(_row_problem(number, error))
            continue
        if row.contact_email:
            email = row.contact_email.lower()
            if email in seen:
                report.errors.append(LineProblem(Phrase.of(
                    N_("line %(line)s: contact_email: %(email)s already on line %(first)s"),
                    line=number, email=row.contact_email, first=seen[email])))
                continue
            seen[email] = number
        rows.append((number, row))
    return rows


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _staged_rows(rows: list[tuple[int, PartnerRow]]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows of the two staging tables: each organization once (its first line, its last row's values)."""
    organizations: dict[str, tuple[Any, ...]] = {}
    contacts: list[tuple[Any, ...]] = []
    for line, row in rows:
        first = organizations[row.name][0] if row.name in organizations else line
        organizations[row.name] = (first, row.name, str(row.industry), row.country, row.region)
        if row.contact_email:
            contacts.append((line, row.name, row.contact_name, row.contact_email.lower(), str(row.contact_language)))
    return list(organizations.values()), contacts


def _stage(connection: Connection, organizations: list[tuple[Any, ...]], contacts: list[tuple[Any, ...]]) -> None:
    """Create the staging tables and fill them: ``COPY`` on PostgreSQL, one ``executemany`` on SQLite."""
    _STAGING.drop_all(connection)
    _STAGING.create_all(connection)
    if connection.dialect.name == "postgresql":
        with connection.connection.driver_connection.cursor() as cursor:
            for table, values in ((_STAGED_ORGANIZATIONS, organizations), (_STAGED_CONTACTS, contacts)):
                with cursor.copy(f"COPY {table.name} ({', '.join(table.c.keys())}) FROM STDIN") as copy:
                    for value in values:
                        copy.write_row(value)
        connection.exec_driver_sql(f"ANALYZE {_STAGED_ORGANIZATIONS.name}, {_STAGED_CONTACTS.name}")
    else:
        for table, values in ((_STAGED_ORGANIZATIONS, organizations), (_STAGED_CONTACTS, contacts)):
            if values:
                connection.exec_driver_sql(f"INSERT INTO {table.name} VALUES ({', '.join('?' * len(table.c))})", values)


def _known_address(staged: Table) -> ColumnElement[bool]:
    """A known contact has the staged address, regardless of case: ``lower()`` on both sides, as SQLite
    uses the ``lower(email)`` index only for a comparison with an expression (a column's type would not do)."""
    return func.lower(_CONTACTS.c.email) == func.lower(staged.c.email)


def _foreign_contacts(connection: Connection, rows: dict[int, PartnerRow]) -> list[LineProblem]:
    """Rows whose contact e-mail already belongs to another organization."""
    staged = _STAGED_CONTACTS
    found = connection.execute(
        select(staged.c.line, _ORGANIZATIONS.c.name)
        .join(_CONTACTS, _known_address(staged))
        .join(_ORGANIZATIONS, _ORGANIZATIONS.c.id == _CONTACTS.c.organization_id)
        .where(_ORGANIZATIONS.c.name != staged.c.organization)
        .order_by(staged.c.line)
    )
    return [LineProblem(Phrase.of(N_("line %(line)s: contact_email: %(email)s is already a contact of %(organization)s"),
                                  line=line, email=str(rows[line].contact_email), organization=organization))
            for line, organization in found]


def _write_organizations(connection: Connection, first: int, last: int, staged_count: int) -> Tally:
    """Update the changed and insert the new organizations first named on lines ``first``..``last``."""
    staged = _STAGED_ORGANIZATIONS
    in_batch = staged.c.line.between(first, last)
    values = {"type": _PARTNER, "industry": staged.c.industry, "country": staged.c.country, "region": staged.c.region}
    updated = connection.execute(
        update(_ORGANIZATIONS).values(values)
        .where(_ORGANIZATIONS.c.name == staged.c.name, in_batch,
               or_(*(_ORGANIZATIONS.c[column].is_distinct_from(value) for column, value in values.items())))
    ).rowcount
    new = connection.execute(insert(_ORGANIZATIONS).from_select(
        ["name", *values],
        select(staged.c.name, literal(_PARTNER), staged.c.industry, staged.c.country, staged.c.region)
        .where(in_batch, ~exists().where(_ORGANIZATIONS.c.name == staged.c.name))
        .order_by(staged.c.line),
    ), execution_options={"preserve_rowcount": True}).rowcount
    return Tally(new, updated, staged_count - new - updated)


def _write_contacts(connection: Connection, first: int, last: int, staged_count: int) -> Tally:
    """Update the changed and insert the new contacts of lines ``first``..``last`` (a known one keeps its opt-outs)."""
    staged = _STAGED_CONTACTS
    in_batch = staged.c.line.between(first, last)
    known = _known_address(staged)
    own_organization = select(_ORGANIZATIONS.c.id).where(_ORGANIZATIONS.c.name == staged.c.organization).scalar_subquery()
    updated = connection.execute(
        update(_CONTACTS).values(name=staged.c.name, language=staged.c.language)
        .where(known, in_batch, _CONTACTS.c.organization_id == own_organization,
               or_(_CONTACTS.c.name != staged.c.name, _CONTACTS.c.language != staged.c.language))
    ).rowcount
    new = connection.execute(insert(_CONTACTS).from_select(
        ["organization_id", "name", "email", "language", "opt_outs"],
        select(_ORGANIZATIONS.c.id, staged.c.name, staged.c.email, staged.c.language, literal_column("'[]'"))
        .join_from(staged, _ORGANIZATIONS, _ORGANIZATIONS.c.name == staged.c.organization)
        .where(in_batch, ~exists().where(known))
        .order_by(staged.c.line),
    ), execution_options={"preserve_rowcount": True}).rowcount
    present = connection.scalar(
        select(func.count(staged.c.line.distinct()))
        .join(_CONTACTS, known).join(_ORGANIZATIONS, _ORGANIZATIONS.c.id == _CONTACTS.c.organization_id)
        .where(in_batch, _ORGANIZATIONS.c.name == staged.c.organization)
    )
    if present != staged_count:  # another writer gave one of these addresses to another organization meanwhile
        raise _conflict(first, last)
    return Tally(new, updated, staged_count - new - updated)


def _conflict(first: int, last: int) -> ConflictError:
    return ConflictError(Phrase.of(
        N_("lines %(first)s-%(last)s: another writer added the same organizations or contacts during the import; "
           "the rows before line %(first)s were imported, import the file again"), first=first, last=last))


def import_partners_csv(db: Database, text: str) -> ImportReport:
    """Import partner organizations (and contacts) from CSV: all rows or, if any is refused, none.

    Columns: name, industry, country, region, contact_name, contact_email, contact_language. Every
    row is validated on its own (line numbers in ``errors``) before anything is written. The rows are
    then staged in temporary tables of the import's connection (PostgreSQL ``COPY``, SQLite one
    ``executemany``) and checked against the contacts already known in one query; nothing is written
    if a row's address belongs to another organization. The writes are set-based (``UPDATE ... FROM``
    the staged rows where a value differs, ``INSERT ... SELECT`` where no row matches), the same
    statements on both databases, ``CSV_BATCH_ROWS`` rows to a transaction, so other writers wait at
    most one batch. Only new or changed organizations and contacts are written: a known contact keeps
    its id (so every participant keeps its designated contact) and its opt-outs; an organization named
    on several rows gets the values of its last row. The report counts organizations and contacts new,
    updated and unchanged. A concurrent writer adding one of the file's organizations or contacts first
    makes the batch fail with ``ConflictError``, the batches before it kept.
    """
    report = ImportReport()
    rows = _validate_rows(text, report)
    if report.errors:
        return report
    organizations, contacts = _staged_rows(rows)
    first_lines = [organization[0] for organization in organizations]
    with db.engine.connect() as connection:
        try:
            with connection.begin():
                _stage(connection, organizations, contacts)
                report.errors.extend(_foreign_contacts(connection, dict(rows)))
            if report.errors:
                return report
            for batch in _chunks(rows, CSV_BATCH_ROWS):
                first, last = batch[0][0], batch[-1][0]
                staged_organizations = bisect_right(first_lines, last) - bisect_left(first_lines, first)
                staged_contacts = sum(1 for _, row in batch if row.contact_email)
                try:
                    with connection.begin():
                        report.organizations += _write_organizations(connection, first, last, staged_organizations)
                        report.contacts += _write_contacts(connection, first, last, staged_contacts)
                except IntegrityError:
                    raise _conflict(first, last) from None
        finally:
            with connection.begin():
                _STAGING.drop_all(connection)
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
        "partners": partners.organizations.total, "contacts": partners.contacts.total + len(sample.contacts),
        "meetings": len(sample.meetings),
    }
