"""Benchmark: from a co-chair's decision to the invitation at the mail server, per door, under ``engage up``.

Starts ``engage up`` (a Prefect server, every deployment of prefect.yaml served with its triggers, the
portal and the watch) over a scratch data folder, with a local SMTP sink that stamps each message's
arrival. N engagements per door wait for SWG 1.1's co-chairs (any one decides); one at a time, a co-chair
approves each through one door and the benchmark waits for the partner's invitation at the sink:

- link: the signed link of the co-chair's request mail (``POST /a/<token>``);
- CLI: ``engage approve ID --as EMAIL`` (a new process, as typed);
- portal form: signed in on the portal, ``POST /pending/<id>`` (the pending-decisions page);
- Prefect form: the suspended approval run resumed with input (``resume_flow_run``), as the UI does.

For each door it prints p50/p95/max of two intervals: from the submission (the request sent, the command
started) to the invitation's arrival, and from the decision's commit (its audit row) to the arrival.
Not a test; the machine's load average is printed at the start and the end.

    .venv/bin/python benchmarks/approvals.py                   # 20 approvals per door
    .venv/bin/python benchmarks/approvals.py --approvals 20 --prefect-form 5 --watch-seconds 1
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import select  # noqa: E402

from models import OutboxMessage, TransitionLog  # noqa: E402
from models.db import Database  # noqa: E402
from notifications.action_urls import action_url  # noqa: E402
from notifications.mail_sink import MaildirHandler, running_smtp_server  # noqa: E402
from settings import Settings  # noqa: E402
from states.directory import load_sample  # noqa: E402
from states.workflow import apply_transition, create_engagement  # noqa: E402
from tests.prefect_stack import free_port, processes_with, wait_until  # noqa: E402

CHAIR = "swg11.incb@cochairs.example"
PARTNER = "policy@meta.example"
STAFF = {"role": "secretariat", "identity": "bench@state.example"}
ENGAGE = str(Path(sys.executable).with_name("engage"))
DOORS = ("link", "CLI", "portal form", "Prefect form")


class StampingSink(MaildirHandler):
    """The Maildir sink, also noting when each message arrived, by recipient and subject."""

    def __init__(self, maildir: Path) -> None:
        super().__init__(maildir)
        self.arrivals: list[tuple[float, list[str], str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        answer = await super().handle_DATA(server, session, envelope)
        subject = re.search(rb"^Subject: (.*)$", envelope.original_content or b"", re.MULTILINE)
        with self.lock:
            self.arrivals.append((time.time(), list(envelope.rcpt_tos), subject.group(1).decode() if subject else ""))
        return answer

    def invitations(self) -> list[float]:
        with self.lock:
            return [at for at, to, subject in self.arrivals if PARTNER in to and subject.startswith("Invitation")]

    def last_to(self, address: str) -> float | None:
        with self.lock:
            found = [at for at, to, _ in self.arrivals if address in to]
        return found[-1] if found else None


def seed(db: Database, settings: Settings, count: int) -> list[int]:
    db.migrate()
    load_sample(db)
    ids = []
    for n in range(count):
        engagement = create_engagement(db, {
            "kind": "swg_presentation", "title": f"Benchmark presentation {n}", "swg_code": "1.1",
            "details": {"topic": "Benchmark"}, "participants": [{"organization": "Meta", "role": "presenter"}],
        }, STAFF)
        apply_transition(db, engagement, "request_approval", STAFF, settings=settings)
        ids.append(engagement)
    return ids


def decided_at(db: Database, engagement: int) -> float:
    """When the decision committed: its audit row's time."""
    with db.transaction() as session:
        at = session.scalar(select(TransitionLog.at).where(
            TransitionLog.engagement_id == engagement, TransitionLog.trigger == "approve"))
    return at.replace(tzinfo=at.tzinfo or timezone.utc).timestamp()


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approvals", type=int, default=20, help="decisions per door")
    parser.add_argument("--prefect-form", type=int, help="decisions through the Prefect form (default: --approvals); "
                        "each resumed run is a new flow process")
    parser.add_argument("--watch-seconds", type=float, default=3.0, help="engage up's watch period")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="engage-bench-"))
    data = home / "data"
    data.mkdir()
    secret = uuid.uuid4().hex * 2
    portal, api = free_port(), free_port()
    settings = Settings(data_dir=data, secret_key=secret, public_base_url=f"http://127.0.0.1:{portal}")
    db = Database(settings.resolved_database_url)
    counts = {door: args.approvals for door in DOORS} | {"Prefect form": args.prefect_form or args.approvals}
    ids = iter(seed(db, settings, sum(counts.values())))
    by_door = {door: [next(ids) for _ in range(count)] for door, count in counts.items()}
    sink = StampingSink(home / "Maildir")
    marker = uuid.uuid4().hex
    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with running_smtp_server(sink) as smtp_port:
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ENGAGE_"))},
            "ENGAGE_SMTP_HOST": "127.0.0.1", "ENGAGE_SMTP_PORT": str(smtp_port), "ENGAGE_SECRET_KEY": secret,
            "ENGAGE_PUBLIC_BASE_URL": settings.public_base_url, "ENGAGE_PREFECT_FORM_TRUSTED": CHAIR,
            "ENGAGE_UP_BENCH": marker, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        up = subprocess.Popen([ENGAGE, "up", "--data-dir", str(data), "--port", str(portal), "--prefect-port", str(api),
                               "--watch-seconds", str(args.watch_seconds)], cwd=home, env=environment,
                              stdout=open(home / "up.log", "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
                              start_new_session=True)
        try:
            wait_until("engage up's portal", lambda: _answers(f"http://127.0.0.1:{portal}/"), timeout=300)
            wait_until("engage up's Prefect API", lambda: _answers(f"http://127.0.0.1:{api}/api/health"), timeout=300)
            os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{api}/api"
            results = run_doors(db, settings, sink, by_door, environment, f"http://127.0.0.1:{portal}")
        finally:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
            for pid in processes_with(f"ENGAGE_UP_BENCH={marker}".encode()):
                os.kill(pid, signal.SIGKILL)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}; watch every {args.watch_seconds:g} s; "
          f"approvals one at a time: {counts}")
    print("| door | submission -> invitation at the sink | decision committed -> invitation at the sink |")
    print("|---|---|---|")
    for door, (from_submission, from_commit) in results.items():
        print(f"| {door} | {percentiles(from_submission)} | {percentiles(from_commit)} |")
    db.dispose()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, (page.status_code, page.text[-2000:])
    return found.group(1)


def run_doors(db: Database, settings: Settings, sink: StampingSink, by_door: dict[str, list[int]],
              environment: dict[str, str], base: str) -> dict[str, tuple[list[float], list[float]]]:
    """Decide every engagement through its door, one at a time; per door, the two latencies of each."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run

    http, signed_in = httpx.Client(base_url=base, timeout=60), httpx.Client(base_url=base, timeout=60)
    csrf = _csrf(http.get("/signin"))
    with db.transaction() as session:
        requests = {row.engagement_id: row for row in session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_address == CHAIR)) if row.context.get("link_purpose") == "co_chair_decision"}
        session.expunge_all()

    def by_link(engagement: int) -> None:
        row = requests[engagement]
        path = "/" + action_url(row.context, row.dedupe_key, settings).split("/", 3)[3]
        answer = http.post(path, data={"csrf": csrf, "action": "approve"})
        assert answer.status_code == 200, (answer.status_code, answer.text[-2000:])

    def by_cli(engagement: int) -> None:
        done = subprocess.run([ENGAGE, "approve", str(engagement), "--as", CHAIR], cwd=ROOT,
                              env={**environment, "ENGAGE_DATA_DIR": str(settings.data_dir)},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    # The portal form: sign in once, with the link the portal mails.
    asked, form = time.time(), _csrf(signed_in.get("/signin"))
    signed_in.post("/signin", data={"csrf": form, "email": CHAIR})
    wait_until("the sign-in mail", lambda: (sink.last_to(CHAIR) or 0) > asked, timeout=120, every=0.1)
    with db.transaction() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_address == CHAIR,
                                                          OutboxMessage.notification_type == "sign_in")
                              .order_by(OutboxMessage.id.desc())).first()
        signin = "/" + action_url(row.context, row.dedupe_key, settings).split("/", 3)[3]
    signed_in.post(signin, data={"csrf": _csrf(signed_in.get(signin))})
    form = _csrf(signed_in.get("/pending"))

    def by_portal(engagement: int) -> None:
        answer = signed_in.post(f"/pending/{engagement}", data={"csrf": form, "action": "approve"})
        assert answer.status_code == 200, (answer.status_code, answer.text[-2000:])

    # The Prefect form: every approval run started and suspended first.
    with get_client(sync_client=True) as client:
        runs = {engagement: run_deployment("co-chair-approval/co-chair-approval", timeout=0,
                                           parameters={"engagement_id": engagement}).id
                for engagement in by_door["Prefect form"]}
        wait_until(f"{len(runs)} approval runs to suspend",
                   lambda: all(client.read_flow_run(run).state.is_paused() for run in runs.values()), timeout=1800)
        time.sleep(3)  # each run saves its form just after suspending

        def by_prefect(engagement: int) -> None:
            resume_flow_run(runs[engagement], run_input={"co_chair_email": CHAIR, "decision": "approve"})

        doors: dict[str, Callable[[int], Any]] = {"link": by_link, "CLI": by_cli, "portal form": by_portal,
                                                  "Prefect form": by_prefect}
        results = {}
        for door, decide in doors.items():
            from_submission, from_commit = [], []
            for engagement in by_door[door]:
                before = len(sink.invitations())
                submitted = time.time()
                decide(engagement)
                deadline = time.monotonic() + 600
                while len(sink.invitations()) <= before:
                    assert time.monotonic() < deadline, f"no invitation for engagement {engagement} ({door})"
                    time.sleep(0.02)
                arrived = sink.invitations()[-1]
                from_submission.append(arrived - submitted)
                from_commit.append(arrived - decided_at(db, engagement))
            results[door] = (from_submission, from_commit)
            print(f"{door}: {percentiles(from_submission)} (from the commit: {percentiles(from_commit)})", flush=True)
    return results


if __name__ == "__main__":
    main()
