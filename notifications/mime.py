"""The wire form of a notification e-mail, written directly instead of through ``email``'s generator.

The bytes are those the ``email`` package (``compat32`` classes, ``as_bytes``) writes for the same
message: every header goes through the same ``compat32`` folding, parts carry the same headers in
the same order, line ends are CRLF. Only the generator's tree of objects and its per-line writes
are skipped, which cost more than rendering the templates.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.policy import Compat32
from email.utils import format_datetime, formataddr, quote
from functools import lru_cache
from typing import Any, NamedTuple

from notifications.contact_checks import check_header_value
from notifications.errors import PermanentDeliveryError
from notifications.templates import RenderedMessage
from settings import Settings
from states.clock import Clock
from states.reply_address import message_id_for

_LONGEST_PLAIN_WORD = 70  # longer words could not be folded within the 78-column line limit
_ENCODED_WORD_BYTES = 45  # 60 base64 characters: encoded words of 72 columns
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ONE_WORD = re.compile(r"[!-+\--:<-~]+")  # printable ASCII without space, ";" or ",", where compat32 may fold


class _SmtpCompat32(Compat32):
    """``compat32`` that writes plain-ASCII header lines it would not fold as they are, skipping its costly folding.

    A short line stays as it is; a value made of one word too long for the line (a link) goes
    whole to a continuation line, as ``compat32`` puts it.
    """

    def fold_binary(self, name: str, value: Any) -> bytes:  # noqa: ANN401 - str or Header, as in the base class
        if isinstance(value, str) and value.isascii() and "\n" not in value and "\r" not in value:
            if len(name) + len(value) <= 76:
                return f"{name}: {value}{self.linesep}".encode("ascii")
            if _ONE_WORD.fullmatch(value):
                return f"{name}: {self.linesep} {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


SMTP_COMPAT32 = _SmtpCompat32(linesep="\r\n")


class OutgoingEmail(NamedTuple):
    """A message ready for SMTP: its envelope recipient and its bytes."""

    recipient: str
    data: bytes


class Attachment(NamedTuple):
    """A file sent with a message, base64-encoded: ``content_type`` is the whole header value."""

    content_type: str
    filename: str
    data: bytes


def build_email(
    *,
    rendered: RenderedMessage,
    recipient_name: str,
    recipient_address: str,
    dedupe_key: str,
    settings: Settings,
    clock: Clock,
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[Attachment] = (),
) -> OutgoingEmail:
    """The wire form of a multipart/alternative message (text, then HTML), all headers set.

    With attachments, a multipart/mixed message holding the alternative part, then each
    attachment. Names and subjects that are not plain short-worded ASCII go out as RFC 2047
    encoded words, folded to short lines, so any character the input policy accepts (U+2028,
    U+0085, long words...) is sent intact. Raises :class:`PermanentDeliveryError` for values that
    can never make a valid message (ASCII control characters, a malformed address).
    """
    try:
        subject = header_text("subject", rendered.subject)
        name = header_text("recipient name", recipient_name)
        address = _ascii_address(recipient_address)
    except ValueError as error:
        raise PermanentDeliveryError(str(error)) from error
    message_id = message_id_for(settings.signing_key(), dedupe_key)
    # "=_" never occurs in quoted-printable or base64 text, so these boundaries need no search
    # through the parts; "=_m" is no prefix of "=_<hex>" nor the reverse.
    alternative = _multipart("alternative", f"=_{message_id[1:25]}",
                             [_text_part(rendered.text, "plain"), _text_part(rendered.html, "html")])
    fields = [
        ("From", settings.mail_from),
        ("To", formataddr((name, address)) if name == recipient_name else f"{name} <{address}>"),
        ("Subject", subject),
        ("Date", _date_header(clock.now().replace(microsecond=0))),
        ("Message-ID", message_id),
        ("Content-Language", rendered.language),
        ("Auto-Submitted", "auto-generated"),
        *(headers or {}).items(),
    ]
    if not attachments:
        head, body = alternative
        return OutgoingEmail(recipient=address, data=head + _headers(fields) + body)
    mixed_head, mixed_body = _multipart("mixed", f"=_m{message_id[1:25]}",
                                       [b"".join(alternative), *(_attachment_part(item) for item in attachments)])
    return OutgoingEmail(recipient=address, data=mixed_head + _headers(fields) + mixed_body)


@lru_cache(maxsize=1)
def _date_header(moment: datetime) -> str:
    """The Date header of a message sent at ``moment`` (a whole second): formatted once per second."""
    return format_datetime(moment)


def _headers(fields: Sequence[tuple[str, str]]) -> bytes:
    return b"".join([SMTP_COMPAT32.fold_binary(name, value) for name, value in fields])


def _multipart(subtype: str, boundary: str, parts: Sequence[bytes]) -> tuple[bytes, bytes]:
    """A multipart entity as (its leading headers, the blank line and body), so headers can be added between."""
    head = _headers([("Content-Type", f'multipart/{subtype}; boundary="{boundary}"'), ("MIME-Version", "1.0")])
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    body = b"--" + boundary.encode("ascii") + b"\r\n" + delimiter.join(parts) + b"\r\n--" + boundary.encode("ascii") + b"--\r\n"
    return head, b"\r\n" + body


def _text_part(text: str, subtype: str) -> bytes:
    """A UTF-8 quoted-printable text part (encoded by ``binascii``, far faster than ``email.quoprimime``)."""
    payload = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    payload = payload.replace(b"\n", b"\r\n") if b"\r" not in payload else _LINE_ENDS.sub(b"\r\n", payload)
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii") + payload


def _attachment_part(attachment: Attachment) -> bytes:
    fields = [
        ("Content-Type", attachment.content_type),
        ("MIME-Version", "1.0"),
        ("Content-Transfer-Encoding", "base64"),
        ("Content-Disposition", f'attachment; filename="{quote(attachment.filename)}"'),
    ]
    return _headers(fields) + b"\r\n" + base64.encodebytes(attachment.data).replace(b"\n", b"\r\n")


def header_text(field_name: str, value: str) -> str:
    """``value`` as it can stand in a header: unchanged if plain ASCII with short words, else encoded words.

    Text that looks like an RFC 2047 encoded word (``=?charset?b?...?=``, often typed by a visitor to
    smuggle characters into a subject) is itself encoded, so mail clients show it literally and never
    decode it. Refuses ASCII control characters (CR, LF, NUL...), which no input accepts, with a
    ``ValueError`` naming the field.
    """
    control = _ASCII_CONTROL.search(value)
    if control:
        raise ValueError(
            f"{field_name} must not contain line breaks or control characters "
            f"(found U+{ord(control.group()):04X} at position {control.start()})"
        )
    if value.isascii() and "=?" not in value and all(len(word) <= _LONGEST_PLAIN_WORD for word in value.split(" ")):
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
        return f"{local}@{_idna(domain)}"
    except UnicodeError as error:
        raise ValueError(f"recipient address {address!r} has an invalid domain: {error}") from None


@lru_cache(maxsize=1024)
def _idna(domain: str) -> str:
    """``domain`` in its ASCII (IDNA) form; recipients share few domains, so each is converted once."""
    return domain.encode("idna").decode("ascii")
