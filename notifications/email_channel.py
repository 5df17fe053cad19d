"""E-mail delivery over SMTP, one connection reused across a batch, each message one round trip when the server pipelines."""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from email.utils import parseaddr
from typing import Generic, TypeVar

from notifications.errors import ChannelUnavailable
from notifications.mime import OutgoingEmail
from settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

_LEADING_PERIOD = re.compile(rb"(?m)^\.")
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")  # quoteaddr keeps it


class SmtpUnavailable(ChannelUnavailable):
    """The SMTP server could not be reached, greeted or logged into, or it asked to try later."""


class EmailChannel:
    """Sends messages over one lazily opened SMTP connection, reopened after any failure.

    A failure of the server as a whole (connection refused, timeout, dropped connection, a 4xx
    reply) raises :class:`SmtpUnavailable`; a 5xx refusal of one message is that message's
    fault, reported with it. Once connecting has failed, further sends fail fast with the same
    error until :meth:`reset_failures`. Not thread-safe: one per thread.
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
        """Deliver one message; raises :class:`SmtpUnavailable`, or the ``smtplib`` error refusing it."""
        [(_, refusal)] = [step for step in self.send_each([(None, message)]) if step is not WRITTEN]
        if refusal is not None:
            raise refusal

    def send_each(self, messages: Iterable[tuple[T, OutgoingEmail]], *,
                  announce_content: bool = False) -> Iterator[tuple[T, Exception | None] | object]:
        """Deliver each message in turn; yield it with ``None`` once the server took it, or with the error refusing it.

        When the server announces PIPELINING, a message's content goes out in one write with the
        next message's MAIL, RCPT and DATA (RFC 2920): one round trip per message. Between such a
        write and the reading of its replies it yields :data:`WRITTEN`, where a caller serving
        several connections from one thread turns to another one. With ``announce_content`` it
        also yields :class:`ContentNext` just before a message's content goes to the server (the
        whole message, for a server that does not pipeline): the caller charges the attempt
        there, then resumes it (or closes it, which drops the connection, the message unsent). A
        failure of the server as a whole raises :class:`SmtpUnavailable` and drops the connection:
        the messages not yielded by then were not delivered as far as the server said. A
        connection found closed by the server (idle timeout) is reopened once.
        """
        waiting: tuple[T, OutgoingEmail] | None = None  # its DATA was accepted: its content goes with the next write
        unread = False  # a transaction open on the connection whose outcome is not read yet
        try:
            for item, message in chain(messages, [(None, None)]):  # a last turn writes the content still waiting
                finished, waiting = waiting, None
                if finished is not None:
                    unread = True
                    if announce_content:
                        yield ContentNext(finished[0])
                    self._write(finished[1], message)
                    yield WRITTEN
                    refusal, started = self._read(message)
                    unread = False
                elif message is None:
                    break
                else:
                    if announce_content and self._sends_whole_messages():
                        yield ContentNext(item)
                    started = self._start(message)
                if started is _WAITING:
                    waiting = (item, message)
                if finished is not None:
                    yield finished[0], refusal
                if message is None:
                    break
                if isinstance(started, SmtpUnavailable):
                    raise started
                if started is not _WAITING:
                    yield item, started  # type: ignore[misc] - delivered (None) or refused
        finally:
            if waiting is not None or unread:  # stopped with a transaction open: the connection cannot carry another
                self._drop()

    def _sends_whole_messages(self) -> bool:
        """Whether starting a message sends its content too (the server does not pipeline); ``False`` if it cannot be
        reached, which starting the message then reports."""
        try:
            return not self._connect().has_extn("pipelining")
        except SmtpUnavailable:
            return False

    def _start(self, message: OutgoingEmail) -> object:
        """Open ``message``'s transaction: ``_WAITING`` for its content, or its outcome (``None``: delivered whole).

        Returns, rather than raises, a :class:`SmtpUnavailable`, as :meth:`_read` does.
        """
        reused = self._connection is not None
        try:
            try:
                return self._start_once(message)
            except (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                log.info("SMTP connection went stale; reconnecting once")
                self._drop()
                return self._start_once(message)
        except SmtpUnavailable as error:
            self._drop()
            return error
        except Exception as error:  # noqa: BLE001 - any other failure is the server's
            return self._unavailable(error)

    def _start_once(self, message: OutgoingEmail) -> object:
        connection = self._connect()
        if not connection.has_extn("pipelining"):
            try:
                connection.sendmail(self._envelope_from, [message.recipient], message.data)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
                return self._refused(error)
            return None
        connection.send(self._envelope(connection, message))
        return self._envelope_outcome(connection, message)

    def _write(self, waiting: OutgoingEmail, following: OutgoingEmail | None) -> None:
        """Send ``waiting``'s content with ``following``'s MAIL, RCPT and DATA in one write; :class:`SmtpUnavailable` if it fails."""
        connection = self._connection
        assert connection is not None  # noqa: S101 - a waiting message holds its connection
        try:
            data = waiting.data
            if data.startswith(b".") or b"\n." in data:  # rare: a line starting with a period is doubled
                data = _LEADING_PERIOD.sub(b"..", data)
            data += b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"
            connection.send(data if following is None else data + self._envelope(connection, following))
        except Exception as error:  # noqa: BLE001 - any failure here is the server's
            raise self._unavailable(error) from error

    def _read(self, following: OutgoingEmail | None) -> tuple[Exception | None, object]:
        """Read the replies to a :meth:`_write`: the waiting message's outcome (``None``: delivered) and ``following``'s start.

        ``following``'s start is what :meth:`_start` returns. Raises :class:`SmtpUnavailable` if
        the waiting message's outcome is unknown.
        """
        connection = self._connection
        assert connection is not None  # noqa: S101 - the write kept it
        try:
            code, reply = connection.getreply()
        except Exception as error:  # noqa: BLE001 - any failure here is the server's
            raise self._unavailable(error) from error
        refusal = None if code == 250 else self._refused(smtplib.SMTPDataError(code, reply))
        if isinstance(refusal, SmtpUnavailable):
            raise refusal
        if following is None:
            return refusal, None
        try:
            return refusal, self._envelope_outcome(connection, following)
        except Exception as error:  # noqa: BLE001 - any failure here is the server's
            return refusal, self._unavailable(error)

    def _envelope(self, connection: smtplib.SMTP, message: OutgoingEmail) -> bytes:
        size = f" size={len(message.data)}" if connection.has_extn("size") else ""
        recipient = message.recipient
        quoted = f"<{recipient}>" if _PLAIN_ADDRESS.fullmatch(recipient) else smtplib.quoteaddr(recipient)
        return f"mail FROM:{self._quoted_from}{size}\r\nrcpt TO:{quoted}\r\ndata\r\n".encode("ascii")

    def _envelope_outcome(self, connection: smtplib.SMTP, message: OutgoingEmail) -> object:
        """Read the replies to MAIL, RCPT and DATA: ``_WAITING`` if the server waits for the content, else the error."""
        (mail_code, mail_reply), rcpt, (data_code, data_reply) = connection.getreply(), connection.getreply(), connection.getreply()
        if mail_code != 250:
            error: smtplib.SMTPException = smtplib.SMTPSenderRefused(mail_code, mail_reply, self._envelope_from)
        elif rcpt[0] not in (250, 251):
            error = smtplib.SMTPRecipientsRefused({message.recipient: rcpt})
        elif data_code != 354:
            error = smtplib.SMTPDataError(data_code, data_reply)
        else:
            return _WAITING
        self._drop()  # the transaction is left half open: start the next one on a new connection
        return self._refused(error)

    def _refused(self, error: smtplib.SMTPException) -> Exception:
        """The refusal of one message, or a :class:`SmtpUnavailable` (connection dropped) if the server asked to try later."""
        return self._unavailable(error) if _is_transient(error) else error

    def _unavailable(self, error: BaseException) -> SmtpUnavailable:
        self._drop()
        if isinstance(error, SmtpUnavailable):
            return error
        return SmtpUnavailable(f"SMTP server {self.settings.smtp_host}:{self.settings.smtp_port}: {describe_error(error)}")

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


_WAITING = object()  # a message whose DATA the server accepted, its content not sent yet
WRITTEN = object()
"""What :meth:`EmailChannel.send_each` yields between a write and the reading of its replies."""


@dataclass(frozen=True)
class ContentNext(Generic[T]):
    """What :meth:`EmailChannel.send_each` yields (when asked) just before ``item``'s content goes to the server."""

    item: T


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


