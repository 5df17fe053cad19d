"""E-mail delivery over SMTP, one connection reused across a batch."""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from email.charset import QP, Charset
from collections.abc import Mapping, Sequence
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, parseaddr
from typing import NamedTuple

from notifications.contact_checks import check_header_value
from notifications.errors import PermanentDeliveryError
from notifications.templates import RenderedMessage
from settings import Settings
from states.clock import Clock

log = logging.getLogger(__name__)

MESSAGE_ID_DOMAIN = "engage.coalition"
SMTP_COMPAT32 = compat32.clone(linesep="\r\n")
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


class OutgoingEmail(NamedTuple):
    """A message ready for SMTP: its envelope recipient and its bytes."""

    recipient: str
    data: bytes


def message_id_for(dedupe_key: str) -> str:
    """The Message-ID of an outbox row: the same on every (re)send of that row."""
    digest = hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


def build_email(
    *,
    rendered: RenderedMessage,
    recipient_name: str,
    recipient_address: str,
    dedupe_key: str,
    settings: Settings,
    clock: Clock,
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[MIMEBase] = (),
) -> OutgoingEmail:
    """The wire form of a multipart/alternative message (text, then HTML), all headers set.

    Built with the ``compat32`` email classes, several times faster than ``EmailMessage``; since
    those do not refuse line breaks in header values, every value is checked here first.
    Raises :class:`PermanentDeliveryError` for values that can never make a valid message.
    """
    try:
        check_header_value("recipient name", recipient_name)
        check_header_value("subject", rendered.subject)
        address = _ascii_address(recipient_address)
    except ValueError as error:
        raise PermanentDeliveryError(str(error)) from error
    message = MIMEMultipart("alternative")
    message["From"] = settings.mail_from
    message["To"] = formataddr((recipient_name, address))
    message["Subject"] = Header(rendered.subject, "utf-8") if not rendered.subject.isascii() else rendered.subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = message_id_for(dedupe_key)
    message["Content-Language"] = rendered.language
    message["Auto-Submitted"] = "auto-generated"
    message.attach(MIMEText(rendered.text, "plain", _UTF8_QP))
    message.attach(MIMEText(rendered.html, "html", _UTF8_QP))
    if attachments:  # multipart/mixed: the alternative parts, then the attachments
        outer = MIMEMultipart("mixed")
        for name in ("From", "To", "Subject", "Date", "Message-ID", "Content-Language", "Auto-Submitted"):
            outer[name] = message[name]
            del message[name]
        outer.attach(message)
        for attachment in attachments:
            outer.attach(attachment)
        message = outer
    for name, value in (headers or {}).items():
        message[name] = value
    return OutgoingEmail(recipient=address, data=message.as_bytes(policy=SMTP_COMPAT32))


def _ascii_address(address: str) -> str:
    """``address`` with an internationalized domain in its ASCII (IDNA) form."""
    check_header_value("recipient address", address)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"recipient address {address!r} is not an e-mail address")
    if not local.isascii():
        raise ValueError(f"recipient address {address!r} has a non-ASCII local part, which needs SMTPUTF8")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError as error:
        raise ValueError(f"recipient address {address!r} has an invalid domain: {error}") from None


class SmtpUnavailable(ConnectionError):
    """The SMTP server could not be reached, greeted or logged into."""


class EmailChannel:
    """Sends messages over one lazily opened SMTP connection, reopened after any failure.

    Once connecting has failed, further sends fail fast with the same error until
    :meth:`reset_failures`, so an unreachable server costs one timeout per batch, not per row.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._envelope_from = parseaddr(settings.mail_from)[1]
        self._connection: smtplib.SMTP | None = None
        self._connect_error: SmtpUnavailable | None = None

    def __enter__(self) -> EmailChannel:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def reset_failures(self) -> None:
        """Forget an earlier connection failure, so the next send tries to connect again."""
        self._connect_error = None

    def send(self, message: OutgoingEmail) -> None:
        """Deliver one message; raises on any failure (the connection is then dropped).

        A connection found closed by the server (idle timeout) is reopened once.
        """
        reused = self._connection is not None
        try:
            try:
                self._send_once(message)
            except (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                log.info("SMTP connection went stale; reconnecting once")
                self._drop()
                self._send_once(message)
        except Exception:
            self._drop()
            raise

    def _send_once(self, message: OutgoingEmail) -> None:
        self._connect().sendmail(self._envelope_from, [message.recipient], message.data)

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        if self._connect_error is not None:
            raise self._connect_error
        settings = self.settings
        try:
            connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
            try:
                connection.ehlo()
                if settings.smtp_starttls:
                    connection.starttls(context=ssl.create_default_context())
                    connection.ehlo()
                if settings.smtp_username:
                    connection.login(settings.smtp_username, settings.smtp_password or "")
            except BaseException:
                connection.close()
                raise
        except (OSError, smtplib.SMTPException) as error:
            self._connect_error = SmtpUnavailable(
                f"SMTP server {settings.smtp_host}:{settings.smtp_port} unavailable: {describe_error(error)}"
            )
            raise self._connect_error from error
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def close(self) -> None:
        """Say goodbye to the server (best effort) and close the connection."""
        if self._connection is not None:
            try:
                self._connection.quit()
            except (OSError, smtplib.SMTPException):
                pass
            finally:
                self._drop()


def describe_error(error: BaseException) -> str:
    """A one-line description of an SMTP or socket error."""
    if isinstance(error, smtplib.SMTPResponseException):
        detail = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return f"{error.smtp_code} {detail}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {reply.decode('utf-8', 'replace')}" for address, (code, reply) in error.recipients.items()
        )
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


