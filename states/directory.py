"""Reference data and partners: organizations, contacts, working groups, co-chairs, meetings, windows."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import CoChair, Contact, Meeting, Organization, SubmissionWindow, SubWorkingGroup, WorkingGroup
from models.db import Database
from models.enums import ApprovalPolicy, Language
from states.errors import EngageError, NotFoundError
from states.inputs import (
    ContactInput, Email, MeetingInput, OrganizationInput, PartnerRow, SingleLine, Strict, SwgCode, describe, parse,
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
    title: str = Field(min_length=3, max_length=300)
    approval_policy: ApprovalPolicy = ApprovalPolicy.ANY
    quorum: int | None = Field(default=None, ge=1)
    co_chairs: list[CoChairInput] = Field(default_factory=list)

    @model_validator(mode="after")
    def _quorum_fits(self) -> SwgInput:
        if self.approval_policy == ApprovalPolicy.QUORUM:
            if self.quorum is None or self.quorum > max(len(self.co_chairs), 1):
                raise ValueError(f"quorum must be set and at most the number of co-chairs ({len(self.co_chairs)})")
        elif self.quorum is not None:
            raise ValueError("quorum is only for the 'quorum' approval policy")
        return self


class WindowInput(Strict):
    kind: str
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


@dataclass
class ImportReport:
    """What a partner import did; ``errors`` name the line and field of every refused row."""

    organizations: int = 0
    contacts: int = 0
    errors: list[str] = field(default_factory=list)


def import_partners_csv(db: Database, text: str) -> ImportReport:
    """Import partner organizations (and contacts) from CSV; all rows or, if any is bad, none.

    Columns: name, industry, country, region, contact_name, contact_email, contact_language.
    """
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text))
    expected = set(PartnerRow.model_fields)
    missing = {"name", "industry", "country"} - set(reader.fieldnames or [])
    if missing:
        report.errors.append(f"line 1: missing column(s): {', '.join(sorted(missing))}")
        return report
    unknown = set(reader.fieldnames or []) - expected
    if unknown:
        report.errors.append(f"line 1: unknown column(s): {', '.join(sorted(unknown))}")
        return report
    rows: list[PartnerRow] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        cleaned = {key: (value or None) for key, value in raw.items() if key is not None}
        if None in raw:
            report.errors.append(f"line {number}: more values than columns")
            continue
        try:
            row = PartnerRow.model_validate({k: v for k, v in cleaned.items() if v is not None})
        except ValidationError as error:
            report.errors.append(describe(error, f"line {number}: "))
            continue
        if row.contact_email and row.contact_email.lower() in seen:
            report.errors.append(f"line {number}: contact_email: {row.contact_email} already on line {seen[row.contact_email.lower()]}")
            continue
        if row.contact_email:
            seen[row.contact_email.lower()] = number
        rows.append(row)
    if report.errors:
        return report
    with db.transaction() as session:
        for row in rows:
            upsert_organization(session, OrganizationInput(
                name=row.name, type="partner", industry=row.industry, country=row.country, region=row.region,
            ))
            report.organizations += 1
            if row.contact_email:
                upsert_contact(session, ContactInput(
                    organization=row.name, name=row.contact_name, email=row.contact_email, language=row.contact_language,
                ))
                report.contacts += 1
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
