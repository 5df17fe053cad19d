"""The desk's directory: organizations and their contacts (search, add or update), the partner CSV import, and
the submission windows.

Writes go through ``states.directory`` (``upsert_organization``, ``upsert_contact``, ``import_partners_csv``,
``load_reference`` for a window),
the same functions the CLI's ``org add`` and ``import-partners`` use; forms are built from their input models.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, or_, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from models import Contact, Organization, Participant, SubmissionWindow
from portal.desk import desk_page, require_staff, staff_post
from portal.links import status_of
from portal.model_forms import form_data, form_fields
from portal.web import one_transaction, portal_of
from states.directory import WindowInput, import_partners_csv, load_reference, upsert_contact, upsert_organization
from states.errors import EngageError, NotFoundError
from states.inputs import ContactInput, OrganizationInput, parse
from website.i18n import N_, Phrase

router = APIRouter()
LIMIT = 200


def _organizations(request: Request, q: str) -> list[Any]:
    portal = portal_of(request)
    query = (select(Organization.id, Organization.name, Organization.type, Organization.industry, Organization.country,
                    func.count(Contact.id).label("contacts"))
             .outerjoin(Contact, Contact.organization_id == Organization.id)
             .group_by(Organization.id).order_by(Organization.name).limit(LIMIT))
    if text := q.strip().lower():
        people = select(Contact.organization_id).where(or_(func.lower(Contact.email).contains(text, autoescape=True),
                                                           func.lower(Contact.name).contains(text, autoescape=True)))
        query = query.where(or_(func.lower(Organization.name).contains(text, autoescape=True),
                                Organization.id.in_(people)))
    with portal.db.transaction() as session:
        return session.execute(query).all()


def _directory(request: Request, staff: str, status_code: int = 200, **extra: Any) -> HTMLResponse:
    q = request.query_params.get("q", "")[:200]
    with portal_of(request).db.transaction() as session:
        windows = session.scalars(select(SubmissionWindow).order_by(SubmissionWindow.kind)).all()
    return desk_page(request, "desk_directory.html", staff, status_code, q=q, organizations=_organizations(request, q),
                     limit=LIMIT, fields=form_fields(OrganizationInput, "org."), windows=windows,
                     window_fields=form_fields(WindowInput, "window."), posted=extra.pop("posted", {}), **extra)


@router.get("/desk/directory", response_class=HTMLResponse)
@one_transaction
def directory(request: Request) -> Response:
    """Organizations by name, searched by name or by a contact's name or address; add one; import partners; windows."""
    staff = require_staff(request)
    if isinstance(staff, Response):
        return staff
    return _directory(request, staff, added=request.query_params.get("added"))


@router.post("/desk/directory", response_class=HTMLResponse)
async def add_organization(request: Request) -> Response:
    """Add an organization, or update the one of the same name."""
    return await staff_post(request, _add_organization)


def _add_organization(request: Request, staff: str, form: FormData) -> Response:
    portal = portal_of(request)
    try:
        data = parse(OrganizationInput, form_data(OrganizationInput, form, "org."))
        with portal.db.transaction() as session:
            organization_id = upsert_organization(session, data).id
    except EngageError as error:
        return _directory(request, staff, status_of(error), error=error, posted=form)
    return RedirectResponse(f"/desk/directory/{organization_id}?done=saved", status_code=303)


@router.post("/desk/directory/import", response_class=HTMLResponse)
async def import_partners(request: Request) -> Response:
    """Import partners from pasted CSV: every row, or none with each refused line named."""
    return await staff_post(request, _import)


def _import(request: Request, staff: str, form: FormData) -> Response:
    portal = portal_of(request)
    text = str(form.get("csv") or "")
    try:
        report = import_partners_csv(portal.db, text)
    except EngageError as error:
        return _directory(request, staff, status_of(error), import_error=[error], csv=text)
    if report.errors:
        return _directory(request, staff, 422, import_error=report.errors, import_summary=report.phrase, csv=text)
    return _directory(request, staff, import_summary=report.phrase)


def _organization_page(request: Request, staff: str, organization_id: int, status_code: int = 200,
                       **extra: Any) -> HTMLResponse:
    portal = portal_of(request)
    with portal.db.transaction() as session:
        organization = session.get(Organization, organization_id)
        if organization is None:
            raise NotFoundError(Phrase.of(N_("There is no organization with number %(id)s."), id=organization_id))
        contacts = session.scalars(select(Contact).where(Contact.organization_id == organization_id)
                                   .order_by(Contact.name)).all()
        engagements = session.scalar(select(func.count(func.distinct(Participant.engagement_id)))
                                     .where(Participant.organization_id == organization_id))
        current = {"org.name": organization.name, "org.type": organization.type,
                   "org.industry": organization.industry or "", "org.country": organization.country or "",
                   "org.region": organization.region or ""}
        return desk_page(request, "desk_organization.html", staff, status_code, organization=organization,
                         contacts=contacts, engagements=engagements, done=request.query_params.get("done"),
                         org_fields=form_fields(OrganizationInput, "org."), current=current,
                         contact_fields=[f for f in form_fields(ContactInput, "contact.") if f.name != "contact.organization"],
                         posted=extra.pop("posted", {}), **extra)


@router.get("/desk/directory/{organization_id}", response_class=HTMLResponse)
@one_transaction
def organization_page(request: Request, organization_id: int) -> Response:
    """An organization, its contacts and what they receive, and how many engagements it takes part in."""
    staff = require_staff(request)
    if isinstance(staff, Response):
        return staff
    try:
        return _organization_page(request, staff, organization_id)
    except EngageError as error:
        return portal_of(request).refuse(request, error, status_of(error))


@router.post("/desk/directory/{organization_id}/contacts", response_class=HTMLResponse)
async def add_contact(request: Request, organization_id: int) -> Response:
    """Add a contact to the organization, or update the one with the same address."""
    return await staff_post(request, _add_contact, organization_id)


def _add_contact(request: Request, staff: str, form: FormData, organization_id: int) -> Response:
    portal = portal_of(request)
    try:
        with portal.db.transaction() as session:
            organization = session.get(Organization, organization_id)
            if organization is None:
                raise NotFoundError(Phrase.of(N_("There is no organization with number %(id)s."), id=organization_id))
            data = parse(ContactInput, form_data(ContactInput, form, "contact.") | {"organization": organization.name})
            upsert_contact(session, data)
    except EngageError as error:
        try:
            return _organization_page(request, staff, organization_id, status_of(error), error=error, posted=form)
        except EngageError:
            return portal.refuse(request, error, status_of(error))
    return RedirectResponse(f"/desk/directory/{organization_id}?done=contact", status_code=303)


@router.post("/desk/directory/windows", response_class=HTMLResponse)
async def set_window(request: Request) -> Response:
    """Open (or move) the submission window of one kind: the dates of a new year, for example."""
    return await staff_post(request, _set_window)


def _set_window(request: Request, staff: str, form: FormData) -> Response:
    portal = portal_of(request)
    window = form_data(WindowInput, form, "window.")
    try:
        load_reference(portal.db, {"organizations": [], "working_groups": [], "sub_working_groups": [],
                                   "windows": [window]})
    except EngageError as error:
        return _directory(request, staff, status_of(error), window_error=str(error).replace("windows.0.", ""),
                          posted=form)
    return RedirectResponse("/desk/directory?added=window#windows", status_code=303)
