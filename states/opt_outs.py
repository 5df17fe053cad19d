"""Opting out of optional notices by a signed one-click link (RFC 8058), recorded on the contact."""

from __future__ import annotations

import base64
import hashlib
import hmac

from sqlalchemy import func, select

from models import AddressOptOut, Contact
from models.db import Database
from models.enums import NotificationType
from states.clock import SYSTEM_CLOCK, Clock
from states.action_links import ForgedLinkError


def unsubscribe_token(key: bytes, address: str, notification_type: str) -> str:
    """A token naming the address and the notice type, signed so nobody else can make one."""
    payload = base64.urlsafe_b64encode(f"{address.lower()}\n{notification_type}".encode()).rstrip(b"=").decode()
    signature = hmac.new(key, f"unsubscribe:{payload}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{payload}.{signature}"


def read_token(key: bytes, token: str) -> tuple[str, str]:
    """(address, notification type) of a genuine token; ``ForgedLinkError`` otherwise."""
    payload, _, signature = token.partition(".")
    expected = hmac.new(key, f"unsubscribe:{payload}".encode(), hashlib.sha256).hexdigest()[:32]
    if len(token) > 700 or not hmac.compare_digest(expected, signature):
        raise ForgedLinkError("this unsubscribe link is not valid")
    address, _, kind = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().partition("\n")
    return address, NotificationType(kind).value


def opt_out(db: Database, address: str, notification_type: str, clock: Clock = SYSTEM_CLOCK) -> str:
    """Record that ``address`` wants no more optional ``notification_type`` notices (idempotent)."""
    with db.transaction() as session:
        contact = session.scalar(select(Contact).where(func.lower(Contact.email) == address.lower()))
        if contact is None:  # an address that is no contact (a website form's confirmation mails): kept on its own
            if session.get(AddressOptOut, (address.lower(), notification_type)) is None:
                session.add(AddressOptOut(email=address.lower(), notification_type=notification_type,
                                          created_at=clock.now()))
            return f"{address} will no longer receive {notification_type.replace('_', ' ')} mails"
        if notification_type not in (contact.opt_outs or []):
            contact.opt_outs = [*(contact.opt_outs or []), notification_type]
        return f"{address} will no longer receive optional {notification_type.replace('_', ' ')} notices"
