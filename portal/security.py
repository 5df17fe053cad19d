"""What every page of the portal needs to be safe: headers, CSRF, request-size and rate limits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
CSRF_COOKIE = "engage_csrf"
CSRF_FIELD = "csrf"
MAX_FORM_BYTES = 64 * 1024
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
UPLOAD_PATHS = ("/submit/material",)


class Csrf:
    """Signed double-submit: a random cookie, and its HMAC in every form."""

    def __init__(self, key: bytes, secure: bool) -> None:
        self.key = key
        self.secure = secure

    def _sign(self, nonce: str) -> str:
        return hmac.new(self.key, f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()

    def token(self, request: Request) -> str:
        """The form token for this browser; a new cookie is set with the response when it has none."""
        nonce = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_nonce", None)
        if not nonce or len(nonce) > 100:
            nonce = secrets.token_urlsafe(32)
            request.state.csrf_nonce = nonce
        return self._sign(nonce)

    def valid(self, request: Request, submitted: object) -> bool:
        """The form's token matches the browser's cookie."""
        nonce = request.cookies.get(CSRF_COOKIE)
        if not nonce or not isinstance(submitted, str):
            return False
        return hmac.compare_digest(self._sign(nonce), submitted)

    def set_cookie(self, request: Request, response: Response) -> None:
        """Send the cookie a page's forms were signed for, if it is new."""
        nonce = getattr(request.state, "csrf_nonce", None)
        if nonce:
            response.set_cookie(CSRF_COOKIE, nonce, httponly=True, secure=self.secure, samesite="strict", path="/")


SESSION_COOKIE = "engage_session"


class Sessions:
    """A signed cookie naming who signed in, as what, until when."""

    def __init__(self, key: bytes, secure: bool, hours: int) -> None:
        self.key = key
        self.secure = secure
        self.seconds = hours * 3600

    def _sign(self, payload: str) -> str:
        return hmac.new(self.key, f"session:{payload}".encode(), hashlib.sha256).hexdigest()

    def start(self, response: Response, email: str, role: str) -> None:
        """Sign ``email`` in as ``role``."""
        payload = f"{email}|{role}|{int(time.time()) + self.seconds}"
        response.set_cookie(SESSION_COOKIE, f"{payload}|{self._sign(payload)}", max_age=self.seconds, httponly=True,
                            secure=self.secure, samesite="strict", path="/")

    def current(self, request: Request) -> tuple[str, str] | None:
        """(email, role) of the signed-in person, or ``None``."""
        value = request.cookies.get(SESSION_COOKIE, "")
        payload, _, signature = value.rpartition("|")
        if not payload or not hmac.compare_digest(self._sign(payload), signature):
            return None
        email, role, until = payload.split("|")
        return (email, role) if int(until) > time.time() else None


class RateLimiter:
    """At most ``limit`` events per ``seconds`` for each key (in this process)."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; ``False`` when it is over the limit."""
        now = time.monotonic()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.seconds:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            if len(self._events) > 10_000:  # forget idle keys so memory stays bounded
                self._events = {k: v for k, v in self._events.items() if v and v[-1] > now - self.seconds}
            return True


class SecurityMiddleware:
    """Adds the security headers and refuses request bodies over the size limit with 413."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = MAX_UPLOAD_BYTES + MAX_FORM_BYTES if scope["path"].startswith(UPLOAD_PATHS) else MAX_FORM_BYTES
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _too_large(limit)(scope, receive, send)
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

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k.lower().encode(), v.encode()) for k, v in HEADERS.items() if k.lower().encode() not in present]
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited_receive, with_headers)
        except BodyTooLarge:
            await _too_large(limit)(scope, receive, with_headers)


class BodyTooLarge(Exception):
    """The request body is over the limit."""


def _too_large(limit: int) -> Response:
    return PlainTextResponse(f"The request is too large: at most {limit // 1024} KiB may be sent.", status_code=413)
