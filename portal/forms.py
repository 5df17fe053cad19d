"""Public submission forms (no accounts): the sender confirms their e-mail before anything is submitted."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from models.enums import RecommendationTopic
from portal.i18n import pick_language
from portal.links import status_of
from portal.uploads import KINDS as FILE_TYPES
from portal.uploads import detect, store
from portal.web import Portal, client_key, portal_of
from states import action_links, intake
from states.errors import EngageError
from states.inputs import InputError

router = APIRouter()

FORMS = {"recommendation": "recommendation", "achievement": "achievement", "material": "website_submission"}
FIELDS = ("organization", "email", "title", "topic", "text", "summary", "media", "url")
FILE_NAME = re.compile(r"^[0-9a-f]{64}\.(pdf|pptx|docx)$")


def _page(request: Request, portal: Portal, form: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    window = intake.windows(portal.db).get(FORMS[form])
    return portal.render(request, f"submit_{form}.html", status_code, form=form, window=window,
                         topics=list(RecommendationTopic), values=context.pop("values", {}), **context)


@router.get("/submit", response_class=HTMLResponse)
def submit_index(request: Request) -> HTMLResponse:
    """The three public forms and their windows."""
    portal = portal_of(request)
    return portal.render(request, "submit_index.html", windows=intake.windows(portal.db))


@router.get("/submit/{form}", response_class=HTMLResponse)
def submit_form(request: Request, form: str) -> HTMLResponse:
    """An empty form."""
    portal = portal_of(request)
    if form not in FORMS:
        return portal.refuse(request, f"there is no form {form!r}", 404)
    return _page(request, portal, form)


@router.post("/submit/{form}", response_class=HTMLResponse)
async def submit(request: Request, form: str) -> HTMLResponse:
    """Keep the submission until its sender confirms by e-mail; nothing is submitted yet."""
    data = await request.form()
    return await run_in_threadpool(_submit, request, form, data)


def _submit(request: Request, form: str, data: FormData) -> HTMLResponse:
    portal = portal_of(request)
    if form not in FORMS:
        return portal.refuse(request, f"there is no form {form!r}", 404)
    if not portal.submission_limit.allow(client_key(request)):
        return portal.refuse(request, portal.render_word(request, "too_many"), 429)
    if refusal := portal.csrf_refusal(request, data):
        return refusal
    values = {name: str(data.get(name) or "").strip() for name in FIELDS if isinstance(data.get(name) or "", str)}
    try:
        upload = _upload(data) if form == "material" else None
        details = _details(form, values, upload, portal)
        received = intake.receive(
            portal.db, FORMS[form], {k: values.get(k, "") for k in ("organization", "email", "title")}, details,
            language=pick_language(request), settings=portal.settings, clock=portal.clock,
        )
    except EngageError as error:
        return _page(request, portal, form, 422 if isinstance(error, InputError) else status_of(error),
                     error=str(error), values=values)
    if upload:
        store(upload, portal.settings.upload_dir)
    return portal.render(request, "submit_received.html", email=values["email"], early=received.early_deadline)


def _upload(data: FormData) -> bytes | None:
    file = data.get("file")
    return file.file.read() if isinstance(file, UploadFile) and file.filename else None


def _details(form: str, values: dict[str, str], upload: bytes | None, portal: Portal) -> dict[str, Any]:
    if form == "recommendation":
        return {"topic": values.get("topic", ""), "text": values.get("text", "")}
    if form == "achievement":
        return {"summary": values.get("summary", ""), "received_via": "website"}
    media = values.get("media", "")
    url = values.get("url", "")
    if media in ("presentation", "document"):
        if upload is None:
            raise InputError("file: attach the presentation or document (PDF, PPTX or DOCX)")
        kind = detect(upload)
        if kind is None:
            raise InputError("file: must be a PDF, PowerPoint (.pptx) or Word (.docx) file; its content is none of these")
        url = f"{portal.settings.public_base_url.rstrip('/')}/files/{hashlib.sha256(upload).hexdigest()}.{kind}"
    return {"media": media, "url": url, "summary": values.get("summary", "")}


@router.get("/files/{name}")
def download(request: Request, name: str) -> Response:
    """An uploaded file, always as a download (never rendered by the browser)."""
    portal = portal_of(request)
    path = portal.settings.upload_dir / name
    if not FILE_NAME.match(name) or not path.is_file():
        return portal.refuse(request, "no such file", 404)
    return FileResponse(path, media_type=FILE_TYPES[name.rsplit(".", 1)[1]], filename=name,
                        headers={"Content-Security-Policy": "sandbox; default-src 'none'"})


@router.get("/confirm/{token}", response_class=HTMLResponse)
def show_confirmation(request: Request, token: str) -> HTMLResponse:
    """What will be submitted, and the button that confirms it. Changes nothing."""
    portal = portal_of(request)
    try:
        link = action_links.verify(portal.db, token, portal.clock.now())
        pending = intake.pending_of(portal.db, link)
    except EngageError as error:
        return portal.refuse(request, str(error), status_of(error))
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
            message = f"{pending.payload['title']!r} was already confirmed and submitted"  # a repeated POST
        else:
            message = intake.confirm(portal.db, pending.id, settings=portal.settings, clock=portal.clock).message
    except EngageError as error:
        return portal.refuse(request, str(error), status_of(error))
    action_links.mark_used(portal.db, link.id, "confirm", portal.clock.now())
    return portal.render(request, "done.html", language=link.language, message=message, engagement=None)
