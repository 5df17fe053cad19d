"""A person at the other end of the mail: reads the Maildir, follows a link, answers in the portal.

Used by the demo replay (and usable by tests): mails link to the public base URL, which the
visitor maps onto the portal it is given, so links stay valid for a later ``engage serve``.
"""

from __future__ import annotations

import html
import mailbox
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

LINK = re.compile(r"https?://[^\s<>\"]+/(?:a|confirm|signin)/[A-Za-z0-9_-]{20,}")
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
OUTCOME = re.compile(r'<p class="(ok|error|field-error)"[^>]*>(.*?)</p>', re.S)


@dataclass(frozen=True)
class Answer:
    """What the portal said."""

    status: int
    message: str

    @property
    def ok(self) -> bool:
        return self.status == 200


def _text_of(message: mailbox.MaildirMessage) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return ""


def mailed_link(maildir: Path, recipient: str, subject_contains: str) -> str | None:
    """The link of the newest mail to ``recipient`` whose subject contains ``subject_contains``."""
    newest: tuple[float, str] | None = None
    for key, message in mailbox.Maildir(maildir, create=False).items():
        subject = str(message["Subject"] or "")
        delivered = message.get_all("Delivered-To") or []
        if recipient.lower() in (d.lower() for d in delivered) and subject_contains in _decoded(subject):
            found = LINK.search(_text_of(message))
            when = (maildir / "new" / key).stat().st_mtime if (maildir / "new" / key).exists() else 0.0
            if found and (newest is None or when >= newest[0]):
                newest = (when, found.group(0))
    return newest[1] if newest else None


def mailed_links(maildir: Path) -> list[tuple[str, str, str]]:
    """(recipient, subject, link) of every mail in ``maildir`` that carries a portal link, oldest first."""
    found = []
    for key, message in mailbox.Maildir(maildir, create=False).items():
        link = LINK.search(_text_of(message))
        if link:
            path = maildir / "new" / key
            found.append((path.stat().st_mtime if path.exists() else 0.0, ", ".join(message.get_all("Delivered-To") or []),
                          _decoded(str(message["Subject"] or "")), link.group(0)))
    return [(to, subject, url) for _, to, subject, url in sorted(found)]


def _decoded(subject: str) -> str:
    from email.header import decode_header, make_header

    return " ".join(str(make_header(decode_header(subject))).split())


class Visitor:
    """Follows mailed links against the portal at ``base_url`` (one browser-like client, with cookies)."""

    def __init__(self, maildir: Path, base_url: str) -> None:
        import httpx  # here, not above: `engage mail-links` reads the Maildir without it

        self.maildir = maildir
        self.client = httpx.Client(base_url=base_url, timeout=60)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def open(self, recipient: str, subject_contains: str) -> tuple[str, httpx.Response]:
        """GET the link of the mail; (its path, the page)."""
        url = mailed_link(self.maildir, recipient, subject_contains)
        if url is None:
            raise LookupError(f"no mail with a link to {recipient} about {subject_contains!r}")
        path = urlsplit(url).path
        return path, self.client.get(path)

    def act(self, recipient: str, subject_contains: str, action: str, **fields: str) -> Answer:
        """Open the mail's link and press ``action`` with the form ``fields``."""
        path, page = self.open(recipient, subject_contains)
        if page.status_code != 200:
            return _answer(page)
        token = CSRF.search(page.text)
        response = self.client.post(path, data={"csrf": token.group(1) if token else "", "action": action, **fields})
        return _answer(response)

    def submit(self, form: str, **fields: str) -> Answer:
        """Fill in and send a public submission form."""
        page = self.client.get(f"/submit/{form}")
        token = CSRF.search(page.text)
        return _answer(self.client.post(f"/submit/{form}", data={"csrf": token.group(1) if token else "", **fields}))


def _answer(response: httpx.Response) -> Answer:
    found = OUTCOME.search(response.text)
    text = html.unescape(re.sub(r"<[^>]+>", " ", found.group(2))) if found else response.reason_phrase
    return Answer(response.status_code, " ".join(text.split()))
