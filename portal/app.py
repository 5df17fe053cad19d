"""The portal's FastAPI application: server-rendered pages that work without JavaScript."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from models.db import Database
from portal import accounts, desk, desk_directory, desk_report, forms, links
from portal.security import Csrf, SecurityMiddleware, Sessions
from portal.web import Portal
from settings import Settings
from states.clock import SYSTEM_CLOCK, Clock
from website.i18n import N_, Phrase

STATIC = Path(__file__).parent / "static"
NOT_FOUND = N_("Page not found")


def create_app(settings: Settings, db: Database, clock: Clock = SYSTEM_CLOCK) -> FastAPI:
    """The portal over ``db``, telling time by ``clock``, signing with ``settings``' secret key."""
    @asynccontextmanager
    async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Pages and decisions run in worker threads; at most portal_threads at once (the default pool has 40).
        to_thread.current_default_thread_limiter().total_tokens = settings.portal_threads
        yield

    app = FastAPI(title="Coalition Engage portal", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_lifespan)
    secure = settings.public_base_url.startswith("https://")
    key = settings.signing_key()
    portal = Portal(settings, db, clock, Csrf(key, secure), Sessions(db, clock, secure, settings.session_hours))
    app.state.portal = portal
    # X-Forwarded-For names the client only when the connecting peer is a configured proxy (any ASGI server)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.add_middleware(SecurityMiddleware)  # outermost: its headers reach every answer
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(desk.router)  # before accounts: its /board leads to the desk
    app.include_router(desk_directory.router)
    app.include_router(desk_report.router)
    app.include_router(links.router)
    app.include_router(forms.router)
    app.include_router(accounts.router)

    @app.get("/", include_in_schema=False)
    def _home(request: Request) -> Response:
        return portal.render(request, "home.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def _no_icon() -> Response:
        return Response(status_code=204)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            return portal.refuse(request, Phrase.of(NOT_FOUND), 404, heading=NOT_FOUND)
        return portal.refuse(request, str(error.detail), error.status_code)

    return app
