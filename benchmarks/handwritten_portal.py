"""The limit `benchmarks/portal.py` compares the portal with: a minimal hand-written Starlette app over psycopg.

It answers the benchmark's two requests with the SQL the portal sends, written out by hand for the one case
the benchmark drives (a co-chair's link to an invitation under the ``any`` policy), with no engine, ORM,
templates, CSRF or sessions: the framework-plus-database floor.

- ``GET /a/{token}``: the link with its engagement, then the engagement, its co-chairs' votes and its partners
  in one statement, in one transaction; a few lines of HTML.
- ``POST /a/{token}``: in one transaction, the link; the row lock; the engagement with the key's earlier
  outcome, the co-chair's seat and the counts; the vote, state change and audit row in one statement; the
  decision mail's partners, votes and the Secretariat's bounce in one statement; the outbox row and engine
  event; the invitation step (read, state change and audit row, the partner's contacts with their bounces,
  outbox rows and action links); the link's use; the page's read.

    ENGAGE_DATABASE_URL=postgresql+psycopg://... ENGAGE_SECRET_KEY=... \\
        .venv/bin/python -m uvicorn benchmarks.handwritten_portal:app --port 8001
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import os
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg.types.json import Json
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

URL = "postgresql://" + os.environ["ENGAGE_DATABASE_URL"].split("://", 1)[1]
KEY = os.environ["ENGAGE_SECRET_KEY"].encode()
SECRETARIAT = ("Secretariat", "secretariat@state.example")
PARTNER_ROLES = ["partner", "presenter", "invitee"]
_POOL: queue.Queue[psycopg.Connection] = queue.Queue()
for _ in range(5):
    _POOL.put(psycopg.connect(URL))

FIND_LINK = (
    "SELECT l.id, l.token_hash, l.engagement_id, l.email, l.role, l.language, l.actions, l.purpose, l.expires_at, "
    "l.used_at, l.used_action, e.kind, e.state FROM action_links l LEFT JOIN engagements e ON e.id = l.engagement_id "
    "WHERE l.token_hash = %s")
STATUS = (
    "SELECT 0, e.id, e.title, e.state, e.version, e.swg_code, e.details, s.title, s.title_es, s.title_fr, "
    "s.approval_policy, s.quorum, m.title, m.starts_on, c.name, c.email, v.decision, v.channel, v.comment, c.id, "
    "NULL FROM engagements e LEFT JOIN sub_working_groups s ON s.code = e.swg_code "
    "LEFT JOIN meetings m ON m.id = e.meeting_id LEFT JOIN co_chairs c ON c.swg_code = s.code "
    "LEFT JOIN approval_votes v ON v.co_chair_id = c.id AND v.engagement_id = e.id WHERE e.id = %(id)s "
    "UNION ALL SELECT 1, " + "NULL, " * 19 + "o.name FROM organizations o JOIN participants p "
    "ON p.organization_id = o.id WHERE p.engagement_id = %(id)s AND p.role = ANY(%(roles)s) ORDER BY 1, 20, 21")
LOCK = "SELECT id FROM engagements WHERE id = %s FOR UPDATE"
READ = (
    "SELECT e.id, e.kind, e.title, e.state, e.version, e.swg_code, e.details, s.title, s.approval_policy, s.quorum, "
    "earlier.id, c.id, c.name, v.decision, "
    "(SELECT count(*) FROM co_chairs WHERE swg_code = e.swg_code), "
    "(SELECT count(*) FROM approval_votes WHERE engagement_id = e.id AND decision = 'approve'), "
    "(SELECT count(*) FROM approval_votes WHERE engagement_id = e.id AND decision = 'decline') "
    "FROM engagements e LEFT JOIN sub_working_groups s ON s.code = e.swg_code "
    "LEFT JOIN transition_log earlier ON earlier.idempotency_key = %(key)s "
    "LEFT JOIN co_chairs c ON lower(c.email) = %(email)s "
    "LEFT JOIN approval_votes v ON v.co_chair_id = c.id AND v.engagement_id = e.id WHERE e.id = %(id)s")
_LOG = ("INSERT INTO transition_log (engagement_id, trigger, from_state, to_state, version, actor, actor_role, "
        "channel, comment, idempotency_key, at) SELECT id, %(trigger)s, %(from)s, %(to)s, %(version)s, %(actor)s, "
        "%(role)s, 'email_link', NULL, %(key)s, %(now)s FROM updated RETURNING id")
_UPDATE = ("updated AS (UPDATE engagements SET state = %(to)s, version = %(version)s, updated_at = %(now)s, "
           "waiting_since = %(waiting)s, reminders_sent = 0, escalated = false, next_due_at = %(due)s "
           "WHERE id = %(id)s AND version = %(version)s - 1 RETURNING id) ")
VOTE_UPDATE_LOG = ("WITH vote AS (INSERT INTO approval_votes (engagement_id, co_chair_id, decision, channel, decided_at) "
                   "VALUES (%(id)s, %(chair)s, 'approve', 'email_link', %(now)s)), " + _UPDATE + _LOG)
UPDATE_LOG = "WITH " + _UPDATE + _LOG
BRIEFING = (
    "SELECT 0, o.name, NULL, NULL, p.id, NULL::timestamptz, NULL::integer FROM organizations o JOIN participants p "
    "ON p.organization_id = o.id WHERE p.engagement_id = %(id)s AND p.role = ANY(%(roles)s) "
    "UNION ALL SELECT 1, c.name, v.decision, v.comment, NULL, v.decided_at, v.id FROM approval_votes v "
    "JOIN co_chairs c ON c.id = v.co_chair_id WHERE v.engagement_id = %(id)s "
    "UNION ALL SELECT 2, email, NULL, reason, NULL, NULL, NULL FROM undeliverable_addresses "
    "WHERE email = %(secretariat)s ORDER BY 1, 5, 6, 7")
CONTACTS = ("SELECT DISTINCT c.id, c.name, c.email, c.language, u.reason FROM participants p JOIN contacts c "
            "ON c.id = p.contact_id OR (p.all_contacts AND c.organization_id = p.organization_id) "
            "LEFT JOIN undeliverable_addresses u ON u.email = lower(c.email) "
            "WHERE p.engagement_id = %s AND p.role = ANY(%s) ORDER BY c.id")
_OUTBOX_COLUMNS = ("dedupe_key, engagement_id, transition_id, notification_type, channel, recipient_name, "
                   "recipient_address, language, mandatory, context, status, attempts, next_attempt_at, created_at")
_OUTBOX = (f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) SELECT {_OUTBOX_COLUMNS} "
           "FROM json_populate_recordset(NULL::outbox, %s::json)")
OUTBOX_AND_EVENT = (
    f"WITH w0 AS ({_OUTBOX}), w1 AS (INSERT INTO engine_events (name, engagement_id, transition_id, payload, "
    "created_at) VALUES (%s, %s, %s, %s, %s)) SELECT 1")
OUTBOX_AND_LINKS = (
    f"WITH w0 AS ({_OUTBOX}), w1 AS (INSERT INTO action_links (token_hash, engagement_id, email, role, language, "
    "actions, purpose, expires_at, created_at) SELECT token_hash, engagement_id, email, role, language, actions, "
    "purpose, expires_at, created_at FROM json_populate_recordset(NULL::action_links, %s::json)) SELECT 1")
MARK_USED = "UPDATE action_links SET used_at = %s, used_action = %s WHERE id = %s AND used_at IS NULL"


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    connection = _POOL.get()
    try:
        with connection.transaction():
            yield connection
    finally:
        _POOL.put(connection)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_hash(dedupe_key: str) -> str:
    digest = hmac.new(KEY, dedupe_key.encode(), hashlib.sha256).digest()
    return token_hash(base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def page(connection: psycopg.Connection, engagement_id: int, message: str) -> HTMLResponse:
    """The engagement, its partners and its co-chairs' votes, as a few lines of HTML."""
    found = connection.execute(STATUS, {"id": engagement_id, "roles": PARTNER_ROLES}).fetchall()
    partners = [row[20] for row in found if row[0] == 1]
    rows = "".join(f"<li>{html.escape(row[14])}: {row[16] or 'pending'}</li>" for row in found
                   if row[0] == 0 and row[14] is not None)
    return HTMLResponse(f"<h1>{html.escape(found[0][2])}</h1><p>{html.escape(message)}</p>"
                        f"<p>{html.escape(', '.join(partners))}</p><ul>{rows}</ul>")


def show(request: Request) -> HTMLResponse:
    with transaction() as connection:
        link = connection.execute(FIND_LINK, (token_hash(request.path_params["token"]),)).fetchone()
        return page(connection, link[2], f"state {link[12]}")


def signin(_request: Request) -> HTMLResponse:
    return HTMLResponse('<form><input name="csrf" value="00"></form>')


def decide(request: Request) -> HTMLResponse:
    token = request.path_params["token"]
    now = datetime.now(timezone.utc)
    with transaction() as connection:
        link = connection.execute(FIND_LINK, (token_hash(token),)).fetchone()
        eid, email = link[2], link[3]
        key = f"link:{link[1][:48]}:approve"
        connection.execute(LOCK, (eid,))
        row = connection.execute(READ, {"id": eid, "key": key, "email": email}).fetchone()
        if row[10] is None and row[3] == "awaiting_approval":
            log_id = connection.execute(VOTE_UPDATE_LOG, {
                "id": eid, "chair": row[11], "now": now, "to": "approved", "version": row[4] + 1, "waiting": None,
                "due": None, "trigger": "approve", "from": row[3], "actor": email, "role": "co_chair", "key": key,
            }).fetchone()[0]
            briefing = connection.execute(BRIEFING, {"id": eid, "roles": PARTNER_ROLES,
                                                     "secretariat": SECRETARIAT[1]}).fetchall()
            partners = ", ".join(row[1] for row in briefing if row[0] == 0)
            votes = [{"name": row[1], "decision": row[2], "comment": row[3]} for row in briefing if row[0] == 1]
            context = {"engagement_id": eid, "engagement_title": row[2], "state": "approved", "swg_code": row[5],
                       "swg_title": row[7], "partner": partners, "approval_policy": row[8], "votes": votes,
                       "trigger": "approve", "actor": email, "recipient_name": SECRETARIAT[0], "audience": "secretariat"}
            outbox = [_outbox(f"t{log_id}:decision:email:{SECRETARIAT[1]}", eid, log_id, "decision", SECRETARIAT,
                              "en", False, context, now)]
            payload = {"engagement_id": eid, "kind": row[1], "trigger": "approve", "from_state": row[3],
                       "to_state": "approved", "actor": email, "channel": "email_link"}
            connection.execute(OUTBOX_AND_EVENT, (json.dumps(outbox), "engage.approval.approved", eid, log_id,
                                                  Json(payload), now))
            follow = connection.execute(READ, {"id": eid, "key": f"follow-up:{eid}:send_invitation", "email": None}
                                        ).fetchone()
            invite_id = connection.execute(UPDATE_LOG, {
                "id": eid, "now": now, "to": "invitation_sent", "version": follow[4] + 1, "waiting": now,
                "due": now + timedelta(days=7), "trigger": "send_invitation", "from": "approved", "actor": "follow-up",
                "role": "system", "key": f"follow-up:{eid}:send_invitation",
            }).fetchone()[0]
            contacts = connection.execute(CONTACTS, (eid, PARTNER_ROLES)).fetchall()
            outbox, links = [], []
            for _, name, address, language, _ in contacts:
                dedupe = f"t{invite_id}:invitation:email:{address}"
                outbox.append(_outbox(dedupe, eid, invite_id, "invitation", (name, address), language, True, {
                    "engagement_id": eid, "engagement_title": row[2], "state": "invitation_sent",
                    "recipient_name": name, "audience": "partners", "link_purpose": "invitation_answer"}, now))
                links.append({"token_hash": link_hash(dedupe), "engagement_id": eid, "email": address.lower(),
                              "role": "partner", "language": language, "actions": ["accept", "decline_invitation"],
                              "purpose": "invitation_answer", "expires_at": (now + timedelta(days=30)).isoformat(),
                              "created_at": now.isoformat()})
            connection.execute(OUTBOX_AND_LINKS, (json.dumps(outbox), json.dumps(links)))
        connection.execute(MARK_USED, (now, "approve", link[0]))
        return page(connection, eid, f"{email} decided to approve engagement {eid}")


def _outbox(dedupe: str, eid: int, log_id: int, kind: str, person: tuple[str, str], language: str, mandatory: bool,
            context: dict, now: datetime) -> dict:
    return {"dedupe_key": dedupe, "engagement_id": eid, "transition_id": log_id, "notification_type": kind,
            "channel": "email", "recipient_name": person[0], "recipient_address": person[1], "language": language,
            "mandatory": mandatory, "context": context, "status": "pending", "attempts": 0,
            "next_attempt_at": now.isoformat(), "created_at": now.isoformat()}


app = Starlette(routes=[Route("/a/{token}", show), Route("/a/{token}", decide, methods=["POST"]),
                        Route("/signin", signin)])
