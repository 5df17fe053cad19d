"""The Reply-To of a mail that asks an answer: the mailbox's address with a ``+token`` only its recipient knows.

The token is derived from the outbox row's ``dedupe_key`` with the secret key, like its action link
(but not the same token, so the address grants nothing on the portal). A reply sent to it proves it
answers that mail (``states.mail_intake``); a thread's Message-ID, derived without a key, does not.
"""

from __future__ import annotations

import hashlib
import hmac

from settings import Settings


def reply_token(key: bytes, dedupe_key: str) -> str:
    """The ``+token`` of the outbox row ``dedupe_key`` (128 bits, lower-case hex: an MTA may lower-case it)."""
    return hmac.new(key, f"reply:{dedupe_key}".encode(), hashlib.sha256).hexdigest()[:32]


def reply_address(settings: Settings, dedupe_key: str) -> str | None:
    """``local+token@domain`` of the mailbox for the mail ``dedupe_key``; None without ``imap_address``."""
    if not settings.imap_address or "@" not in settings.imap_address:
        return None
    local, domain = settings.imap_address.rsplit("@", 1)
    return f"{local}+{reply_token(settings.signing_key(), dedupe_key)}@{domain}"
