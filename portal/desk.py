"""The Secretariat's desk: the work queue, lists, an engagement's page with its steps, creation and jobs.

A thin door: every write goes through ``create_engagement``, ``apply_transition`` (channel ``website``,
actor the signed-in staff member), the outbox's ``requeue`` or ``states.jobs``. Steps and forms come
from the lifecycle specs and their input models, so no page is written per kind.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from models import (
    ApprovalVote, CoChair, Contact, DialogueReport, Engagement, Meeting, Organization, OutboxMessage, Participant,
    SubWorkingGroup, TransitionLog,
)
from models.enums import Channel, EngagementKind, Industry, ParticipantRole, Role
from portal.desk_labels import Labels
from portal.i18n import pick_language
from portal.links import status_of
from portal.model_forms import form_data, form_fields
from portal.web import Portal, one_transaction, portal_of
from website.i18n import N_, Phrase
from states import jobs
from states.sign_in import OBSERVER, STAFF_ROLES
from states.approvals import approval_status
from states.desk_queue import SORT_LABELS, Filters, find_engagements, queue, staff_steps, waits_on
from states.errors import EngageError, NotFoundError
from states.intake import accept_claim, claims
from states.inputs import DETAILS_SCHEMAS
from states.lifecycles import LIFECYCLES, get_lifecycle
from states.spec import Lifecycle, TransitionSpec
from states.workflow import apply_transition, create_engagement

router = APIRouter()
PARTICIPANT_ROWS = 3
PUBLISHED = "published"
NO_KIND = N_("There is no kind of engagement \"%(kind)s\".")


def require_staff(request: Request, *, acting: bool = False) -> str | Response:
    """The signed-in staff member's e-mail; else the sign-in redirect (anonymous) or a 403 page saying why.

    Read-only staff (``OBSERVER``) may read every desk page, not ``acting`` ones (a change, or a page that
    is only a form for one); the pages they read show no form (``read_only`` in their context).
    """
    portal = portal_of(request)
    who = portal.sessions.current(request)
    if who is None:
        return RedirectResponse("/signin", status_code=303)
    email, role = who
    if role not in STAFF_ROLES or (acting and role == OBSERVER):
        return portal.render(request, "desk_forbidden.html", 403, email=email, role=role,
                             L=Labels(pick_language(request)))
    request.state.read_only = role == OBSERVER
    return email


#: What a desk form's POST does once the staff member and the form's CSRF token are checked.
StaffAction = Callable[..., Response]


async def staff_post(request: Request, action: StaffAction, *args: Any) -> Response:
    """A desk form's POST: the form read, then in a worker thread the staff check (sign-in redirect or 403),
    the CSRF check (403), and ``action(request, staff, form, *args)``."""
    form = await request.form()
    return await run_in_threadpool(_as_staff, request, form, action, args)


def _as_staff(request: Request, form: FormData, action: StaffAction, args: tuple[Any, ...]) -> Response:
    staff = require_staff(request, acting=True)
    if isinstance(staff, Response):
        return staff
    if refusal := portal_of(request).csrf_refusal(request, form):
        return refusal
    return action(request, staff, form, *args)


def desk_page(request: Request, template: str, staff: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    portal = portal_of(request)
    return portal.render(request, template, status_code, email=staff, L=Labels(pick_language(request)),
                         prefect_ui=(portal.settings.prefect_ui_url or "").rstrip("/"),
                         read_only=getattr(request.state, "read_only", False), **context)


def _actor(staff: str) -> dict[str, str]:
    return {"role": Role.SECRETARIAT.value, "identity": staff}


@router.get("/board")
def board(request: Request) -> Response:
    """The old board's address leads to the desk."""
    return RedirectResponse("/desk", status_code=303)


@router.get("/desk", response_class=HTMLResponse)
@one_transaction
def home(request: Request) -> Response:
    """The work queue: everything that waits on the Secretariat, each with the button that moves it on."""
    staff = require_staff(request)
    if isinstance(staff, Response):
        return staff
    portal = portal_of(request)
    return desk_page(request, "desk_home.html", staff, queue=queue(portal.db, portal.clock.now()), claims=claims(portal.db),
                     runs=jobs.last_runs(portal.settings), jobs=jobs.JOBS, ran=request.query_params.get("ran"))


def _filters(params: Mapping[str, str]) -> Filters:
    page = params.get("page", "1")
    return Filters(
        kind=params.get("kind", "")[:40], state=params.get("state", "")[:40], swg=params.get("swg", "")[:8],
        country=params.get("country", "")[:2], industry=params.get("industry", "")[:40],
        waiting=params.get("waiting", "")[:40], overdue=params.get("overdue") == "1", q=params.get("q", "")[:200],
        sort=params.get("sort", "oldest") if params.get("sort") in SORT_LABELS else "oldest",
        page=int(page) if page.isdigit() and len(page) < 7 else 1,
    )


def _choices(portal: Portal) -> dict[str, Any]:
    """What the list's filters offer, in the lifecycles' order."""
    with portal.db.transaction() as session:
        swgs = session.execute(select(SubWorkingGroup.code, SubWorkingGroup.title, SubWorkingGroup.title_es,
                                      SubWorkingGroup.title_fr).order_by(SubWorkingGroup.code)).all()
    states = list(dict.fromkeys(s.name for lifecycle in LIFECYCLES.values() for s in lifecycle.states))
    return {"kinds": list(LIFECYCLES), "states": states, "swgs": swgs, "industries": [i.value for i in Industry],
            "roles": [r.value for r in Role if r != Role.SYSTEM], "sorts": SORT_LABELS}


@router.get("/desk/engagements", response_class=HTMLResponse)
@one_transaction
def engagements(request: Request) -> Response:
    """Any list of engagements: filtered, searched, sorted, one page at a time."""
    staff = require_staff(request)
    if isinstance(staff, Response):
        return staff
    portal = portal_of(request)
    filters = _filters(request.query_params)
    found = find_engagements(portal.db, filters, portal.clock.now())
    return desk_page(request, "desk_list.html", staff, filters=filters, found=found, urlencode=urlencode,
                     **_choices(portal))


CSV_COLUMNS = (N_("id"), N_("title"), N_("kind"), N_("state"), N_("waits on"), N_("overdue"), N_("partners"),
               N_("SWG"), N_("country"), N_("created"), N_("last change"), N_("next deadline"))


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/desk/engagements.csv")
@one_transaction
def engagements_csv(request: Request) -> Response:
    """The same list as CSV, every row (no paging)."""
    staff = require_staff(request)
    if isinstance(staff, Response):
        return staff
    portal = portal_of(request)
    found = find_engagements(portal.db, _filters(request.query_params), portal.clock.now(), page_size=None)
    out = io.StringIO()
    writer = csv.writer(out)
    labels = Labels(pick_language(request))
    writer.writerow([labels._(column) for column in CSV_COLUMNS])
    for row in found.rows:
        writer.writerow([_cell(value) for value in (
            row.id, row.title, labels.kind(row.kind), labels.state(row.state),
            labels.role(row.waits_on) if row.waits_on else "", labels._(N_("yes")) if row.overdue else "",
            "; ".join(row.partners), row.swg_code, row.country, labels.moment(row.created_at),
            labels.moment(row.updated_at), labels.moment(row.next_due_at))])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="engagements.csv"'})


def _steps(lifecycle: Lifecycle, state: str) -> list[dict[str, Any]]:
    """The staff steps from ``state`` as forms: label, description, whether a comment is required, data fields."""
    shown = []
    for spec in staff_steps(lifecycle, state):
        model = next((t.data_model() for t in lifecycle.transitions_from(state, spec.trigger) if t.data_schema), None)
        shown.append({"trigger": spec.trigger, "description": spec.description,
                      "comment_required": "comment_given" in spec.guards,
                      "fields": form_fields(model, "data.") if model else []})
    return shown


def _engagement_page(request: Request, staff: str, engagement_id: int, status_code: int = 200,
                     **extra: Any) -> HTMLResponse:
    portal = portal_of(request)
    claim = next((c for c in claims(portal.db) if c.engagement_id == engagement_id), None)
    with portal.db.transaction() as session:
        engagement = session.get(Engagement, engagement_id)
        if engagement is None:
            raise NotFoundError(Phrase.of(N_("no engagement with id %(engagement_id)s"), engagement_id=engagement_id))
        lifecycle = get_lifecycle(engagement.kind)
        swg = session.get(SubWorkingGroup, engagement.swg_code) if engagement.swg_code else None
        meeting = session.get(Meeting, engagement.meeting_id) if engagement.meeting_id else None
        people = []
        for participant, organization, contact in session.execute(
                select(Participant, Organization, Contact).join(Organization, Organization.id == Participant.organization_id)
                .outerjoin(Contact, Contact.id == Participant.contact_id)
                .where(Participant.engagement_id == engagement_id).order_by(Participant.id)):
            contacts = [contact] if contact else list(session.scalars(
                select(Contact).where(Contact.organization_id == organization.id).order_by(Contact.id)))
            people.append({"role": participant.role, "organization": organization, "contacts": contacts})
        approval = None
        if swg is not None and any(waits_on(engagement.kind, s.name) == Role.CO_CHAIR for s in lifecycle.states):
            votes = {vote.co_chair_id: vote for vote in session.scalars(
                select(ApprovalVote).where(ApprovalVote.engagement_id == engagement_id))}
            chairs = session.scalars(select(CoChair).where(CoChair.swg_code == swg.code).order_by(CoChair.id)).all()
            approval = {"swg": swg, "votes": [(chair, votes.get(chair.id)) for chair in chairs],
                        "policy": approval_status(session.connection(), engagement_id).policy_phrase}
        history = session.scalars(select(TransitionLog).where(TransitionLog.engagement_id == engagement_id)
                                  .order_by(TransitionLog.id)).all()
        mail = session.scalars(select(OutboxMessage).where(OutboxMessage.engagement_id == engagement_id)
                               .order_by(OutboxMessage.id)).all()
        report = session.get(DialogueReport, engagement_id)
        return desk_page(request, "desk_engagement.html", staff, status_code, engagement=engagement, lifecycle=lifecycle,
                         swg=swg, meeting=meeting, people=people, approval=approval, history=history, mail=mail,
                         report=report, steps=_steps(lifecycle, engagement.state),
                         waiting=waits_on(engagement.kind, engagement.state), done=request.query_params.get("done"),
                         claim=claim,
                         **extra)


@router.get("/desk/engagements/{engagement_id}", response_class=HTMLResponse)
@one_transaction
def engagement_page(request: Request, engagement_id: int) -> Response:
    """An engagement: details, participants, approval, history, mail, and the steps staff may take now."""
    staff = require_staff(request)
    if isinstance(staff, Response):
        return staff
    try:
        return _engagement_page(request, staff, engagement_id)
    except EngageError as error:
        return portal_of(request).refuse(request, error, status_of(error))


@router.post("/desk/engagements/{engagement_id}/steps/{trigger}", response_class=HTMLResponse)
async def take_step(request: Request, engagement_id: int, trigger: str) -> Response:
    """Fire one staff step, with its comment and data; a refusal is shown at the step's form."""
    return await staff_post(request, _take_step, engagement_id, trigger)


def _version(form: FormData) -> int | None:
    raw = str(form.get("version") or "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _data_model(engagement_id: int, trigger: str, portal: Portal) -> Any:  # noqa: ANN401 - a model class or None
    with portal.db.transaction() as session:
        engagement = session.get(Engagement, engagement_id)
        if engagement is None:
            raise NotFoundError(Phrase.of(N_("no engagement with id %(engagement_id)s"), engagement_id=engagement_id))
        lifecycle = get_lifecycle(engagement.kind)
        specs = [t for t in lifecycle.transitions if t.trigger == trigger and t.data_schema]
        return specs[0].data_model() if specs else None


def _take_step(request: Request, staff: str, form: FormData, engagement_id: int, trigger: str) -> Response:
    portal = portal_of(request)
    version = _version(form)
    try:
        model = _data_model(engagement_id, trigger, portal)
        outcome = apply_transition(
            portal.db, engagement_id, trigger, _actor(staff), comment=str(form.get("comment") or "") or None,
            data=form_data(model, form, "data.") if model else None, channel=Channel.WEBSITE,
            idempotency_key=f"desk:{engagement_id}:v{version}:{trigger}" if version else None,
            expected_version=version, clock=portal.clock, settings=portal.settings,
        )
    except EngageError as error:
        try:
            return _engagement_page(request, staff, engagement_id, status_of(error), step_error=error,
                                    failed=trigger, posted=form)
        except EngageError:
            return portal.refuse(request, error, status_of(error))
    if (outcome.from_state == PUBLISHED) != (outcome.to_state == PUBLISHED) and not outcome.replayed:
        jobs.run_job("publish", portal.db, portal.settings, portal.clock, by=staff)
    if form.get("back") == "desk":
        return RedirectResponse(f"/desk?{urlencode({'done': engagement_id})}", status_code=303)
    if form.get("back") == "report":
        return RedirectResponse("/desk/report?selected=1", status_code=303)
    return RedirectResponse(f"/desk/engagements/{engagement_id}?{urlencode({'done': trigger})}", status_code=303)


@router.post("/desk/engagements/{engagement_id}/accept-claim", response_class=HTMLResponse)
async def verify_claim(request: Request, engagement_id: int) -> Response:
    """Staff checked that a submission's sender answers for the organization they named: accept the claim."""
    return await staff_post(request, _verify_claim, engagement_id)


def _verify_claim(request: Request, staff: str, form: FormData, engagement_id: int) -> Response:
    portal = portal_of(request)
    try:
        accept_claim(portal.db, engagement_id, staff, channel=Channel.WEBSITE, clock=portal.clock)
    except EngageError as error:
        return portal.refuse(request, error, status_of(error))
    return RedirectResponse(f"/desk/engagements/{engagement_id}?done=accept_claim", status_code=303)


@router.post("/desk/outbox/{message_id}/retry", response_class=HTMLResponse)
async def send_again(request: Request, message_id: int) -> Response:
    """Put a dead notification back in the outbox, to go with the next delivery."""
    return await staff_post(request, _send_again, message_id)


def _send_again(request: Request, staff: str, form: FormData, message_id: int) -> Response:
    from notifications.dispatcher import requeue
    from notifications.errors import OutboxAlreadySent, OutboxMessageNotFound, OutboxOptedOut

    portal = portal_of(request)
    try:
        row = requeue(portal.db, message_id, portal.clock)
    except OutboxMessageNotFound as error:
        return portal.refuse(request, error, 404)
    except (OutboxAlreadySent, OutboxOptedOut, EngageError) as error:
        return portal.refuse(request, error, 409)
    if row.engagement_id and form.get("back") != "desk":
        return RedirectResponse(f"/desk/engagements/{row.engagement_id}?done=send_again", status_code=303)
    return RedirectResponse("/desk?ran=requeued", status_code=303)


@router.post("/desk/jobs/{job}", response_class=HTMLResponse)
async def run_job(request: Request, job: str) -> Response:
    """Run the outbox delivery, the reminder sweep or the website's publication once, now."""
    return await staff_post(request, _run_job, job)


def _run_job(request: Request, staff: str, form: FormData, job: str) -> Response:
    portal = portal_of(request)
    if job not in jobs.JOBS:
        return portal.refuse(request, Phrase.of(N_("There is no job \"%(job)s\"; jobs are: %(jobs)s."), job=job,
                                                 jobs=", ".join(jobs.JOBS)), 404)
    jobs.run_job(job, portal.db, portal.settings, portal.clock, by=staff)
    return RedirectResponse(f"/desk?ran={job}", status_code=303)


def approval_step(lifecycle: Lifecycle) -> TransitionSpec | None:
    """The staff step from the initial state that asks the co-chairs to decide, where the lifecycle has one."""
    return next((spec for spec in staff_steps(lifecycle, lifecycle.initial)
                 if spec.dest and waits_on(lifecycle.kind, spec.dest) == Role.CO_CHAIR), None)


@router.get("/desk/new", response_class=HTMLResponse)
@one_transaction
def choose_kind(request: Request) -> Response:
    """Which kind of engagement to create."""
    staff = require_staff(request, acting=True)
    if isinstance(staff, Response):
        return staff
    return desk_page(request, "desk_new.html", staff, lifecycles=LIFECYCLES)


def _creation_form(request: Request, staff: str, kind: str, status_code: int = 200, **extra: Any) -> HTMLResponse:
    portal = portal_of(request)
    lifecycle = get_lifecycle(kind)
    guards = {guard for spec in lifecycle.transitions for guard in spec.guards}
    with portal.db.transaction() as session:
        swgs = session.execute(select(SubWorkingGroup.code, SubWorkingGroup.title, SubWorkingGroup.title_es,
                                      SubWorkingGroup.title_fr).order_by(SubWorkingGroup.code)).all()
        meetings = session.execute(select(Meeting.id, Meeting.title, Meeting.starts_on).order_by(Meeting.starts_on)).all()
        organizations = session.execute(select(Organization.name, Organization.type).order_by(Organization.name)).all()
        contacts = session.execute(select(Contact.email, Contact.name, Organization.name.label("organization"))
                                   .join(Organization).order_by(Organization.name, Contact.name)).all()
    return desk_page(request, "desk_create.html", staff, status_code, kind=kind, lifecycle=lifecycle, swgs=swgs,
                     meetings=meetings, organizations=organizations, contacts=contacts,
                     roles=[role.value for role in ParticipantRole], rows=range(PARTICIPANT_ROWS),
                     swg_required=kind == EngagementKind.SWG_PRESENTATION or "has_swg" in guards,
                     meeting_required="has_meeting" in guards, approval=approval_step(lifecycle),
                     fields=form_fields(DETAILS_SCHEMAS[kind], "details."), posted=extra.pop("posted", {}), **extra)


@router.get("/desk/new/{kind}", response_class=HTMLResponse)
@one_transaction
def creation_form(request: Request, kind: str) -> Response:
    """The form for a new engagement of ``kind``, built from its details' input model."""
    staff = require_staff(request, acting=True)
    if isinstance(staff, Response):
        return staff
    if kind not in LIFECYCLES:
        return portal_of(request).refuse(request, Phrase.of(NO_KIND, kind=kind), 404)
    return _creation_form(request, staff, kind)


@router.post("/desk/new/{kind}", response_class=HTMLResponse)
async def create(request: Request, kind: str) -> Response:
    """Create the engagement, and ask for its approval when asked to and its lifecycle has one."""
    return await staff_post(request, _create, kind)


def _participants(form: FormData) -> list[dict[str, str]]:
    chosen = []
    for row in range(PARTICIPANT_ROWS):
        organization = str(form.get(f"organization_{row}") or "").strip()
        if not organization:
            continue
        person = {"organization": organization, "role": str(form.get(f"role_{row}") or "")}
        if contact := str(form.get(f"contact_{row}") or "").strip():
            person["contact_email"] = contact
        chosen.append(person)
    return chosen


def _create(request: Request, staff: str, form: FormData, kind: str) -> Response:
    portal = portal_of(request)
    if kind not in LIFECYCLES:
        return portal.refuse(request, Phrase.of(NO_KIND, kind=kind), 404)
    meeting = str(form.get("meeting_id") or "")
    spec: dict[str, Any] = {
        "kind": kind, "title": str(form.get("title") or ""), "swg_code": str(form.get("swg_code") or "") or None,
        "meeting_id": int(meeting) if meeting.isdigit() and len(meeting) < 10 else (meeting or None),
        "country": str(form.get("country") or "") or None,
        "details": form_data(DETAILS_SCHEMAS[kind], form, "details."), "participants": _participants(form),
    }
    try:
        engagement_id = create_engagement(portal.db, spec, _actor(staff), channel=Channel.WEBSITE, clock=portal.clock)
    except EngageError as error:
        return _creation_form(request, staff, kind, status_of(error), error=error, posted=form)
    step = approval_step(get_lifecycle(kind))
    if step is not None and form.get("start_approval") == "yes":
        try:
            apply_transition(portal.db, engagement_id, step.trigger, _actor(staff), channel=Channel.WEBSITE,
                             idempotency_key=f"desk:{engagement_id}:v1:{step.trigger}", expected_version=1,
                             clock=portal.clock, settings=portal.settings)
        except EngageError as error:
            return _engagement_page(request, staff, engagement_id, status_of(error), step_error=error,
                                    failed=step.trigger, posted={}, created=True)
    return RedirectResponse(f"/desk/engagements/{engagement_id}?done=create", status_code=303)

