"""``engage up`` runs the whole system over a scratch data folder: a decision through the CLI door reaches the
mail sink, and closes the suspended approval run, within seconds; SIGINT stops every process it started."""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from models.db import Database
from states.approvals import record_decision
from tests.prefect_stack import answers, free_port, processes_with, wait_until
from tests.world import awaiting_approval, clock_at, seeded

ROOT = Path(__file__).resolve().parents[2]
ENGAGE = str(Path(sys.executable).with_name("engage"))

JOBS = {"relay", "sweep", "dispatch", "publish", "report", "alert", "approval", "follow", "mailbox"}
pytestmark = [pytest.mark.prefect, pytest.mark.timeout(600)]


def _invitations(maildir: Path) -> list[str]:
    """Mail to the partner (only the invitation goes to them here)."""
    if not (maildir / "new").is_dir():
        return []
    return [m["To"] for m in mailbox.Maildir(maildir, create=False) if "@atlantique-maritime.example" in (m["To"] or "")]


def test_engage_up_serves_everything_invites_within_seconds_and_stops_on_sigint(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from notifications.mail_sink import running_mail_sink

    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    db = Database(f"sqlite:///{data / 'engage.db'}")
    db.migrate()
    clock = clock_at(2024, 3, 1)
    engagement = awaiting_approval(seeded(db), clock, swg="1.1")  # SWG 1.1: any one co-chair decides
    portal, api = free_port(), free_port()
    marker = uuid.uuid4().hex
    maildir = tmp_path / "Maildir"
    with running_mail_sink(maildir) as smtp_port:
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ENGAGE_"))},
            "ENGAGE_SMTP_HOST": "127.0.0.1", "ENGAGE_SMTP_PORT": str(smtp_port), "ENGAGE_UP_TEST": marker,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        up = subprocess.Popen([ENGAGE, "up", "--data-dir", str(data), "--port", str(portal), "--prefect-port", str(api),
                               "--watch-seconds", "1"], cwd=tmp_path, env=environment, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            wait_until("the Prefect API", lambda: answers(f"http://127.0.0.1:{api}/api/health"), timeout=240)
            wait_until("the portal", lambda: answers(f"http://127.0.0.1:{portal}/"), timeout=120)
            with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{api}/api"}), \
                    get_client(sync_client=True) as client:
                deployments = wait_until("the deployments", lambda: len(found := client.read_deployments()) == 9
                                         and found, timeout=120)
                schedules = {d.name: sorted(str(s.schedule) for s in d.schedules) for d in deployments}
                automations = {a.name for a in client.read_automations()}
            assert set(schedules) == {"co-chair-approval", "approval-follow-up", "engine-relay", "reminder-sweep",
                                      "publish-website", "final-report", "dispatch-notifications", "secretariat-alert",
                                      "mail-intake"}
            assert "interval=datetime.timedelta(seconds=120)" in schedules["engine-relay"][0]
            assert "0 8-18 * * 1-5" in schedules["reminder-sweep"][0] and "*/10 * * * *" in schedules[
                "dispatch-notifications"][0] and "30 6 * * *" in schedules["publish-website"][0]
            assert schedules["co-chair-approval"] == []
            assert {"follow-up-on-decision", "alert-on-failed-run"} <= automations

            with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{api}/api"}), \
                    get_client(sync_client=True) as client:
                # The served approval deployment asks the co-chairs and suspends on its form.
                run = run_deployment("co-chair-approval/co-chair-approval", parameters={"engagement_id": engagement},
                                     timeout=0)
                wait_until("the approval run to suspend", lambda: client.read_flow_run(run.id).state.is_paused(),
                           timeout=240)
                # A co-chair decides through a door that is no flow (the CLI, the portal): the invitation is
                # queued in the deciding transaction, the watch delivers it and closes the run within seconds.
                decided = time.monotonic()
                record_decision(db, engagement, "swg11.incb@cochairs.example", "approve", channel="cli", clock=clock)
                wait_until("the invitation in the mail sink", lambda: _invitations(maildir), timeout=30, every=0.2)
                latency = time.monotonic() - decided
                closed = wait_until("the approval run closed", lambda: (s := client.read_flow_run(run.id).state)
                                    .is_final() and s, timeout=30, every=0.2)
                closing = time.monotonic() - decided
                print(f"decision to invitation: {latency:.1f} s, to the approval run closed: {closing:.1f} s")
                assert latency <= 10 and closing <= 10 and closed.name == "Approved"

                def honest() -> list[str] | None:  # every run, scheduled or started by a trigger, named by a round
                    names = [run.name for run in client.read_flow_runs(limit=50)]
                    return names if all(name.split("-")[0] in JOBS for name in names) else None

                assert f"approval-{engagement}-atlantique-maritime-swg-1-1" in wait_until("honest names", honest, 30)
        finally:
            up.send_signal(signal.SIGINT)
            try:
                output, _ = up.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
                raise
    assert up.returncode == 0, output[-3000:]
    assert "stopped" in output
    time.sleep(1)
    assert processes_with(f"ENGAGE_UP_TEST={marker}".encode()) == [], "engage up left processes behind"
    with db.engine.begin() as connection:
        sent = connection.exec_driver_sql("SELECT count(*) FROM outbox WHERE notification_type = 'invitation'").scalar()
    assert sent == 1 and len(_invitations(maildir)) == 1
