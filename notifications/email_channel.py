"""E-mail delivery over SMTP, one connection reused across a batch."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, NamedTuple

from notifications.contact_checks import check_header_value
from notifications.errors import ChannelUnavailable, PermanentDeliveryError
from notifications.templates import RenderedMessage
from settings import Settings
from states.clock import Clock

log = logging.getLogger(__name__)

MESSAGE_ID_DOMAIN = "engage.coalition"


class _SmtpCompat32(Compat32):
    """``compat32`` that writes short plain-ASCII header lines as they are, skipping its costly folding."""

    def fold_binary(self, name: str, value: Any) -> bytes:  # noqa: ANN401 - str or Header, as in the base class
        if isinstance(value, str) and value.isascii() and len(name) + len(value) <= 76 and "\n" not in value and "\r" not in value:
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


SMTP_COMPAT32 = _SmtpCompat32(linesep="\r\n")
_LONGEST_PLAIN_WORD = 70  # longer words could not be folded within the 78-column line limit
_ENCODED_WORD_BYTES = 45  # 60 base64 characters: encoded words of 72 columns


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

    Built with the ``compat32`` email classes, several times faster than ``EmailMessage``. Names
    and subjects that are not plain short-worded ASCII go out as RFC 2047 encoded words, folded
    to short lines, so any character the input policy accepts (U+2028, U+0085, long words...)
    is sent intact. Raises :class:`PermanentDeliveryError` for values that can never make a
    valid message (ASCII control characters, a malformed address).
    """
    try:
        subject = header_text("subject", rendered.subject)
        name = header_text("recipient name", recipient_name)
        address = _ascii_address(recipient_address)
    except ValueError as error:
        raise PermanentDeliveryError(str(error)) from error
    # "=_" never occurs in quoted-printable text; a boundary given up front also spares the
    # generator a regular expression compiled per message to search the parts for it.
    message = MIMEMultipart("alternative", boundary=f"=_{message_id_for(dedupe_key)[1:25]}")
    message["From"] = settings.mail_from
    message["To"] = formataddr((name, address)) if name == recipient_name else f"{name} <{address}>"
    message["Subject"] = subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = message_id_for(dedupe_key)
    message["Content-Language"] = rendered.language
    message["Auto-Submitted"] = "auto-generated"
    message.attach(_text_part(rendered.text, "plain"))
    message.attach(_text_part(rendered.html, "html"))
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


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    """A UTF-8 quoted-printable text part (encoded by ``binascii``, far faster than ``email.quoprimime``)."""
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii"))
    return part


def header_text(field_name: str, value: str) -> str:
    """``value`` as it can stand in a header: unchanged if plain ASCII with short words, else encoded words.

    Refuses ASCII control characters (CR, LF, NUL...), which no input accepts, with a
    ``ValueError`` naming the field.
    """
    for position, character in enumerate(value):
        if ord(character) < 32 or ord(character) == 127:
            raise ValueError(
                f"{field_name} must not contain line breaks or control characters "
                f"(found U+{ord(character):04X} at position {position})"
            )
    if value.isascii() and all(len(word) <= _LONGEST_PLAIN_WORD for word in value.split(" ")):
        return value
    return " ".join(_encoded_words(value))


def _encoded_words(value: str) -> list[str]:
    """RFC 2047 base64 encoded words of at most 72 characters, never splitting a character.

    Written by hand because ``email.header.Header`` splits values at U+2028 and U+0085.
    """
    words: list[str] = []
    chunk = b""
    for character in value:
        encoded = character.encode("utf-8")
        if len(chunk) + len(encoded) > _ENCODED_WORD_BYTES:
            words.append(f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?=")
            chunk = b""
        chunk += encoded
    words.append(f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?=")
    return words


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


class SmtpUnavailable(ChannelUnavailable):
    """The SMTP server could not be reached, greeted or logged into, or it asked to try later."""


class EmailChannel:
    """Sends messages over one lazily opened SMTP connection, reopened after any failure.

    A failure of the server as a whole (connection refused, timeout, dropped connection, a 4xx
    reply) raises :class:`SmtpUnavailable`; a 5xx refusal of one message raises the ``smtplib``
    error, which is that message's fault. Once connecting has failed, further sends fail fast
    with the same error until :meth:`reset_failures`. Not thread-safe: one per thread.
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
        except SmtpUnavailable:
            self._drop()
            raise
        except Exception as error:
            self._drop()
            if _is_transient(error):
                raise SmtpUnavailable(
                    f"SMTP server {self.settings.smtp_host}:{self.settings.smtp_port}: {describe_error(error)}"
                ) from error
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


def _is_transient(error: BaseException) -> bool:
    """A failure of the server rather than of the message: no reply, a dropped line, or a 4xx reply."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(error, (OSError, smtplib.SMTPServerDisconnected))


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


