"""Public submission forms (no accounts): the sender confirms their e-mail before anything is submitted."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from models.enums import RecommendationTopic
from states import uploads
from portal.i18n import pick_language
from portal.links import status_of
from portal.web import TOO_MANY, Portal, client_key, form_errors, one_transaction, portal_of
from states import action_links, intake
from states.errors import EngageError
from states.form_messages import FieldProblem
from states.sign_in import STAFF_ROLES
from states.inputs import InputError
from website.i18n import N_, Phrase

router = APIRouter()

FORMS = {"recommendation": "recommendation", "achievement": "achievement", "material": "website_submission"}
FIELDS = ("organization", "email", "title", "topic", "text", "summary", "media", "url")
FORM_FIELDS = (*FIELDS, "file")
NO_FORM = N_("There is no such form.")
NO_FILE = N_("No such file.")
FILE_NAME = re.compile(r"^[0-9a-f]{64}\.(pdf|pptx|docx)$")


def _page(request: Request, portal: Portal, form: str, status_code: int = 200, *,
          errors: dict[str, list[Any]] | None = None, values: dict[str, str] | None = None) -> HTMLResponse:
    """The form; a closed window says so in place of the form, before anyone types."""
    window = intake.windows(portal.db).get(FORMS[form])
    closed = intake.window_refusal(window, portal.clock.now().date())
    if closed is not None:
        errors = {"": [closed]}
    return portal.render(request, f"submit_{form}.html", status_code, form=form, window=window, open=closed is None,
                         topics=list(RecommendationTopic), values=values or {}, errors=errors or {})


@router.get("/submit", response_class=HTMLResponse)
@one_transaction
def submit_index(request: Request) -> HTMLResponse:
    """The three public forms and their windows."""
    portal = portal_of(request)
    return portal.render(request, "submit_index.html", windows=intake.windows(portal.db))


@router.get("/submit/{form}", response_class=HTMLResponse)
@one_transaction
def submit_form(request: Request, form: str) -> HTMLResponse:
    """An empty form."""
    portal = portal_of(request)
    if form not in FORMS:
        return portal.refuse(request, Phrase.of(NO_FORM), 404, heading=NO_FORM)
    return _page(request, portal, form)


@router.post("/submit/{form}", response_class=HTMLResponse)
async def submit(request: Request, form: str) -> HTMLResponse:
    """Keep the submission until its sender confirms by e-mail; nothing is submitted yet.

    An unknown form and a rate-limited client are answered before the body is read.
    """
    portal = portal_of(request)
    if form not in FORMS:
        return portal.refuse(request, Phrase.of(NO_FORM), 404, heading=NO_FORM)
    if not portal.submission_limit.allow(client_key(request)):
        return portal.refuse(request, TOO_MANY, 429, heading=N_("Too many attempts"))
    data = await request.form()
    return await run_in_threadpool(_submit, request, form, data)


def _submit(request: Request, form: str, data: FormData) -> HTMLResponse:
    portal = portal_of(request)
    if refusal := portal.csrf_refusal(request, data):
        return refusal
    values = {name: str(data.get(name) or "").strip() for name in FIELDS if isinstance(data.get(name) or "", str)}
    try:
        upload = _upload(data) if form == "material" else None
        details, kind = _checked_together(form, values, upload, portal)
        received = intake.receive(
            portal.db, FORMS[form], _sender(values), details,
            language=pick_language(request), settings=portal.settings, clock=portal.clock,
            upload_name=uploads.file_name(upload, kind) if upload and kind else None,
        )
    except EngageError as error:
        code = 413 if isinstance(error, uploads.FileTooLargeError) else 422 if isinstance(error, InputError) \
            else status_of(error)
        page = _page(request, portal, form, code, errors=form_errors(error, FORM_FIELDS), values=values)
        if isinstance(error, intake.BusyError):
            page.headers["Retry-After"] = "3600"
        return page
    if upload and kind and received.queued:
        uploads.store(upload, kind, portal.settings.upload_dir)
    return portal.render(request, "submit_received.html", email=values["email"], early=received.early_deadline)


def _upload(data: FormData) -> bytes | None:
    file = data.get("file")
    return uploads.read_limited(file.file) if isinstance(file, UploadFile) and file.filename else None


def _checked_together(form: str, values: dict[str, str], upload: bytes | None,
                      portal: Portal) -> tuple[dict[str, Any], str | None]:
    """``_details``, whose file refusal also names every other bad field of the form (all errors at once)."""
    try:
        return _details(form, values, upload, portal)
    except InputError as refusal:
        try:
            intake.validate(FORMS[form], _sender(values), _details(form, values, None, portal, file=False)[0])
        except InputError as others:
            raise InputError(f"{refusal}; {others}", problems=refusal.problems + others.problems) from None
        raise


def _sender(values: dict[str, str]) -> dict[str, str]:
    return {k: values.get(k, "") for k in ("organization", "email", "title")}


def _details(form: str, values: dict[str, str], upload: bytes | None, portal: Portal,
             file: bool = True) -> tuple[dict[str, Any], str | None]:
    """The form's details for the domain, and the kind of its file (when it carries one; ``file=False``: the
    details without looking at the file)."""
    if form == "recommendation":
        return {"topic": values.get("topic", ""), "text": values.get("text", "")}, None
    if form == "achievement":
        return {"summary": values.get("summary", ""), "received_via": "website"}, None
    media = values.get("media", "")
    url = values.get("url", "")
    kind = None
    if media in uploads.MEDIA_KINDS and not file:  # the file's own link, whatever it will be
        url = f"{portal.settings.public_base_url.rstrip('/')}/files/{'0' * 64}.pdf"
    elif media in uploads.MEDIA_KINDS:
        if upload is None:
            raise InputError("file: attach the presentation or document (PDF, PPTX or DOCX)", problems=(FieldProblem(
                "file", Phrase.of(N_("Please attach the presentation or document (PDF, PPTX or DOCX)."))),))
        kind = uploads.checked_kind(upload, media)
        url = f"{portal.settings.public_base_url.rstrip('/')}/files/{uploads.file_name(upload, kind)}"
    return {"media": media, "url": url, "summary": values.get("summary", "")}, kind


@router.get("/files/{name}")
@one_transaction
def download(request: Request, name: str) -> Response:
    """An uploaded file, always as a download (never rendered by the browser): to the public once its
    submission is published, to signed-in staff once it is confirmed, to nobody before."""
    portal = portal_of(request)
    if not FILE_NAME.match(name):
        return portal.refuse(request, Phrase.of(NO_FILE), 404, heading=NO_FILE)
    audience = intake.file_audience(portal.db, name)
    path = uploads.located(name, portal.settings.upload_dir)
    allowed = audience == "public" or (audience == "staff" and portal.signed_in_as(request, *STAFF_ROLES))
    if path is None or not allowed:
        return portal.refuse(request, Phrase.of(NO_FILE), 404, heading=NO_FILE)
    return FileResponse(path, media_type=uploads.KINDS[name.rsplit(".", 1)[1]], filename=name,
                        headers={"Content-Security-Policy": "sandbox; default-src 'none'"})


@router.get("/confirm/{token}", response_class=HTMLResponse)
@one_transaction
def show_confirmation(request: Request, token: str) -> HTMLResponse:
    """What will be submitted, and the button that confirms it. Changes nothing."""
    portal = portal_of(request)
    try:
        with portal.db.connection() as connection:
            link = action_links.verify(connection, token, portal.clock.now())
        pending = intake.pending_of(portal.db, link)
    except EngageError as error:
        return portal.refuse(request, error, status_of(error))
    return portal.render(request, "confirm.html", language=link.language, pending=pending)


@router.post("/confirm/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str) -> HTMLResponse:
    """Confirm the e-mail address: the submission enters its lifecycle."""
    data = await request.form()
    return await run_in_threadpool(_confirm, request, token, data)


def _confirm(request: Request, token: str, data: FormData) -> HTMLResponse:
    portal = portal_of(request)
    if refusal := portal.csrf_refusal(request, data):
        return refusal
    try:
        link = action_links.verify(portal.db, token, portal.clock.now(), "confirm")
        pending = intake.pending_of(portal.db, link)
        if pending.engagement_id is not None and link.used_action == "confirm":
            message = Phrase.of(intake.ALREADY_SUBMITTED, title=pending.payload["title"])  # a repeated POST
        else:
            message = intake.confirm(portal.db, pending.id, settings=portal.settings, clock=portal.clock).phrase
    except EngageError as error:
        return portal.refuse(request, error, status_of(error))
    if pending.upload_name:
        uploads.release(pending.upload_name, portal.settings.upload_dir)
    action_links.mark_used(portal.db, link.id, "confirm", portal.clock.now())
    return portal.render(request, "done.html", language=link.language, message=message, engagement=None)
