"""The limit `benchmarks/portal.py` compares the portal with: a minimal hand-written Starlette app over psycopg.

It answers the benchmark's two requests with the statements the portal sends on PostgreSQL, written out by hand
for the one case the benchmark drives (a co-chair's link to an invitation under the ``any`` policy), in as many
round trips, each prepared on its connection from its first use as the portal's are, with no engine, ORM,
templates, CSRF or sessions: the framework-plus-database floor. Each request is one transaction (``BEGIN`` and
``COMMIT`` are round trips of their own).

- ``GET /a/{token}``, 2 statements: the link with its engagement's kind and state; the page's read (the
  engagement, its co-chairs' votes and its partners in one statement); a few lines of HTML.
- ``POST /a/{token}``, 7 statements (``states.workflow``'s read and write per step, and the portal's link):
  the link; the decision's read (the engagement locked in a subquery, with its SWG, meeting, the key's earlier
  outcome, the co-chair's seat and vote, the counts, the audit row's id taken from its sequence, and the decision
  mail's facts: the partners, the votes so far and the Secretariat's bounce); the decision's write (one
  data-modifying CTE chain: the guarded state change, the vote, the audit row, the outbox row and the engine
  event); the invitation's read (locked again, with its audit id and the partners' designated contacts with their
  bounces) and its write (the state change, the audit row, the outbox rows and their action links); the link's
  use; the page's read. The read's facts for other lifecycles (a website submission's, never true here) are left
  out.

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
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

URL = "postgresql://" + os.environ["ENGAGE_DATABASE_URL"].split("://", 1)[1]
KEY = os.environ["ENGAGE_SECRET_KEY"].encode()
SECRETARIAT = ("Global Coalition Secretariat", "syntheticscoalition@state.example")  # the settings' defaults
KIND_TITLE = "Invitation to present at a Sub-Working Group"
APPROVED = "The co-chairs approved; the invitation goes out with the decision"
INVITED = "The partner is invited and asked to answer"
_POOL: queue.Queue[psycopg.Connection] = queue.Queue()
for _ in range(5):
    _POOL.put(psycopg.connect(URL, prepare_threshold=0))  # prepared from their first use, as the portal's

FIND_LINK = (
    "SELECT l.id, l.token_hash, l.engagement_id, l.email, l.role, l.language, l.actions, l.purpose, l.expires_at, "
    "l.used_at, l.used_action, l.created_at, e.kind, e.state FROM action_links l "
    "LEFT JOIN engagements e ON e.id = l.engagement_id WHERE l.token_hash = %s")
STATUS = (
    "SELECT 0, e.id, e.title, e.state, e.version, e.swg_code, e.details, s.title, s.title_es, s.title_fr, "
    "s.approval_policy, s.quorum, m.title, m.starts_on, c.name, c.email, v.decision, v.channel, v.comment, c.id, "
    "NULL FROM engagements e LEFT JOIN sub_working_groups s ON s.code = e.swg_code "
    "LEFT JOIN meetings m ON m.id = e.meeting_id LEFT JOIN co_chairs c ON c.swg_code = s.code "
    "LEFT JOIN approval_votes v ON v.co_chair_id = c.id AND v.engagement_id = e.id WHERE e.id = %(id)s "
    "UNION ALL SELECT 1, " + "NULL, " * 19 + "o.name FROM organizations o JOIN participants p "
    "ON p.organization_id = o.id WHERE p.engagement_id = %(id)s AND p.role IN ('partner', 'presenter', 'invitee') "
    "ORDER BY 1, 20, 21")
MARK_USED = "UPDATE action_links SET used_at = %s, used_action = %s WHERE id = %s AND used_at IS NULL"


def _read(seat: str, seat_join: str, facts: str) -> str:
    """A step's read: the engagement locked in a subquery (its version read apart: a read that waited for the
    lock sees it differ, and is made again), then its audit id and its mails' facts unless it is a replay."""
    applies = "locked.version = locked.seen_version AND locked.earlier_id IS NULL"
    return (
        "SELECT locked.*, CASE WHEN " + applies + " THEN nextval('transition_log_id_seq') END AS log_id, "
        + facts.replace("{applies}", applies) +
        " FROM (SELECT e.id, e.kind, e.title, e.state, e.version, e.swg_code, s.title AS swg_title, s.title_es, "
        "s.title_fr, s.approval_policy, s.quorum, m.title AS meeting_title, m.starts_on, earlier.id AS earlier_id, "
        "(SELECT count(*) FROM co_chairs WHERE swg_code = e.swg_code) AS co_chairs, "
        "(SELECT count(*) FROM approval_votes WHERE engagement_id = e.id AND decision = 'approve') AS approvals, "
        "(SELECT count(*) FROM approval_votes WHERE engagement_id = e.id AND decision = 'decline') AS declines, "
        "(SELECT seen.version FROM engagements seen WHERE seen.id = %(id)s) AS seen_version" + seat +
        " FROM engagements e LEFT JOIN sub_working_groups s ON s.code = e.swg_code "
        "LEFT JOIN meetings m ON m.id = e.meeting_id LEFT JOIN (SELECT id FROM transition_log "
        "WHERE idempotency_key = %(key)s) earlier ON true" + seat_join +
        " WHERE e.id = %(id)s FOR UPDATE OF e) AS locked")


# The co-chair's approval: with their seats (one row each) and the decision mail's briefing.
READ_DECISION = _read(
    ", seat.id AS seat_id, seat.swg_code AS seat_swg_code, seat.name AS seat_name, seat.decision AS seat_decision",
    " LEFT JOIN (SELECT c.id, c.swg_code, c.name, v.decision FROM co_chairs c LEFT JOIN approval_votes v "
    "ON v.co_chair_id = c.id AND v.engagement_id = %(id)s WHERE lower(c.email) = %(email)s) seat ON true",
    "CASE WHEN {applies} AND locked.kind = 'swg_presentation' AND locked.state = 'awaiting_approval' THEN "
    "(SELECT json_agg(json_build_array(o.name) ORDER BY p.id) FROM participants p JOIN organizations o "
    "ON o.id = p.organization_id WHERE p.engagement_id = locked.id AND p.role IN ('partner', 'presenter', 'invitee')) "
    "END AS partner_names, "
    "CASE WHEN {applies} AND locked.kind = 'swg_presentation' AND locked.state = 'awaiting_approval' THEN "
    "(SELECT json_agg(json_build_array(c.name, v.decision, v.comment, v.decided_at <= %(now)s) "
    "ORDER BY v.decided_at, v.id) FROM approval_votes v JOIN co_chairs c ON c.id = v.co_chair_id "
    "WHERE v.engagement_id = locked.id) END AS votes_so_far, "
    "CASE WHEN {applies} AND locked.kind = 'swg_presentation' AND locked.state = 'awaiting_approval' THEN "
    "(SELECT reason FROM undeliverable_addresses WHERE email = %(secretariat)s) END AS secretariat_undeliverable")
# The invitation that follows: with the partners' designated contacts (the one named, else the organization's
# first; every contact for ``all_contacts``) and their bounces.
READ_INVITATION = _read("", "", (
    "CASE WHEN {applies} AND locked.kind = 'swg_presentation' AND locked.state = 'approved' THEN "
    "(SELECT json_agg(json_build_array(c.id, c.name, c.email, c.language, c.opt_outs, u.reason) ORDER BY c.id) "
    "FROM participants p JOIN contacts c ON c.organization_id = p.organization_id AND (p.all_contacts IS true "
    "OR c.id = coalesce(p.contact_id, (SELECT min(f.id) FROM contacts f "
    "WHERE f.organization_id = p.organization_id))) LEFT JOIN undeliverable_addresses u "
    "ON u.email = lower(c.email) WHERE p.engagement_id = locked.id "
    "AND p.role IN ('partner', 'presenter', 'invitee')) END AS partners_contacts"))


def _insert(name: str, table: str, columns: str) -> str:
    """A CTE inserting the JSON array ``%(name)s`` into ``table``, if the state change matched."""
    return (f"{name} AS (INSERT INTO {table} ({columns}) SELECT {columns} FROM json_populate_recordset("
            f"NULL::{table}, %({name})s::json) WHERE EXISTS (SELECT FROM changed))")


_CHANGE = ("WITH changed AS (UPDATE engagements AS e SET state = n.state, version = n.version, updated_at = n.updated_at, "
           "waiting_since = n.waiting_since, reminders_sent = n.reminders_sent, escalated = n.escalated, "
           "next_due_at = n.next_due_at FROM json_populate_record(NULL::engagements, %(change)s::json) AS n "
           "WHERE e.id = %(id)s AND e.version = %(version)s RETURNING e.id), ")
_LOG = ("id, engagement_id, trigger, from_state, to_state, version, actor, actor_role, channel, flow_run_id, comment, "
        "data, idempotency_key, at")
_OUTBOX = ("dedupe_key, engagement_id, transition_id, notification_type, channel, recipient_name, recipient_address, "
           "language, mandatory, context, status, status_reason, attempts, next_attempt_at, created_at")
_LINKS = "token_hash, engagement_id, email, role, language, actions, purpose, expires_at, used_at, used_action, created_at"
# Each step's write: the state change guarded by the version it was decided on, and its rows; how many it changed.
WRITE_DECISION = _CHANGE + ", ".join([
    _insert("votes", "approval_votes", "engagement_id, co_chair_id, decision, comment, channel, decided_at"),
    _insert("log", "transition_log", _LOG), _insert("outbox", "outbox", _OUTBOX),
    _insert("events", "engine_events", "name, engagement_id, transition_id, created_at, payload"),
]) + " SELECT count(*) FROM changed"
WRITE_INVITATION = _CHANGE + ", ".join([
    _insert("log", "transition_log", _LOG), _insert("outbox", "outbox", _OUTBOX),
    _insert("links", "action_links", _LINKS),
]) + " SELECT count(*) FROM changed"


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


def read(connection: psycopg.Connection, statement: str, params: dict[str, Any]) -> list[Any]:
    """A step's read, made again if it waited for another writer's lock."""
    with connection.cursor(row_factory=namedtuple_row) as cursor:
        rows = cursor.execute(statement, params).fetchall()
        if rows[0].seen_version != rows[0].version:
            rows = cursor.execute(statement, params).fetchall()
        return rows


def write(connection: psycopg.Connection, statement: str, engagement: Any, change: dict[str, Any],
          **rows: list[dict[str, Any]]) -> None:
    """A step's write: ``change`` guarded by the version read, and ``rows`` (JSON arrays) if it matched."""
    written = connection.execute(statement, {
        "change": json.dumps(change), "id": engagement.id, "version": engagement.version,
        **{name: json.dumps(table_rows) for name, table_rows in rows.items()}}).fetchone()[0]
    if written != 1:
        raise RuntimeError(f"engagement {engagement.id} changed meanwhile")


def page(connection: psycopg.Connection, engagement_id: int, message: str) -> HTMLResponse:
    """The engagement, its partners and its co-chairs' votes, as a few lines of HTML."""
    found = connection.execute(STATUS, {"id": engagement_id}).fetchall()
    partners = [row[20] for row in found if row[0] == 1]
    rows = "".join(f"<li>{html.escape(row[14])}: {row[16] or 'pending'}</li>" for row in found
                   if row[0] == 0 and row[14] is not None)
    return HTMLResponse(f"<h1>{html.escape(found[0][2])}</h1><p>{html.escape(message)}</p>"
                        f"<p>{html.escape(', '.join(partners))}</p><ul>{rows}</ul>")


def show(request: Request) -> HTMLResponse:
    with transaction() as connection:
        link = connection.execute(FIND_LINK, (token_hash(request.path_params["token"]),)).fetchone()
        return page(connection, link[2], f"state {link[13]}")


def signin(_request: Request) -> HTMLResponse:
    return HTMLResponse('<form><input name="csrf" value="00"></form>')


def decide(request: Request) -> HTMLResponse:
    token = request.path_params["token"]
    now = datetime.now(timezone.utc)
    at = now.isoformat()
    with transaction() as connection:
        link = connection.execute(FIND_LINK, (token_hash(token),)).fetchone()
        eid, email = link[2], link[3]
        key = f"link:{link[1][:48]}:approve"
        rows = read(connection, READ_DECISION, {"id": eid, "key": key, "email": email, "now": now,
                                                "secretariat": SECRETARIAT[1]})
        row = next(row for row in rows if row.seat_swg_code == row.swg_code)
        if row.log_id is not None and row.state == "awaiting_approval" and row.seat_decision is None:
            decide_and_invite(connection, row, email, key, now, at)
        connection.execute(MARK_USED, (now, "approve", link[0]))
        return page(connection, eid, f"{email} decided to approve engagement {eid}")


def decide_and_invite(connection: psycopg.Connection, row: Any, email: str, key: str, now: datetime,
                      at: str) -> None:
    """The approval (the ``any`` policy: the first settles it), then the invitation that follows it."""
    eid, log_id = row.id, row.log_id
    so_far = row.votes_so_far or []
    votes = [{"name": name, "decision": decision, "comment": comment} for name, decision, comment, _ in so_far]
    votes.insert(sum(1 for *_, by_now in so_far if by_now), {"name": row.seat_name, "decision": "approve",
                                                              "comment": None})
    about = {"engagement_id": eid, "engagement_title": row.title, "engagement_kind": row.kind, "kind_title": KIND_TITLE}
    briefing = {"partner": ", ".join(name for (name,) in row.partner_names or ()),
                "approval_policy": row.approval_policy, "quorum": row.quorum, "votes": votes}
    context = {**about, "state": "approved", "state_description": APPROVED, "swg_code": row.swg_code,
               "swg_title": row.swg_title, **{k: v for k, v in briefing.items() if v not in (None, "")},
               "trigger": "approve", "actor": email, "recipient_name": SECRETARIAT[0], "audience": "secretariat"}
    write(connection, WRITE_DECISION, row, {
        "state": "approved", "version": row.version + 1, "updated_at": at, "waiting_since": None, "reminders_sent": 0,
        "escalated": False, "next_due_at": None,
    }, votes=[{"engagement_id": eid, "co_chair_id": row.seat_id, "decision": "approve", "comment": None,
               "channel": "email_link", "decided_at": at}],
          log=[_log(log_id, eid, "approve", "awaiting_approval", "approved", row.version + 1, email, "co_chair", key, at)],
          outbox=[_outbox(f"t{log_id}:decision:email:{SECRETARIAT[1]}", eid, log_id, "decision", SECRETARIAT, "en",
                          False, context, row.secretariat_undeliverable, None, at)],
          events=[{"name": "engage.approval.approved", "engagement_id": eid, "transition_id": log_id,
                   "created_at": at, "payload": {"engagement_id": eid, "kind": row.kind, "trigger": "approve",
                                                 "from_state": "awaiting_approval", "to_state": "approved",
                                                 "actor": email, "channel": "email_link"}}])
    follow_key = f"follow-up:{eid}:send_invitation"
    follow = read(connection, READ_INVITATION, {"id": eid, "key": follow_key})[0]
    invite_id, expires = follow.log_id, now + timedelta(days=30)
    base = {**about, "state": "invitation_sent", "state_description": INVITED, "swg_code": row.swg_code,
            "swg_title": row.swg_title, "trigger": "send_invitation", "actor": "follow-up",
            "deadline": (now + timedelta(days=28)).date().isoformat()}
    people = {contact[0]: contact[1:] for contact in follow.partners_contacts or ()}  # one mail per contact
    outbox, links = [], []
    for name, address, language, opt_outs, bounce in people.values():
        dedupe = f"t{invite_id}:invitation:email:{address}"
        context = {**base, "recipient_name": name, "audience": "partners"}
        if bounce is None:
            links.append({"token_hash": link_hash(dedupe), "engagement_id": eid, "email": address.strip().lower(),
                          "role": "partner", "language": language, "actions": ["accept", "decline_invitation"],
                          "purpose": "invitation_answer", "expires_at": expires.isoformat(), "used_at": None,
                          "used_action": None, "created_at": at})
            context |= {"link_purpose": "invitation_answer", "link_expires": expires.date().isoformat()}
        title = getattr(follow, f"title_{language}", None)
        if title:
            context["swg_title"] = title
        opted_out = next((o for o in ("email", "invitation") if o in (opt_outs or ())), None)
        outbox.append(_outbox(dedupe, eid, invite_id, "invitation", (name, address), language, True, context,
                              bounce, opted_out, at))
    write(connection, WRITE_INVITATION, follow, {
        "state": "invitation_sent", "version": follow.version + 1, "updated_at": at, "waiting_since": at,
        "reminders_sent": 0, "escalated": False, "next_due_at": (now + timedelta(days=7)).isoformat(),
    }, log=[_log(invite_id, eid, "send_invitation", "approved", "invitation_sent", follow.version + 1, "follow-up",
                 "system", follow_key, at)], outbox=outbox, links=links)


def _log(log_id: int, eid: int, trigger: str, from_state: str, to_state: str, version: int, actor: str, role: str,
         key: str, at: str) -> dict[str, Any]:
    return {"id": log_id, "engagement_id": eid, "trigger": trigger, "from_state": from_state, "to_state": to_state,
            "version": version, "actor": actor, "actor_role": role, "channel": "email_link", "flow_run_id": None,
            "comment": None, "data": None, "idempotency_key": key, "at": at}


def _outbox(dedupe: str, eid: int, log_id: int, kind: str, person: tuple[str, str], language: str, mandatory: bool,
            context: dict[str, Any], bounce: str | None, opted_out: str | None, at: str) -> dict[str, Any]:
    """An email's outbox row: held back if its address bounced (a mandatory mail is sent despite an opt-out)."""
    reason = (f"address undeliverable: {bounce}" if bounce is not None
              else f"mandatory notice, sent despite opt-out of {opted_out}" if opted_out else None)
    return {"dedupe_key": dedupe, "engagement_id": eid, "transition_id": log_id, "notification_type": kind,
            "channel": "email", "recipient_name": person[0], "recipient_address": person[1], "language": language,
            "mandatory": mandatory, "context": context, "status": "suppressed" if bounce is not None else "pending",
            "status_reason": reason, "attempts": 0, "next_attempt_at": at, "created_at": at}


app = Starlette(routes=[Route("/a/{token}", show), Route("/a/{token}", decide, methods=["POST"]),
                        Route("/signin", signin)])
