"""Opting out of optional notices by a signed one-click link (RFC 8058), recorded on the contact.

Each mail carries a fresh token naming the address, the notice type and the moment it expires
(``Settings.unsubscribe_lifetime_days`` after the mail was sent).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from datetime import datetime, timezone

from sqlalchemy import func, select

from models import AddressOptOut, CoChair, Contact
from models.db import Database
from models.enums import NotificationType
from states.action_links import ExpiredLinkError, ForgedLinkError
from states.clock import SYSTEM_CLOCK, Clock
from states.words import state_word
from website.i18n import N_, Phrase

TOKEN = re.compile(r"([A-Za-z0-9_-]{1,600})\.([0-9a-f]{32})")
FORGED = Phrase.of(N_("This unsubscribe link is not valid."))


def _signature(key: bytes, payload: str) -> bytes:
    return hmac.new(key, f"unsubscribe:{payload}".encode(), hashlib.sha256).hexdigest()[:32].encode()


def unsubscribe_token(key: bytes, address: str, notification_type: str, expires_at: datetime) -> str:
    """A token naming the address, the notice type and its expiry, signed so nobody else can make one."""
    text = f"{address.lower()}\n{notification_type}\n{int(expires_at.timestamp())}"
    payload = base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
    return f"{payload}.{_signature(key, payload).decode()}"


def read_token(key: bytes, token: str, now: datetime) -> tuple[str, str]:
    """(address, notification type) of a genuine, unexpired token; ``ForgedLinkError`` or ``ExpiredLinkError`` otherwise."""
    match = TOKEN.fullmatch(token)
    if match is None or not hmac.compare_digest(_signature(key, match.group(1)), match.group(2).encode()):
        raise ForgedLinkError(FORGED)
    try:
        text = base64.urlsafe_b64decode(match.group(1) + "=" * (-len(match.group(1)) % 4)).decode()
        address, kind, expires = text.split("\n")
        expires_at = datetime.fromtimestamp(int(expires), timezone.utc)
        kind = NotificationType(kind).value
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as error:
        raise ForgedLinkError(FORGED) from error  # signed by this system, in a shape it no longer issues
    if now >= expires_at:
        raise ExpiredLinkError(Phrase.of(N_("This unsubscribe link expired on %(day)s; every optional notice carries "
                                            "a fresh one."), day=expires_at.date()))
    return address, kind


def language_of(db: Database, address: str) -> str | None:
    """The language ``address`` reads its mails in, when it is a contact's or a co-chair's."""
    with db.transaction() as session:
        for person in (Contact, CoChair):
            found = session.scalar(select(person.language).where(func.lower(person.email) == address.lower()).limit(1))
            if found:
                return found
    return None


def opt_out(db: Database, address: str, notification_type: str, clock: Clock = SYSTEM_CLOCK) -> Phrase:
    """Record that ``address`` wants no more optional ``notification_type`` notices (idempotent); what to tell them."""
    notices = Phrase.of(state_word(notification_type))
    with db.transaction() as session:
        contact = session.scalar(select(Contact).where(func.lower(Contact.email) == address.lower()))
        if contact is None:  # an address that is no contact (a website form's confirmation mails): kept on its own
            if session.get(AddressOptOut, (address.lower(), notification_type)) is None:
                session.add(AddressOptOut(email=address.lower(), notification_type=notification_type,
                                          created_at=clock.now()))
            return Phrase.of(N_("%(address)s will no longer receive these mails: %(notices)s."), address=address,
                             notices=notices)
        if notification_type not in (contact.opt_outs or []):
            contact.opt_outs = [*(contact.opt_outs or []), notification_type]
        return Phrase.of(N_("%(address)s will no longer receive these optional notices: %(notices)s."), address=address,
                         notices=notices)
