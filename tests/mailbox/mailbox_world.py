"""The mailbox tests' world: a seeded database, settings pointing at a real Dovecot, and real messages."""

from __future__ import annotations

import imaplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from sqlalchemy import func, select

from models import InboundMessage, OutboxMessage, PendingSubmission, TransitionLog
from models.db import Database
from settings import Settings
from states.clock import SimulatedClock
from notifications.local_imap import ImapServer

MAILBOX_ADDRESS = "secretariat@coalition.example"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass
class MailboxWorld:
    db: Database
    settings: Settings
    clock: SimulatedClock
    server: ImapServer

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put one message into the mailbox with IMAP APPEND, as a delivery would."""
        with self._imap() as imap:
            imap.create(folder)  # refused harmlessly when it exists
            status, data = imap.append(folder, None, None, raw)
            assert status == "OK", data

    def folders(self) -> dict[str, int]:
        """How many messages each of INBOX, Processed and Refused holds."""
        counts = {}
        with self._imap() as imap:
            for folder in ("INBOX", "Processed", "Refused"):
                status, data = imap.select(folder, readonly=True)
                counts[folder] = int(data[0]) if status == "OK" else 0
        return counts

    def counts(self) -> tuple[int, int, int, int]:
        """Audit rows, outbox rows, pending submissions, inbound records."""
        with self.db.transaction() as session:
            return tuple(session.scalar(select(func.count()).select_from(table))  # type: ignore[return-value]
                         for table in (TransitionLog, OutboxMessage, PendingSubmission, InboundMessage))

    def _imap(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4(self.server.host, self.server.port)
        imap.login(self.server.username, self.server.password)
        return imap


def settings_for(db: Database, server: ImapServer, data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir, database_url=db.url, secret_key="test-key-" + "x" * 40,
        imap_host=server.host, imap_port=server.port, imap_ssl=False, imap_username=server.username,
        imap_password=server.password, imap_address=MAILBOX_ADDRESS,
    )


def mail(sender: str, subject: str, body: str, *, to: str = MAILBOX_ADDRESS, headers: dict[str, str] | None = None,
         attachment: tuple[bytes, str, str] | None = None) -> bytes:
    """A message as a mail client writes it; ``attachment`` is (content, MIME type, file name)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="sender.example")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if attachment:
        content, kind, name = attachment
        main, sub = kind.split("/")
        message.add_attachment(content, maintype=main, subtype=sub, filename=name)
    return message.as_bytes()


def dsn(reporting: str, failed: str, returned_message_id: str, status: str = "5.1.1") -> bytes:
    """An RFC 3464 delivery status notification, as an MTA writes it, returning our message's headers."""
    boundary = "dsn-boundary-1"
    return (
        f"From: Mail Delivery System <{reporting}>\r\nTo: engage@coalition.example\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nDate: {formatdate()}\r\n"
        f"Message-ID: {make_msgid(domain='mx.example')}\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: {status}\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: engage@coalition.example\r\nTo: {failed}\r\nMessage-ID: {returned_message_id}\r\n"
        f"Subject: Invitation\r\n\r\n--{boundary}--\r\n"
    ).encode()
