"""Sign-in by mailed link; a co-chair's pending decisions; one-click unsubscribe."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from models.enums import Channel, Role
from portal.links import status_of
from portal.web import TOO_MANY, Portal, client_key, one_transaction, portal_of
from states import opt_outs, sign_in
from states.approvals import approval_status, record_decision
from states.errors import EngageError
from website.i18n import N_, Phrase

router = APIRouter()
HOME = {Role.CO_CHAIR.value: "/pending", Role.SECRETARIAT.value: "/desk", sign_in.OBSERVER: "/desk"}


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request) -> HTMLResponse:
    """Ask for a sign-in link."""
    return portal_of(request).render(request, "signin.html")


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> HTMLResponse:
    """Mail a sign-in link (the page never says whether the address is known)."""
    data = await request.form()
    return await run_in_threadpool(_signin, request, data)


def _signin(request: Request, data: FormData) -> HTMLResponse:
    portal = portal_of(request)
    if refusal := portal.csrf_refusal(request, data):
        return refusal
    if not portal.sign_in_limit.allow(client_key(request)):
        return portal.refuse(request, TOO_MANY, 429, heading=N_("Too many attempts"))
    email = str(data.get("email") or "")
    try:
        address = sign_in.address_of(email)
    except EngageError as error:
        errors = {"email": [problem.phrase for problem in getattr(error, "problems", ())] or [error]}
        return portal.render(request, "signin.html", 422, errors=errors, email=email)
    # The answer goes out before the address is even looked up, so known and unknown addresses take the
    # same time; past the per-address limit nothing is mailed (its owner already holds that many live links).
    response = portal.render(request, "submit_received.html", email=email, early=None, sign_in=True)
    if portal.sign_in_target_limit.allow(address):
        response.background = BackgroundTask(sign_in.request_sign_in, portal.db, address, settings=portal.settings,
                                              clock=portal.clock)
    return response


@router.get("/signin/{token}", response_class=HTMLResponse)
@one_transaction
def signin_link(request: Request, token: str) -> HTMLResponse:
    """The sign-in button (a link scanner's GET signs nobody in)."""
    portal = portal_of(request)
    try:
        with portal.db.connection() as connection:
            link = sign_in.sign_in_link(connection, token, portal.clock.now())
    except EngageError as error:
        return portal.refuse(request, error, status_of(error))
    return portal.render(request, "signin_link.html", language=link.language, link=link)


@router.post("/signin/{token}")
async def signin_with_link(request: Request, token: str) -> Response:
    """Use the one-time link: start a session and go to the person's page."""
    data = await request.form()
    return await run_in_threadpool(_signin_with_link, request, token, data)


def _signin_with_link(request: Request, token: str, data: FormData) -> Response:
    portal = portal_of(request)
    if refusal := portal.csrf_refusal(request, data):
        return refusal
    response = RedirectResponse("/", status_code=303)
    try:
        signed_in = portal.sessions.sign_in(response, token)
    except EngageError as error:
        return portal.refuse(request, error, status_of(error))
    response.headers["location"] = HOME[signed_in.role]
    portal.csrf.rotate(request)  # a nonce planted before sign-in is worth nothing after it
    portal.csrf.set_cookie(request, response)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    """End the session: revoked in the database, whatever the browser keeps."""
    data = await request.form()
    return await run_in_threadpool(_signout, request, data)


def _signout(request: Request, data: FormData) -> Response:
    portal = portal_of(request)
    if refusal := portal.csrf_refusal(request, data):
        return refusal
    response = RedirectResponse("/", status_code=303)
    portal.sessions.sign_out(request, response)
    portal.csrf.rotate(request)
    portal.csrf.set_cookie(request, response)
    return response


@router.get("/pending", response_class=HTMLResponse)
@one_transaction
def pending(request: Request) -> Response:
    """A signed-in co-chair's invitations awaiting their decision, across their SWGs."""
    portal = portal_of(request)
    email = portal.signed_in_as(request, Role.CO_CHAIR)
    if email is None:
        return RedirectResponse("/signin", status_code=303)
    return _pending_page(request, portal, email)


def _pending_page(request: Request, portal: Portal, email: str, status_code: int = 200, **extra: Any) -> Response:
    """The co-chair's pending decisions, each with its partner, meeting, policy and every vote so far."""
    items = sign_in.pending_decisions(portal.db, email)
    with portal.db.connection() as connection:  # read together, as one moment
        details = {item.engagement_id: approval_status(connection, item.engagement_id) for item in items}
    return portal.render(request, "pending.html", status_code, email=email, items=items, details=details, **extra)


@router.post("/pending/{engagement_id}", response_class=HTMLResponse)
async def decide(request: Request, engagement_id: int) -> Response:
    """Approve or decline from the list, recorded under the signed-in co-chair."""
    data = await request.form()
    return await run_in_threadpool(_decide, request, engagement_id, data)


def _decide(request: Request, engagement_id: int, data: FormData) -> Response:
    portal = portal_of(request)
    email = portal.signed_in_as(request, Role.CO_CHAIR)
    if email is None:
        return portal.refuse(request, Phrase.of(N_("Please sign in first.")), 401, heading=N_("Please sign in first."))
    if refusal := portal.csrf_refusal(request, data):
        return refusal
    action = str(data.get("action") or "")
    try:
        result = record_decision(
            portal.db, engagement_id, email, action, str(data.get("comment") or "") or None, Channel.WEBSITE,
            portal.clock, idempotency_key=f"portal:{email}:{engagement_id}:{action}"[:200], settings=portal.settings,
        )
    except (EngageError, ValueError) as error:
        code = status_of(error) if isinstance(error, EngageError) else 422
        return portal.refuse(request, error, code, heading=N_("This answer cannot be recorded"))
    return _pending_page(request, portal, email, 200 if result.applied else 409, message=result.phrase,
                         applied=result.applied)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
@one_transaction
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    """What the one-click unsubscribe will do, and its button (GET changes nothing)."""
    portal = portal_of(request)
    try:
        address, kind = opt_outs.read_token(portal.settings.signing_key(), token, portal.clock.now())
    except EngageError as error:
        return portal.refuse(request, error, status_of(error))
    return portal.render(request, "unsubscribe.html", language=opt_outs.language_of(portal.db, address), address=address,
                         kind=kind)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """RFC 8058 one-click unsubscribe: mail clients POST without cookies, so the signed token is the proof."""
    portal = portal_of(request)
    try:
        address, kind = opt_outs.read_token(portal.settings.signing_key(), token, portal.clock.now())
        message = opt_outs.opt_out(portal.db, address, kind, portal.clock)
    except EngageError as error:
        return portal.refuse(request, error, status_of(error))
    return portal.render(request, "done.html", language=opt_outs.language_of(portal.db, address), message=message,
                         engagement=None)
