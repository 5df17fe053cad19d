"""E-mail delivery over SMTP, one connection reused across a batch."""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr

from notifications.errors import PermanentDeliveryError
from notifications.templates import RenderedMessage
from settings import Settings
from states.clock import Clock

log = logging.getLogger(__name__)

MESSAGE_ID_DOMAIN = "engage.coalition"


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
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) with all headers set."""
    message = EmailMessage(policy=SMTP_POLICY)
    try:
        message["From"] = settings.mail_from
        message["To"] = Address(display_name=recipient_name, addr_spec=recipient_address)
        message["Subject"] = rendered.subject
    except (ValueError, IndexError) as error:  # the email package's parse errors are ValueErrors
        raise PermanentDeliveryError(f"cannot build headers: {error}") from error
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = message_id_for(dedupe_key)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    message["Content-Language"] = rendered.language  # after set_content, which drops Content-* headers
    return message


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

    def send(self, message: EmailMessage, recipient_address: str) -> None:
        """Deliver one message; raises on any failure (the connection is then dropped).

        A connection found closed by the server (idle timeout) is reopened once.
        """
        reused = self._connection is not None
        try:
            try:
                self._send_once(message, recipient_address)
            except (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                log.info("SMTP connection went stale; reconnecting once")
                self._drop()
                self._send_once(message, recipient_address)
        except Exception:
            self._drop()
            raise

    def _send_once(self, message: EmailMessage, recipient_address: str) -> None:
        connection = self._connect()
        international = not (recipient_address.isascii() and self._envelope_from.isascii())
        policy = SMTP_POLICY.clone(utf8=True) if international else SMTP_POLICY
        connection.sendmail(
            self._envelope_from,
            [recipient_address],
            message.as_bytes(policy=policy),
            mail_options=["SMTPUTF8"] if international else [],
        )

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


