"""Signed action links: GET shows the context and the choices, a POST with CSRF decides.

Every decision goes through the domain's seams under the link owner's identity, with an
idempotency key derived from the link and the action, so a repeated POST replays the first outcome.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse

from models.enums import Channel
from states import action_links, intake
from states.action_links import VerifiedLink
from states.approvals import ApprovalStatus, approval_status, record_decision
from states.errors import EngageError, NotAllowedError, NotFoundError
from states.inputs import InputError
from states.words import state_word
from states.workflow import apply_transition
from website.i18n import N_, Phrase
from portal.web import Portal, form_errors, portal_of

router = APIRouter()

STATUS = {
    action_links.ForgedLinkError: 404, action_links.ExpiredLinkError: 410, action_links.UsedLinkError: 409,
    action_links.MovedOnError: 409, NotFoundError: 404, NotAllowedError: 403, InputError: 422, intake.BusyError: 503,
}
TEMPLATES = {"co_chair_decision": "decide.html", "invitation_answer": "invitation.html", "dialogue_report": "report.html",
             "resubmission": "resubmit.html"}
REPORT_FIELDS = ("held_on", "organizing_agency", "public_partners", "private_partners", "narrative", "recommendations")
COUNT_FIELDS = ("public_partners", "private_partners")
REPORT_FORM_FIELDS = (*REPORT_FIELDS, "areas")
NOT_FOR_THIS_PAGE = Phrase.of(N_("This link is not for this page."))


def status_of(error: EngageError) -> int:
    """The HTTP status that tells what kind of refusal ``error`` is (409 by default)."""
    return next((code for kind, code in STATUS.items() if isinstance(error, kind)), 409)


def _show(request: Request, portal: Portal, token: str, link: VerifiedLink, status_code: int = 200,
          context: ApprovalStatus | None = None, **extra: Any) -> HTMLResponse:
    context = context or approval_status(portal.db, link.engagement_id)
    return portal.render(request, TEMPLATES[link.purpose], status_code, language=link.language, token=token, link=link,
                         engagement=context, **extra)


@router.get("/a/{token}", response_class=HTMLResponse)
def show_link(request: Request, token: str) -> HTMLResponse:
    """The link's page: what is asked, of whom, and the choices. Changes nothing."""
    portal = portal_of(request)
    try:
        with portal.db.engine.begin() as connection:  # the link and its engagement, read in one transaction
            link = action_links.verify(connection, token, portal.clock.now())
            if link.purpose not in TEMPLATES:
                raise action_links.ForgedLinkError(NOT_FOR_THIS_PAGE)
            context = approval_status(connection, link.engagement_id)
    except EngageError as error:
        return portal.refuse(request, error, status_of(error))
    return _show(request, portal, token, link, context=context)


@router.post("/a/{token}", response_class=HTMLResponse)
async def use_link(request: Request, token: str) -> HTMLResponse:
    """Decide through the link (CSRF-checked), recorded under the link owner's identity."""
    form = await request.form()
    return await run_in_threadpool(_use_link, request, token, form)


def _use_link(request: Request, token: str, form: FormData) -> HTMLResponse:
    portal = portal_of(request)
    if refusal := portal.csrf_refusal(request, form):
        return refusal
    action = str(form.get("action") or "")
    link: VerifiedLink | None = None
    now = portal.clock.now()
    try:
        for attempt in range(2):  # a key used elsewhere at the same time ends the transaction: once more, replayed
            try:
                # one transaction: the link, the decision, the link's use and the engagement as it is now
                with portal.db.engine.begin() as connection:
                    link = action_links.verify(connection, token, now, action)
                    if link.purpose not in TEMPLATES:
                        raise action_links.ForgedLinkError(NOT_FOR_THIS_PAGE)
                    message = _decide(portal, connection, link, action, form)
                    action_links.mark_used(connection, link.id, action, now)
                    context = approval_status(connection, link.engagement_id)
                break
            except IntegrityError:
                if attempt:
                    raise
    except InputError as error:
        if link is not None and link.purpose == "dialogue_report":
            return _show(request, portal, token, link, 422, errors=form_errors(error, REPORT_FORM_FIELDS),
                         values=_report_values(form))
        return portal.refuse(request, error, 422)
    except EngageError as error:
        return portal.refuse(request, error, status_of(error), language=link.language if link else None)
    return portal.render(request, "done.html", language=link.language, message=message, link=link, engagement=context)


def _decide(portal: Portal, connection: Connection, link: VerifiedLink, action: str, form: FormData) -> Phrase:
    key = action_links.idempotency_key(link.token_hash, action)
    comment = str(form.get("comment") or "").strip() or None
    if link.purpose == "co_chair_decision":
        result = record_decision(
            connection, link.engagement_id, link.email, action, comment, Channel.EMAIL_LINK, portal.clock,
            idempotency_key=key, settings=portal.settings,
        )
        earlier = result.earlier  # the same decision through this person's other link (a reminder's): recorded
        replay = earlier is not None and (earlier.email, earlier.decision, earlier.channel) == (
            link.email, action, Channel.EMAIL_LINK)
        if not result.applied and not replay:
            raise action_links.MovedOnError(result.phrase)
        return result.phrase
    data = _report_data(form) if action == "submit_report" else None
    outcome = apply_transition(
        connection, link.engagement_id, action, {"role": link.role, "identity": link.email}, comment=comment,
        data=data, channel=Channel.EMAIL_LINK, idempotency_key=key, clock=portal.clock, settings=portal.settings,
    )
    return Phrase.of(N_("%(email)s: \"%(step)s\" is recorded; engagement %(engagement_id)s is now %(state)s."),
                     email=link.email, step=Phrase.of(state_word(action)), engagement_id=str(outcome.engagement_id),
                     state=Phrase.of(state_word(outcome.to_state)))


def _report_values(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name) or "") for name in (*REPORT_FIELDS, "areas")}


def _report_data(form: FormData) -> dict[str, Any]:
    """The report form as the domain's ``DialogueReportInput`` expects it (blank optional fields left out)."""
    values = _report_values(form)
    data: dict[str, Any] = {name: values[name].strip() for name in REPORT_FIELDS if values[name].strip()}
    data["areas_of_discussion"] = [line.strip() for line in values["areas"].splitlines() if line.strip()]
    for name in COUNT_FIELDS:  # a form sends text; the domain takes strict integers and names anything else
        if name in data and data[name].isascii() and data[name].isdecimal():
            data[name] = int(data[name])
    return data
