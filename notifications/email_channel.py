"""E-mail delivery over SMTP, one connection reused across a batch, commands pipelined when the server allows."""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from email.utils import parseaddr

from notifications.errors import ChannelUnavailable
from notifications.mime import OutgoingEmail
from settings import Settings

log = logging.getLogger(__name__)

_LEADING_PERIOD = re.compile(rb"(?m)^\.")
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")  # quoteaddr keeps it


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
        self._quoted_from = smtplib.quoteaddr(self._envelope_from)
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
        connection = self._connect()
        if connection.has_extn("pipelining"):
            _pipelined_sendmail(connection, self._envelope_from, self._quoted_from, message)
        else:
            connection.sendmail(self._envelope_from, [message.recipient], message.data)

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


def _pipelined_sendmail(connection: smtplib.SMTP, sender: str, quoted_sender: str, message: OutgoingEmail) -> None:
    """``sendmail`` to one recipient with MAIL, RCPT and DATA in one write (RFC 2920): two round trips, not four.

    Sends the commands and raises the errors ``sendmail`` would for the same replies; the
    caller drops the connection after any error.
    """
    size = f" size={len(message.data)}" if connection.has_extn("size") else ""
    recipient = message.recipient
    quoted = f"<{recipient}>" if _PLAIN_ADDRESS.fullmatch(recipient) else smtplib.quoteaddr(recipient)
    connection.send(f"mail FROM:{quoted_sender}{size}\r\nrcpt TO:{quoted}\r\ndata\r\n")
    (mail_code, mail_reply), rcpt, (data_code, data_reply) = connection.getreply(), connection.getreply(), connection.getreply()
    if mail_code != 250:
        raise smtplib.SMTPSenderRefused(mail_code, mail_reply, sender)
    if rcpt[0] not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({message.recipient: rcpt})
    if data_code != 354:
        raise smtplib.SMTPDataError(data_code, data_reply)
    data = _LEADING_PERIOD.sub(b"..", message.data)
    connection.send(data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"))
    code, reply = connection.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


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


