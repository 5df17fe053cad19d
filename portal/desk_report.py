"""The desk's final report: what is selected for it (and what could be), building it, downloading it.

Selecting is the lifecycles' own ``select_for_report`` step (posted to the engagement's step route);
building calls ``report.write_report`` into the website's report folder and republishes the site, as
``engage report`` does.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from models import Engagement
from portal.desk import desk_page, require_staff, staff_post
from portal.web import one_transaction, portal_of
from website.i18n import N_, Phrase
from states import jobs
from states.desk_queue import staff_steps
from states.errors import EngageError
from states.lifecycles import LIFECYCLES

router = APIRouter()
SELECT = "select_for_report"
LANGUAGES = ("en", "es", "fr")
FORMATS = ("html", "pdf")
REPORT_FILE = re.compile(r"report-(en|es|fr)\.(html|pdf)")


def _selectable() -> dict[str, set[str]]:
    """Per kind, the states from which staff may select an engagement for the report."""
    return {kind: {s.name for s in lifecycle.states if any(t.trigger == SELECT for t in staff_steps(lifecycle, s.name))}
            for kind, lifecycle in LIFECYCLES.items()}


def _report_page(request: Request, staff: str, status_code: int = 200, **extra: Any) -> HTMLResponse:
    from report import report_path

    portal = portal_of(request)
    chosen = {kind: states for kind, states in _selectable().items() if states}
    selected, candidates = [], []
    with portal.db.transaction() as session:
        for engagement in session.scalars(select(Engagement).where(Engagement.kind.in_(chosen))
                                          .order_by(Engagement.kind, Engagement.title)):
            if (engagement.details or {}).get("selected_for_report"):
                selected.append(engagement)
            elif engagement.state in chosen[engagement.kind]:
                candidates.append(engagement)
    built = []
    for language in LANGUAGES:
        for format in FORMATS:
            path = report_path(portal.settings.site_dir, language, format)
            if path.is_file():
                built.append((path.name, datetime.fromtimestamp(path.stat().st_mtime, timezone.utc), path.stat().st_size))
    return desk_page(request, "desk_report.html", staff, status_code, selected=selected, candidates=candidates,
                     built=built, report_languages=LANGUAGES, formats=FORMATS, **extra)


@router.get("/desk/report", response_class=HTMLResponse)
@one_transaction
def report_page(request: Request) -> Response:
    """The report's selection with a preview of each quote, the build form and the reports built so far."""
    staff = require_staff(request)
    if isinstance(staff, Response):
        return staff
    return _report_page(request, staff, built_now=request.query_params.get("built"))


@router.post("/desk/report", response_class=HTMLResponse)
async def build(request: Request) -> Response:
    """Build the report in one language and format into the website, and republish the site."""
    return await staff_post(request, _build)


def _build(request: Request, staff: str, form: FormData) -> Response:
    from report import report_path, write_report

    portal = portal_of(request)
    language, format, year = (str(form.get(name) or "") for name in ("language", "format", "year"))
    if language not in LANGUAGES or format not in FORMATS or (year and not (year.isdigit() and len(year) == 4)):
        return _report_page(request, staff, 422, error=Phrase.of(
            N_("Choose a language (%(languages)s), a format (%(formats)s) and, if you wish, a four-digit year."),
            languages=", ".join(LANGUAGES), formats=", ".join(FORMATS)))
    target = report_path(portal.settings.site_dir, language, format)
    try:
        write_report(portal.db, target, language=language, format=format, year=int(year) if year else None,  # type: ignore[arg-type]
                     today=portal.clock.now().date(), in_site=True)
    except (OSError, ValueError, EngageError) as error:
        return _report_page(request, staff, 422, error=Phrase.of(N_("The report could not be built: %(why)s"),
                                                                 why=getattr(error, "phrase", None) or str(error)))
    jobs.run_job("publish", portal.db, portal.settings, portal.clock, by=staff)
    return RedirectResponse(f"/desk/report?built={target.name}", status_code=303)


@router.get("/desk/report/{name}")
@one_transaction
def download(request: Request, name: str) -> Response:
    """A built report, as a download."""
    from report import report_path

    staff = require_staff(request)
    if isinstance(staff, Response):
        return staff
    portal = portal_of(request)
    match = REPORT_FILE.fullmatch(name)
    path = report_path(portal.settings.site_dir, match[1], match[2]) if match else None  # type: ignore[arg-type]
    if path is None or not path.is_file():
        return portal.refuse(request, Phrase.of(N_("There is no built report named \"%(name)s\"; build it first."),
                                                name=name), 404)
    media = "application/pdf" if path.suffix == ".pdf" else "text/html; charset=utf-8"
    return FileResponse(path, media_type=media, filename=path.name)
