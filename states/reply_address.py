"""The Reply-To of a mail that asks an answer: the mailbox's address with a ``+token`` only its recipient knows.

The token is derived from the outbox row's ``dedupe_key`` with the secret key, like its action link
(but not the same token, so the address grants nothing on the portal). A reply sent to it proves it
answers that mail (``states.mail_intake``). The mail's Message-ID is keyed too (``message_id_for``), so
nobody who has not received the mail can name it in a reply's thread or in a forged delivery report.
"""

from __future__ import annotations

import hashlib
import hmac

from settings import Settings

MESSAGE_ID_DOMAIN = "engage.coalition"
"""The right-hand side of our Message-IDs: ``states.mail_intake`` tells our own mail by it."""


def reply_token(key: bytes, dedupe_key: str) -> str:
    """The ``+token`` of the outbox row ``dedupe_key`` (128 bits, lower-case hex: an MTA may lower-case it)."""
    return hmac.new(key, f"reply:{dedupe_key}".encode(), hashlib.sha256).hexdigest()[:32]


def message_id_for(key: bytes, dedupe_key: str) -> str:
    """The Message-ID of the outbox row ``dedupe_key``: the same on every (re)send, unguessable without ``key``."""
    digest = hmac.new(key, f"message-id:{dedupe_key}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


def reply_address(settings: Settings, dedupe_key: str) -> str | None:
    """``local+token@domain`` of the mailbox for the mail ``dedupe_key``; None without ``imap_address``."""
    if not settings.imap_address or "@" not in settings.imap_address:
        return None
    local, domain = settings.imap_address.rsplit("@", 1)
    return f"{local}+{reply_token(settings.signing_key(), dedupe_key)}@{domain}"
