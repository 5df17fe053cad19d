"""The Secretariat's mailbox: each inbound message filed once, through the seams the portal uses.

A message is one of, in this order:

- **our own mail** (sent from ``mail_from`` or with one of our Message-IDs): ignored, so nothing loops;
- a **delivery status notification** (RFC 3464 ``multipart/report``) for a mail we sent: each address
  it reports as permanently failed (``Action: failed``, status 5.x.x) is marked undeliverable, and the
  outbox suppresses mail to it (``states.recipients``). A report that names no mail of ours sent to
  that address is refused (anyone can write a DSN);
- an **auto-reply** or list traffic (RFC 3834 ``Auto-Submitted``, ``X-Autoreply``, ``Precedence``
  bulk/list/junk, ``List-Id``, an out-of-office subject): recorded and ignored;
- a **reply** to a mail of ours: the sender must be the address that mail was sent to (else refused:
  a forged From on someone else's thread). It is proven to come from that mail when it is addressed
  to the mailbox's ``+token`` (the mail's Reply-To) or quotes the mail's action link; a thread match
  (In-Reply-To/References) alone is guessable, so it goes to staff. A proven answer whose first line
  is an explicit keyword (``ACCEPT``/``DECLINE``) is applied like the link, under the link's
  idempotency key, with channel ``mailbox``; any other reply goes to staff;
- a **new mail** whose subject starts with a kind's keyword (``KINDS``): a pending submission through
  ``intake.receive``, exactly like the web form (confirmation mail, cap per recipient, claim rules),
  its file typed by content, size-limited and quarantined; anything else goes to staff.

Every message is recorded in ``inbound_messages`` under its key (the sha256 of its Message-ID, or of
its bytes without one) in the transaction of its effect, so a message read twice is filed once.
Hostile or malformed mail is refused with a reason, never a crash and never a partial write.
"""

from __future__ import annotations

import email.errors
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import InboundMessage, OutboxMessage, UndeliverableAddress
from models.db import Database
from models.enums import Channel, EngagementKind
from states.uploads import MAX_UPLOAD_BYTES, detect, file_name, located, store
from settings import Settings
from states import action_links, intake
from states.approvals import record_decision
from states.clock import SYSTEM_CLOCK, Clock
from states.errors import EngageError
from states.reply_address import MESSAGE_ID_DOMAIN, message_id_for, reply_token
from states.workflow import apply_transition

MAX_MESSAGE_BYTES = 15 * 1024 * 1024
"""Larger messages are refused unread (IMAP RFC822.SIZE): a 10 MiB file is about 13.7 MiB in base64."""
MAX_INFLATED_BYTES = 100 * 1024 * 1024
"""A DOCX or PPTX whose members would inflate to more is refused as a zip bomb (nothing here inflates it,
but whoever opens it would)."""
PROCESSED, REFUSED = "Processed", "Refused"
FILED, BOUNCE, IGNORED, STAFF, REFUSAL = "filed", "bounce", "ignored", "staff", "refused"
OUR_DOMAIN = f"@{MESSAGE_ID_DOMAIN}>"  # as it ends one of our Message-IDs

# The first line of a reply, lower-cased, starts with one of these (then ends or goes on after a
# space or punctuation): the whole of the answer's grammar, in English, Spanish and French.
ACCEPT = ("accept", "accepted", "we accept", "i accept", "approve", "approved", "acepto", "aceptamos", "apruebo",
          "j'accepte", "nous acceptons", "j'approuve")
DECLINE = ("decline", "declined", "we decline", "i decline", "rechazo", "rechazamos", "declino",
           "je refuse", "nous refusons", "je décline", "nous déclinons")
ANSWERS = {"accept": ("accept", "approve"), "decline": ("decline_invitation", "decline")}
# The subject of a new submission: "<keyword>: <title>"; the keyword names the kind and the language.
KINDS = {
    "achievement": (EngagementKind.ACHIEVEMENT, "en"), "logro": (EngagementKind.ACHIEVEMENT, "es"),
    "réalisation": (EngagementKind.ACHIEVEMENT, "fr"),
    "recommendation": (EngagementKind.RECOMMENDATION, "en"), "recomendación": (EngagementKind.RECOMMENDATION, "es"),
    "recommandation": (EngagementKind.RECOMMENDATION, "fr"),
    "material": (EngagementKind.WEBSITE_SUBMISSION, "en"), "matériel": (EngagementKind.WEBSITE_SUBMISSION, "fr"),
}
# Lines of a submission's body that name its fields: "Organization: Snap Inc.", "Topic: ...".
FIELDS = {"organization": "organization", "organización": "organization", "organisation": "organization",
          "topic": "topic", "tema": "topic", "thème": "topic", "sujet": "topic"}
MEDIA = {"pdf": "document", "docx": "document", "pptx": "presentation"}
AUTO_SUBJECT = re.compile(r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?reply|autoreply|"
                          r"respuesta autom[aá]tica|fuera de la oficina|absence|r[ée]ponse automatique)\b", re.I)
MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,63}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# What the email package raises reading a hostile body (an unknown charset, a broken part, endless nesting).
MALFORMED = (zipfile.BadZipFile, LookupError, ValueError, TypeError, AttributeError, UnicodeError, RecursionError, email.errors.MessageError)


class Refusal(Exception):
    """A message that cannot be filed: moved to ``Refused`` with this reason."""


@dataclass(frozen=True)
class Filed:
    """What became of one message, and where it goes now."""

    key: str
    outcome: str
    reason: str
    engagement_id: int | None = None
    replayed: bool = False

    @property
    def folder(self) -> str:
        return REFUSED if self.outcome == REFUSAL else PROCESSED


@dataclass(frozen=True)
class Inbound:
    """The parts of a message the intake judges."""

    key: str
    message: EmailMessage
    sender: str
    subject: str


def message_key(raw: bytes) -> str:
    """The key a message is filed once under: the sha256 of its Message-ID, or of its bytes when it has none."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:65536])
    found = MESSAGE_ID.search(str(headers.get("Message-ID") or ""))
    seed = f"id:{found.group(0)}" if found else None
    return hashlib.sha256(seed.encode() if seed else raw).hexdigest()


def done(db: Database, key: str) -> Filed | None:
    """How the message ``key`` was filed, if it was."""
    with db.transaction() as session:
        row = session.get(InboundMessage, key)
        return None if row is None else Filed(key, row.outcome, row.reason, row.engagement_id, replayed=True)


def file_oversized(db: Database, headers: bytes, size: int, *, clock: Clock = SYSTEM_CLOCK) -> Filed:
    """Refuse, unread, a message of ``size`` bytes over ``MAX_MESSAGE_BYTES`` (keyed by its headers)."""
    key = message_key(headers)
    sender, subject = _header_summary(headers)
    reason = f"the message is {size / 1048576:.1f} MiB; at most {MAX_MESSAGE_BYTES // 1048576} MiB are read"
    return done(db, key) or _record(db, key, REFUSAL, reason, sender, subject, clock.now())


def file_message(db: Database, raw: bytes, *, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> Filed:
    """File one message (see the module), once: a message already filed returns its first outcome."""
    key = message_key(raw)
    if earlier := done(db, key):
        return earlier
    now = clock.now()
    if len(raw) > MAX_MESSAGE_BYTES:
        sender, subject = _header_summary(raw[:65536])
        return _record(db, key, REFUSAL, f"the message is over {MAX_MESSAGE_BYTES // 1048576} MiB", sender, subject, now)
    try:
        inbound = _parse(key, raw)
    except Refusal as refusal:
        sender, subject = _header_summary(raw[:65536])
        return _record(db, key, REFUSAL, str(refusal), sender, subject, now)
    try:
        return _file(db, inbound, settings, now, clock)
    except IntegrityError:  # another intake filed the same message at the same moment: its record stands
        if earlier := done(db, key):
            return earlier
        raise
    except Refusal as refusal:
        return _record(db, key, REFUSAL, str(refusal), inbound.sender, inbound.subject, now)
    except EngageError as error:  # refused by a seam (input policy, window, link, guard): nothing was written
        return _record(db, key, REFUSAL, str(error), inbound.sender, inbound.subject, now)
    except MALFORMED as error:  # a body, charset or part the email package cannot read
        return _record(db, key, REFUSAL, f"malformed message: {type(error).__name__}", inbound.sender, inbound.subject, now)


def _file(db: Database, inbound: Inbound, settings: Settings, now: datetime, clock: Clock) -> Filed:
    message, sender = inbound.message, inbound.sender
    ours = parseaddr(settings.mail_from)[1].lower()
    if sender in {ours, settings.secretariat_email.lower(), (settings.imap_address or "").lower()} or \
            str(message.get("Message-ID", "")).strip().endswith(OUR_DOMAIN):
        return _record(db, inbound.key, IGNORED, "our own mail", sender, inbound.subject, now)
    if message.get_content_type() == "multipart/report" and \
            message.get_param("report-type", "").lower() == "delivery-status":
        return _bounce(db, inbound, settings.signing_key(), now)
    if reason := _automatic(message, inbound.subject):
        return _record(db, inbound.key, IGNORED, reason, sender, inbound.subject, now)
    if any(part.get_content_type() == "message/rfc822" for part in message.walk()):
        raise Refusal("a message attached to a message is not filed: send its text itself")
    thread = _thread_ids(message)
    tokens = _plus_tokens(message, settings)
    if thread or tokens:
        return _reply(db, inbound, thread, tokens, settings, now, clock)
    return _submission(db, inbound, settings, now, clock)


def _parse(key: str, raw: bytes) -> Inbound:
    """The message and its single sender; ``Refusal`` for malformed MIME, several or odd senders."""
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        if message.defects and any("Header" not in type(d).__name__ for d in message.defects):
            raise Refusal(f"malformed message: {type(message.defects[0]).__name__}")
        senders = _raw_header(raw, "From")
        subject = _clean(str(message.get("Subject", "")))[:200]
    except Refusal:
        raise
    except Exception as error:  # hostile MIME: the email package raises many types, all mean "malformed"
        raise Refusal(f"malformed message: {type(error).__name__}") from error
    addresses = [address for _, address in getaddresses(senders)]
    if len(addresses) != 1 or not ADDRESS.fullmatch(addresses[0]) or "=?" in addresses[0]:
        raise Refusal("the message must name exactly one plain sender address in From")
    return Inbound(key, message, addresses[0].lower(), subject)


def _raw_header(raw: bytes, name: str) -> list[str]:
    """The header's values as sent (encoded words not decoded, so they cannot forge an address)."""
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:65536])
    return [str(value) for value in headers.get_all(name) or []]


def _header_summary(raw: bytes) -> tuple[str, str]:
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        return _clean(parseaddr(str(headers.get("From", "")))[1])[:254], _clean(str(headers.get("Subject", "")))[:200]
    except Exception:  # noqa: BLE001 - the summary of a refused message is best effort
        return "", ""


def _clean(text: str) -> str:
    return CONTROL.sub(" ", text).strip()


def _automatic(message: EmailMessage, subject: str) -> str | None:
    """Why the message is an auto-reply or list traffic (RFC 3834 and common practice), or None."""
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    if submitted and submitted != "no":
        return f"auto-reply (Auto-Submitted: {submitted[:40]})"
    for name in ("X-Autoreply", "X-Autorespond", "List-Id", "List-Unsubscribe"):
        if message.get(name) is not None:
            return f"auto-reply or list mail ({name})"
    if str(message.get("Precedence", "")).strip().lower() in {"bulk", "list", "junk", "auto_reply"}:
        return "bulk or list mail (Precedence)"
    if AUTO_SUBJECT.match(subject):
        return "out-of-office reply"
    return None


def _thread_ids(message: EmailMessage) -> set[str]:
    """Our Message-IDs the message answers (In-Reply-To, References)."""
    text = " ".join(str(message.get(name, "")) for name in ("In-Reply-To", "References"))
    return {found for found in MESSAGE_ID.findall(text) if found.endswith(OUR_DOMAIN)}


def _plus_tokens(message: EmailMessage, settings: Settings) -> set[str]:
    """The ``+token`` parts of the mailbox's own address among the recipients."""
    if not settings.imap_address or "@" not in settings.imap_address:
        return set()
    local, domain = settings.imap_address.lower().rsplit("@", 1)
    values = [str(message.get(name, "")) for name in ("To", "Cc", "Delivered-To", "X-Original-To")]
    tokens = set()
    for _, address in getaddresses(values):
        mailbox, _, at = address.lower().rpartition("@")
        if at == domain and mailbox.startswith(f"{local}+"):
            tokens.add(mailbox[len(local) + 1:])
    return tokens


def _rows_to(session: Session | Connection, address: str) -> Iterator[tuple[str, int | None]]:
    """The (dedupe key, engagement) of every e-mail we wrote to ``address``."""
    yield from session.execute(select(OutboxMessage.dedupe_key, OutboxMessage.engagement_id).where(
        func.lower(OutboxMessage.recipient_address) == address, OutboxMessage.channel == "email"))


def _reply(db: Database, inbound: Inbound, thread: set[str], tokens: set[str], settings: Settings, now: datetime,
           clock: Clock) -> Filed:
    key = settings.signing_key()
    proven = threaded = None
    with db.transaction() as session:
        for dedupe_key, engagement_id in _rows_to(session, inbound.sender):
            if reply_token(key, dedupe_key) in tokens:
                proven = (dedupe_key, engagement_id)
                break
            if message_id_for(key, dedupe_key) in thread:
                threaded = (dedupe_key, engagement_id)
    if proven is None and threaded is None:
        raise Refusal(f"a reply to a mail of ours that was not sent to {inbound.sender}: refused (forged From?)")
    body = _first_text(inbound.message)
    if proven is None and threaded is not None and \
            action_links.link_token(key, threaded[0]) in (_all_text(inbound.message) or ""):
        proven = threaded  # it quotes the mail's link, which only its recipient received
    if proven is None:
        return _record(db, inbound.key, STAFF, "a reply to our mail, not proven to come from it (no +token, "
                       "no quoted link): for staff to read", inbound.sender, inbound.subject, now, threaded[1])
    dedupe_key, engagement_id = proven
    answer = _answer(body)
    token = action_links.link_token(key, dedupe_key)
    try:
        link = action_links.find(db, token)
    except action_links.ForgedLinkError:
        link = None
    if link is None or link.engagement_id is None or link.purpose == "dialogue_report" or answer is None:
        why = "the mail it answers asks nothing" if link is None or link.engagement_id is None else "a report is sent through its form" \
            if link.purpose == "dialogue_report" else "its first line is no accept/decline keyword"
        return _record(db, inbound.key, STAFF, f"a reply to our mail; {why}: for staff to read", inbound.sender,
                       inbound.subject, now, engagement_id)
    action = next((step for step in ANSWERS[answer] if step in link.actions), None)
    if action is None:
        raise Refusal(f"the mail answered allows {', '.join(link.actions) or 'nothing'}, not to {answer}")
    link = action_links.verify(db, token, now, action)
    message = _decide(db, link, action, settings, clock)
    with db.engine.begin() as connection:  # the link's use and the message's record, together
        action_links.mark_used(connection, link.id, action, now)
        return _insert(connection, inbound.key, FILED, message, inbound.sender, inbound.subject, now, link.engagement_id)


def _decide(db: Database, link: action_links.VerifiedLink, action: str, settings: Settings, clock: Clock) -> str:
    """Apply the answer through the link's seam and key, so a click and a reply are one decision."""
    key = action_links.idempotency_key(link.token_hash, action)
    comment = "answered by e-mail"
    if link.purpose == "co_chair_decision":
        result = record_decision(db, link.engagement_id, link.email, action, comment, Channel.MAILBOX, clock,
                                 idempotency_key=key, settings=settings)
        if not result.applied and (result.earlier is None or result.earlier.decision != action):
            raise Refusal(result.message)
        return result.message
    outcome = apply_transition(db, link.engagement_id, action, {"role": link.role, "identity": link.email},
                               comment=comment, channel=Channel.MAILBOX, idempotency_key=key, clock=clock,
                               settings=settings)
    return f"{link.email}: {action.replace('_', ' ')} recorded by e-mail; engagement {outcome.engagement_id} is " \
           f"now {outcome.to_state.replace('_', ' ')}"


def _answer(text: str | None) -> str | None:
    """``accept`` or ``decline`` when the first non-empty line starts with an explicit keyword."""
    line = next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
    line = line.replace("\u2019", "'").casefold()
    for answer, words in (("accept", ACCEPT), ("decline", DECLINE)):
        if any(re.fullmatch(rf"{re.escape(word)}(\W.*)?", line) for word in words):
            return answer
    return None


def _first_text(message: EmailMessage) -> str | None:
    """The message's own text/plain body (never one inside an attached message)."""
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        return None
    content = body.get_content()
    return content if isinstance(content, str) else None


def _all_text(message: EmailMessage) -> str | None:
    """The text/plain and text/html bodies together, where a quoted link would be."""
    parts = [message.get_body(preferencelist=(kind,)) for kind in ("plain", "html")]
    return " ".join(part.get_content() for part in parts if part is not None and part.get_content_maintype() == "text")


def _typed_file(message: EmailMessage) -> tuple[bytes, str] | None:
    """The first attachment that is by its content a PDF, DOCX or PPTX, within the upload limit."""
    for part in message.iter_attachments():
        content = part.get_payload(decode=True)
        if not isinstance(content, bytes):
            continue
        if len(content) > MAX_UPLOAD_BYTES:
            raise Refusal(f"an attachment is over {MAX_UPLOAD_BYTES // 1048576} MiB")
        if kind := detect(content):
            if kind != "pdf" and _inflated(content) > MAX_INFLATED_BYTES:
                raise Refusal(f"the {kind.upper()} attached would inflate to over {MAX_INFLATED_BYTES // 1048576} MiB")
            return content, kind
    return None


def _inflated(content: bytes) -> int:
    """What a DOCX or PPTX (a zip) says its members hold once inflated (read from its directory, never inflated)."""
    return sum(member.file_size for member in zipfile.ZipFile(io.BytesIO(content)).infolist())


def _submission(db: Database, inbound: Inbound, settings: Settings, now: datetime, clock: Clock) -> Filed:
    keyword, _, title = inbound.subject.partition(":")
    kind, language = KINDS.get(keyword.strip().casefold(), (None, "en"))
    body = _first_text(inbound.message) if kind else None
    if kind is None or not title.strip() or body is None:
        why = "no kind keyword in its subject" if kind is None else "no title after the keyword" \
            if not title.strip() else "no plain-text body"
        return _record(db, inbound.key, STAFF, f"a new mail with {why}: for staff to read", inbound.sender,
                       inbound.subject, now)
    fields, text = _fields(body)
    if "organization" not in fields:
        return _record(db, inbound.key, STAFF, "a new submission without an 'Organization:' line: for staff to read",
                       inbound.sender, inbound.subject, now)
    typed = _typed_file(inbound.message)
    upload = file_name(*typed) if typed else None
    if kind == EngagementKind.ACHIEVEMENT:
        details = {"summary": text, "received_via": "mailbox"}
    elif kind == EngagementKind.RECOMMENDATION:
        details = {"topic": fields.get("topic", ""), "text": text}
    elif typed is None:
        raise Refusal("a material needs its PDF, PPTX or DOCX attached")
    else:
        url = f"{settings.public_base_url.rstrip('/')}/files/{upload}"
        details = {"media": MEDIA[typed[1]], "url": url, "summary": text}
    fresh = typed is not None and located(upload, settings.upload_dir) is None
    if typed is not None:
        store(typed[0], typed[1], settings.upload_dir)  # quarantined; content-addressed, so storing twice is harmless

    recorded: list[Filed] = []

    def record(session: Session, pending_id: int | None) -> None:
        reason = f"pending submission {pending_id}: a confirmation link was mailed to {inbound.sender}" if pending_id \
            else "not queued: the sender's address had its confirmation mails for today, or opted out"
        recorded.append(_insert(session.connection(), inbound.key, FILED if pending_id else REFUSAL, reason,
                                inbound.sender, inbound.subject, now))

    form = {"organization": fields["organization"], "email": inbound.sender, "title": title.strip()}
    try:
        received = intake.receive(db, kind, form, details, language=language, settings=settings, clock=clock,
                                  upload_name=upload, also=record)
    except EngageError:
        if fresh:
            (settings.upload_dir / "quarantine" / upload).unlink(missing_ok=True)
        raise
    if not received.queued and fresh:
        (settings.upload_dir / "quarantine" / upload).unlink(missing_ok=True)
    return recorded[0]


def _fields(body: str) -> tuple[dict[str, str], str]:
    """The ``Name: value`` lines of ``FIELDS`` at the top of a body, and the rest of its text."""
    fields: dict[str, str] = {}
    lines = body.strip().splitlines()
    while lines:
        name, colon, value = lines[0].partition(":")
        field = FIELDS.get(name.strip().casefold())
        if not colon or field is None:
            break
        fields[field] = value.strip()
        lines.pop(0)
    return fields, "\n".join(lines).strip()


def _bounce(db: Database, inbound: Inbound, key: bytes, now: datetime) -> Filed:
    """Mark the addresses a DSN reports as permanently failed, when it reports a mail we sent them."""
    failed, returned = _dsn(inbound.message)
    if not failed:
        return _record(db, inbound.key, IGNORED, "a delivery report with no permanent failure", inbound.sender,
                       inbound.subject, now)
    with db.engine.begin() as connection:
        for address, _status in failed:
            if not any(message_id_for(key, dedupe_key) in returned for dedupe_key, _ in _rows_to(connection, address)):
                raise Refusal(f"a delivery report about {address} for no mail of ours sent to it")
        for address, status in failed:
            if connection.scalar(select(UndeliverableAddress.email).where(UndeliverableAddress.email == address)) is None:
                connection.execute(insert(UndeliverableAddress), [{
                    "email": address, "reason": f"delivery failed ({status})", "since": now, "message_key": inbound.key}])
        names = ", ".join(address for address, _ in failed)
        return _insert(connection, inbound.key, BOUNCE, f"undeliverable: {names}", inbound.sender, inbound.subject, now)


def _dsn(message: EmailMessage) -> tuple[list[tuple[str, str]], set[str]]:
    """The (address, status) a DSN reports failed, and the Message-IDs of the returned message."""
    failed: list[tuple[str, str]] = []
    returned: set[str] = set()
    for part in message.iter_parts():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            for block in part.get_payload():
                action = str(block.get("Action", "")).strip().lower()
                status = str(block.get("Status", "")).strip()
                recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
                address = recipient.partition(";")[2].strip().strip("<>").lower()
                if action == "failed" and status.startswith("5") and ADDRESS.fullmatch(address):
                    failed.append((address, status[:16]))
        elif kind == "message/rfc822":
            returned |= set(MESSAGE_ID.findall(str(part.get_payload(0).get("Message-ID", ""))))
        elif kind == "text/rfc822-headers":
            headers = HeaderParser(policy=policy.compat32).parsestr(part.get_content())
            returned |= set(MESSAGE_ID.findall(str(headers.get("Message-ID", ""))))
    return failed, returned


def _record(db: Database, key: str, outcome: str, reason: str, sender: str, subject: str, now: datetime,
            engagement_id: int | None = None) -> Filed:
    try:
        with db.engine.begin() as connection:
            return _insert(connection, key, outcome, reason, sender, subject, now, engagement_id)
    except IntegrityError:  # another intake recorded it at the same moment: its record stands
        return done(db, key)


def _insert(connection: Connection, key: str, outcome: str, reason: str, sender: str, subject: str, now: datetime,
            engagement_id: int | None = None) -> Filed:
    filed = Filed(key, outcome, reason, engagement_id)
    connection.execute(insert(InboundMessage), [{
        "key": key, "folder": filed.folder, "outcome": outcome, "reason": reason, "sender": sender[:254],
        "subject": subject[:200], "received_at": now, "engagement_id": engagement_id,
    }])
    return filed
