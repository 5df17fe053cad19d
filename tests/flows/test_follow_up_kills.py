"""Follow-up runs SIGKILLed on a real Prefect server (PostgreSQL) with a process worker: one invitation each, every time.

Three kinds of kill, ``ENGAGE_FOLLOW_UP_KILLS`` times each (10 by default), on one stack:

- **at its start**: the follow-up's process is killed as soon as it exists (all rounds at once);
- **after the invitation is queued**: killed once the decision's invitation row has been claimed or sent;
- **mid-delivery**: the SMTP sink holds the connection at RCPT; the run is killed while it holds the row.

A decision queues its invitation in its own transaction; what a killed run held is delivered by a later
follow-up or by the relay (once its lease expires). At the end every engagement is invited, has exactly one
invitation row, sent, and the sink holds exactly one mail with that row's Message-ID.
"""

from __future__ import annotations

import asyncio
import mailbox
import os
import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from models import Engagement
from models.outbox import OutboxMessage
from notifications.mail_sink import MaildirHandler, running_smtp_server
from states.reply_address import message_id_for
from states.approvals import record_decision
from states.clock import SimulatedClock
from states.follow_ups import unfinished
from tests.prefect_stack import prefect_stack, wait_until
from tests.world import awaiting_approval, seeded

KILLS = int(os.environ.get("ENGAGE_FOLLOW_UP_KILLS", "10"))
LEASE = 15.0  # seconds a killed run's claimed rows stay its own (ENGAGE_OUTBOX_LEASE_SECONDS)
CO_CHAIR = "swg11.incb@cochairs.example"  # SWG 1.1: any one co-chair decides
QUIET = ("engine-relay", "dispatch-notifications", "reminder-sweep", "publish-website", "mail-intake")


class GatedSink(MaildirHandler):
    """A Maildir sink that, while closed, holds every connection at RCPT (before any content is written)."""

    def __init__(self, maildir: Path) -> None:
        super().__init__(maildir)
        self.open = threading.Event()
        self.open.set()
        self.held = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if not self.open.is_set():
            self.held += 1
            while not self.open.is_set():
                await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"


def _run_processes(marker: bytes) -> dict[str, int]:
    """``flow run id -> pid`` of the stack's flow-run processes alive now."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ:
            for item in environ.split(b"\0"):
                if item.startswith(b"PREFECT__FLOW_RUN_ID="):
                    found[item.split(b"=", 1)[1].decode()] = int(entry.name)
    return found


def _kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False


def _invitation_rows(db, engagements: list[int]) -> dict[int, list[Any]]:
    with db.engine.connect() as connection:
        rows = connection.execute(select(OutboxMessage.engagement_id, OutboxMessage.status, OutboxMessage.attempts,
                                         OutboxMessage.dedupe_key)
                                  .where(OutboxMessage.engagement_id.in_(engagements),
                                         OutboxMessage.notification_type == "invitation")).all()
    found: dict[int, list[Any]] = {engagement: [] for engagement in engagements}
    for row in rows:
        found[row.engagement_id].append(row)
    return found


def _status(db, engagement: int) -> str | None:
    rows = _invitation_rows(db, [engagement])[engagement]
    return rows[0].status if rows else None


@pytest.mark.postgres
@pytest.mark.prefect
@pytest.mark.timeout(1800)
def test_killed_follow_ups_send_one_invitation_each_time(postgres_db, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.events import relay_engine_events
    from flows.runtime import Runtime, use_runtime
    from settings import Settings

    clock = SimulatedClock(datetime.now(timezone.utc))
    seeded(postgres_db)
    at_start, after_queued, mid_delivery = ([awaiting_approval(postgres_db, clock, swg="1.1") for _ in range(KILLS)]
                                            for _ in range(3))
    everyone = at_start + after_queued + mid_delivery
    sink = GatedSink(tmp_path / "Maildir")
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_db.url)
    with running_smtp_server(sink) as smtp_port, prefect_stack(postgres_db.url, tmp_path, {
        "ENGAGE_DATABASE_URL": postgres_db.url, "ENGAGE_DATA_DIR": str(tmp_path / "data"),
        "ENGAGE_SECRET_KEY": settings.signing_key().decode(),
        "ENGAGE_SMTP_HOST": "127.0.0.1", "ENGAGE_SMTP_PORT": str(smtp_port),
        "ENGAGE_SMTP_TIMEOUT_SECONDS": str(LEASE / 3), "ENGAGE_OUTBOX_LEASE_SECONDS": str(LEASE),
    }) as stack, temporary_settings({PREFECT_API_URL: stack.env["PREFECT_API_URL"]}), \
            get_client(sync_client=True) as client, use_runtime(Runtime(settings, postgres_db, clock)):
        # Only what the test starts runs: no scheduled relay or dispatch, no alert runs for the crashes.
        for deployment in client.read_deployments():
            for schedule in deployment.schedules if deployment.name in QUIET else ():
                client.update_deployment_schedule(deployment.id, schedule.id, active=False)
        for automation in client.read_automations():
            if automation.name == "alert-on-failed-run":
                client.pause_automation(automation.id)
        stack.start_worker()
        killed: set[str] = set()

        def decide(engagements: list[int]) -> None:
            """The decisions (the CLI door), then their events relayed as the approval run relays them."""
            for engagement in engagements:
                result = record_decision(postgres_db, engagement, CO_CHAIR, "approve", clock=clock)
                assert result.outcome.final_state == "invitation_sent", result
            relay_engine_events.fn()

        engagement_of: dict[str, int | None] = {}

        def engagement_of_run(run: str) -> int | None:
            """The engagement of a follow-up run; None for a run of another flow (an alert run started by a crash
            before the server's automations took the pause in, a run scheduled before the schedules were paused)."""
            if run not in engagement_of:
                engagement_of[run] = client.read_flow_run(run).parameters.get("engagement_id")
            return engagement_of[run]

        def kill_new_runs(count: int, ready: Any = lambda run: True, timeout: float = 240) -> None:  # noqa: ANN401
            """Kill ``count`` follow-up run processes not killed before, each once ``ready(run id)`` holds."""
            target = len(killed) + count
            deadline = time.monotonic() + timeout
            while len(killed) < target:
                assert time.monotonic() < deadline, f"only {len(killed)} of {target} runs killed"
                for run, pid in _run_processes(stack.marker).items():
                    if run not in killed and engagement_of_run(run) is not None and ready(run) and _kill(pid):
                        killed.add(run)
                time.sleep(0.02)

        # 1. Killed at their start, all at once.
        decide(at_start)
        kill_new_runs(KILLS)
        # 2. Killed once their invitation has left "pending" (claimed or already sent), one at a time.
        for engagement in after_queued:
            decide([engagement])
            kill_new_runs(1, lambda run, engagement=engagement: engagement_of_run(run) == engagement
                          and _status(postgres_db, engagement) != "pending")
        # 3. Killed mid-delivery: the sink holds the connection at RCPT, the row is leased, nothing charged.
        sink.open.clear()
        for engagement in mid_delivery:
            held = sink.held
            decide([engagement])
            kill_new_runs(1, lambda run, engagement=engagement, held=held: engagement_of_run(run) == engagement
                          and sink.held > held and _status(postgres_db, engagement) == "sending")
        last_kill = datetime.now(timezone.utc)
        sink.open.set()

        assert len(killed) == 3 * KILLS
        for run in killed:
            assert client.read_flow_run(run).deployment_id == client.read_deployment_by_name(
                "approval-follow-up/approval-follow-up").id
        wait_until("the killed runs to be marked crashed",
                   lambda: all(client.read_flow_run(run).state.is_crashed() for run in killed), timeout=120)
        # Nothing approved is left not invited: the decisions queued the invitations themselves.
        assert unfinished(postgres_db) == []
        with postgres_db.engine.connect() as connection:
            states = set(connection.scalars(select(Engagement.state).where(Engagement.id.in_(everyone))))
        assert states == {"invitation_sent"}

        # The relay delivers what was left: queued rows at once, held rows once their lease expires.
        time.sleep(max(0.0, (last_kill + timedelta(seconds=LEASE + 1) - datetime.now(timezone.utc)).total_seconds()))
        run_deployment("engine-relay/engine-relay", timeout=0)
        wait_until("every invitation sent", lambda: all(
            rows and rows[0].status == "sent" for rows in _invitation_rows(postgres_db, everyone).values()),
            timeout=300)

    invitations = _invitation_rows(postgres_db, everyone)
    assert all(len(rows) == 1 for rows in invitations.values()), invitations
    delivered = [message["Message-ID"] for message in mailbox.Maildir(tmp_path / "Maildir", create=False)]
    copies = {engagement: delivered.count(message_id_for(settings.signing_key(), rows[0].dedupe_key))
              for engagement, rows in invitations.items()}
    assert copies == {engagement: 1 for engagement in everyone}, copies
    attempts = {engagement: rows[0].attempts for engagement, rows in invitations.items()}
    print(f"{len(killed)} follow-up runs killed; attempts charged per invitation: "
          f"{ {n: list(attempts.values()).count(n) for n in sorted(set(attempts.values()))} }")
