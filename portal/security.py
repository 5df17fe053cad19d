"""What every page of the portal needs to be safe: headers on every answer, CSRF, sessions, request-size
and rate limits (counted in the database, so they hold across worker processes and machines)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.db import Database
from models.security import RateLimitCounter
from portal.i18n import pick_language
from states import sign_in
from states.uploads import MAX_UPLOAD_BYTES
from states.clock import Clock
from website.i18n import N_, translations

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
ENCODED_HEADERS = [(name.lower().encode(), value.encode()) for name, value in HEADERS.items()]
CSRF_COOKIE = "engage_csrf"
CSRF_FIELD = "csrf"
MAX_FORM_BYTES = 64 * 1024
UPLOAD_PATHS = ("/submit/material",)
NONCE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
SIGNATURE = re.compile(r"[0-9a-f]{64}")
log = logging.getLogger("portal")


class Csrf:
    """Signed double-submit: a random cookie, and its HMAC in every form."""

    def __init__(self, key: bytes, secure: bool) -> None:
        self.key = key
        self.secure = secure

    def _sign(self, nonce: str) -> bytes:
        return hmac.new(self.key, f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest().encode()

    def token(self, request: Request) -> str:
        """The form token for this browser; a new cookie is set with the response when it has none."""
        nonce = getattr(request.state, "csrf_nonce", None) or _cookie_nonce(request)
        if nonce is None:
            nonce = self.rotate(request)
        return self._sign(nonce).decode()

    def rotate(self, request: Request) -> str:
        """A new nonce for this browser (sent with the response), e.g. when it signs in."""
        request.state.csrf_nonce = secrets.token_urlsafe(32)
        return request.state.csrf_nonce

    def valid(self, request: Request, submitted: object) -> bool:
        """The form's token matches the browser's cookie (bytes compared, anything else refused)."""
        nonce = _cookie_nonce(request)
        if nonce is None or not isinstance(submitted, str) or not SIGNATURE.fullmatch(submitted):
            return False
        return hmac.compare_digest(self._sign(nonce), submitted.encode())

    def set_cookie(self, request: Request, response: Response) -> None:
        """Send the cookie a page's forms were signed for, if it is new."""
        nonce = getattr(request.state, "csrf_nonce", None)
        if nonce:
            response.set_cookie(CSRF_COOKIE, nonce, httponly=True, secure=self.secure, samesite="strict", path="/")


def _cookie_nonce(request: Request) -> str | None:
    nonce = request.cookies.get(CSRF_COOKIE)
    return nonce if nonce and NONCE.fullmatch(nonce) else None


SESSION_COOKIE = "engage_session"


class Sessions:
    """Server-side sessions: the cookie holds a random id, the ``portal_sessions`` table who it is."""

    def __init__(self, db: Database, clock: Clock, secure: bool, hours: int) -> None:
        self.db = db
        self.clock = clock
        self.secure = secure
        self.lifetime = timedelta(hours=hours)

    def sign_in(self, response: Response, token: str) -> sign_in.SignedIn:
        """Use the sign-in link ``token`` (once) and give the browser the new session's cookie."""
        signed_in = sign_in.start_session(self.db, token, now=self.clock.now(), lifetime=self.lifetime)
        response.set_cookie(SESSION_COOKIE, signed_in.session_id, max_age=int(self.lifetime.total_seconds()),
                            httponly=True, secure=self.secure, samesite="strict", path="/")
        return signed_in

    def current(self, request: Request) -> tuple[str, str] | None:
        """(email, role) of the signed-in person, or ``None`` (no, unknown, revoked or expired session)."""
        return sign_in.session_of(self.db, request.cookies.get(SESSION_COOKIE, ""), self.clock.now())

    def sign_out(self, request: Request, response: Response) -> None:
        """Revoke the browser's session and drop its cookie."""
        sign_in.end_session(self.db, request.cookies.get(SESSION_COOKIE, ""), self.clock.now())
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=self.secure, samesite="strict")


COUNTERS = RateLimitCounter.__table__


class RateLimit:
    """At most ``limit`` events per fixed window of ``seconds`` for each key, counted in the database.

    One upsert per event (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING hits``) on SQLite and PostgreSQL,
    so every worker process and machine sharing the database shares the count. The first event of a
    key's new window also deletes the counters whose window is over (rows locked by others are skipped).
    """

    def __init__(self, db: Database, clock: Clock, scope: str, limit: int, seconds: int) -> None:
        self.db = db
        self.clock = clock
        self.scope = scope
        self.limit = limit
        self.seconds = seconds
        self._insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; ``False`` when it is over the limit."""
        now = self.clock.now()
        start = datetime.fromtimestamp(now.timestamp() // self.seconds * self.seconds, timezone.utc)
        hashed = hashlib.sha256(f"{self.scope}:{key}".encode("utf-8", "surrogatepass")).hexdigest()
        row = self._insert(COUNTERS).values(key=hashed, window_start=start, hits=1,
                                           expires_at=start + timedelta(seconds=self.seconds))
        upsert = row.on_conflict_do_update(index_elements=[COUNTERS.c.key], set_={
            "hits": case((COUNTERS.c.window_start == row.excluded.window_start, COUNTERS.c.hits + 1), else_=1),
            "window_start": row.excluded.window_start, "expires_at": row.excluded.expires_at,
        }).returning(COUNTERS.c.hits)
        with self.db.engine.begin() as connection:
            hits = connection.execute(upsert).scalar_one()
            if hits == 1:
                stale = select(COUNTERS.c.key).where(COUNTERS.c.expires_at <= now).with_for_update(skip_locked=True)
                connection.execute(delete(COUNTERS).where(COUNTERS.c.key.in_(stale)))
        return hits <= self.limit


class SecurityMiddleware:
    """Every answer carries the security headers, whatever produced it: a page, the 413 of an oversized
    body, or the plain 500 page of an unexpected error (logged, never shown)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                # a route's own policy (a download's sandbox) only adds restrictions: browsers enforce every CSP header
                headers += [(name, value) for name, value in ENCODED_HEADERS
                            if name not in present or name == b"content-security-policy"]
                message["headers"] = headers
            await send(message)

        limit = MAX_UPLOAD_BYTES + MAX_FORM_BYTES if scope["path"].startswith(UPLOAD_PATHS) else MAX_FORM_BYTES
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _too_large(limit, scope)(scope, receive, with_headers)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, with_headers)
        except BodyTooLarge:
            if not started:
                await _too_large(limit, scope)(scope, receive, with_headers)
        except Exception:  # noqa: BLE001 - the catch-all: no outside byte may leave a page without headers
            log.exception("unexpected error answering %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await PlainTextResponse(_said(scope, _WENT_WRONG), status_code=500)(scope, receive, with_headers)


class BodyTooLarge(Exception):
    """The request body is over the limit."""


_WENT_WRONG = N_("Something went wrong on our side. Please try again later.")
_TOO_LARGE = N_("The request is too large: at most %(num)s KiB may be sent.")


def _said(scope: Scope, msgid: str, **params: object) -> str:
    """A plain-text answer of the middleware, in the language the request asks for (the portal's choice)."""
    return translations(pick_language(Request(scope))).gettext(msgid) % params


def _too_large(limit: int, scope: Scope) -> Response:
    return PlainTextResponse(_said(scope, _TOO_LARGE, num=limit // 1024), status_code=413)
