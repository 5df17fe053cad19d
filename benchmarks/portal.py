"""Benchmark: the portal on PostgreSQL at 1, 20 and 100 concurrent clients, beside its limit measured in the same run.

The portal runs as `engage serve` (one worker) over a scratch PostgreSQL database; the limit is
`benchmarks/handwritten_portal.py`, a minimal Starlette app running the same SQL by hand through psycopg,
served by uvicorn the same way. An asyncio/httpx load loop drives each over loopback: page GETs (the
co-chair's link page) and decision POSTs (link to committed state with audit, outbox rows and the invitation
that follows). Prints p50/p95/p99 and requests/s per server, request and client count; the CPU time per
request of the server, of the load client and of PostgreSQL (its backends for the scratch database)
separately; the portal's throughput as a share of the limit's; and the machine's load average.

    .venv/bin/python benchmarks/portal.py [--gets 400] [--posts 200] [--clients 1,20,100] [--workers 1]
                                          [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from models import OutboxMessage
from models.db import Database
from notifications.action_urls import action_url
from settings import Settings
from states.directory import load_sample
from states.workflow import apply_transition, create_engagement

CHAIR = "swg11.canada@cochairs.example"
TLS = ssl.create_default_context()  # unused over plain HTTP, but each client would otherwise load the CA bundle (45 ms)
STAFF = {"role": "secretariat", "identity": "staff@state.example"}


def seed(url: str, settings: Settings, count: int) -> list[str]:
    """``count`` invitations awaiting SWG 1.1's co-chairs (policy: any); the Canadian co-chair's link paths."""
    db = Database(url)
    db.migrate()
    load_sample(db)
    for i in range(count):
        engagement = create_engagement(db, {
            "kind": "swg_presentation", "title": f"Partner presentation {i}", "swg_code": "1.1",
            "details": {"topic": "Precursor diversion"}, "participants": [{"organization": "Meta", "role": "presenter"}],
        }, STAFF)
        apply_transition(db, engagement, "request_approval", STAFF, settings=settings)
    with db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_address == CHAIR)
                               .order_by(OutboxMessage.id)).all()
        paths = [action_url(row.context, row.dedupe_key, settings).split("/", 3)[3] for row in rows]
    db.dispose()
    return ["/" + path for path in paths]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def load(base: str, clients: int, work: list[tuple[str, str]]) -> tuple[list[float], float, list[int]]:
    """Run ``work`` (method, path) with ``clients`` concurrent clients; latencies (s), wall time, statuses."""
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    latencies: list[float] = []
    statuses: list[int] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60, verify=TLS) as http:
            # the sign-in form always carries one (a link already decided by another client shows none)
            token = re.search(r'name="csrf" value="([0-9a-f]+)"', (await http.get("/signin")).text)
            while not queue.empty():
                method, path = queue.get_nowait()
                started = time.perf_counter()
                if method == "GET":
                    response = await http.get(path)
                else:
                    response = await http.post(path, data={"csrf": token.group(1) if token else "", "action": "approve"})
                latencies.append(time.perf_counter() - started)
                statuses.append(response.status_code)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - started, statuses


def _proc_stats() -> dict[int, tuple[int, float, str]]:
    """Every process's parent, user + system CPU seconds and command line (Linux ``/proc``)."""
    stats: dict[int, tuple[int, float, str]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
            command = (entry.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        stats[int(entry.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, command)
    return stats


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time of process ``pid`` and its live descendants."""
    stats = _proc_stats()
    family = {pid}
    for _ in range(4):  # supervisor, workers, their children
        family |= {child for child, (parent, _, _) in stats.items() if parent in family}
    return sum(stats[member][1] for member in family if member in stats)


def postgres_cpu(database: str) -> dict[int, float]:
    """CPU time of each PostgreSQL backend serving ``database`` (their process titles name it), by process id."""
    return {pid: cpu for pid, (_, cpu, command) in _proc_stats().items()
            if command.startswith("postgres: ") and f" {database} " in command}


class PostgresCpu(threading.Thread):
    """The CPU time the backends of ``database`` spend while it runs, sampled every 0.2 s: a backend that ends
    meanwhile (a pool's overflow connection) counts with its last sample."""

    def __init__(self, database: str) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.first = postgres_cpu(database)
        self.last = dict(self.first)
        self.done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.last.update(postgres_cpu(self.database))

    def seconds(self) -> float:
        self.done.set()
        self.join()
        self.last.update(postgres_cpu(self.database))
        return sum(cpu - self.first.get(pid, 0.0) for pid, cpu in self.last.items())


def settle(pid: int, timeout: float = 120) -> None:
    """Wait until process ``pid`` and its children are idle (no more than 20 ms of CPU in half a second)."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - before < 0.02:
            return
        before = now


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes."""
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def percentile(ordered: list[float], share: float) -> float:
    return ordered[int(share * (len(ordered) - 1))]


def measure(server: subprocess.Popen, database: str, base: str, clients: int,
            work: list[tuple[str, str]]) -> dict[str, float]:
    """Run ``work``; its latencies, requests/s, and the CPU time per request of the server, of this client and of
    PostgreSQL, which stay meaningful when other processes share the cores."""
    cpu_before, client_before, postgres = cpu_seconds(server.pid), time.process_time(), PostgresCpu(database)
    latencies, wall, statuses = asyncio.run(load(base, clients, work))
    count = len(latencies)
    ordered = sorted(latencies)
    return {
        "count": count, "p50": percentile(ordered, 0.50), "p95": percentile(ordered, 0.95),
        "p99": percentile(ordered, 0.99), "rate": count / wall,
        "server": (cpu_seconds(server.pid) - cpu_before) / count, "client": (time.process_time() - client_before) / count,
        "postgres": postgres.seconds() / count,
        "failed": sum(status != 200 for status in statuses),
        "statuses": ", ".join(f"{code}: {n}" for code, n in sorted(Counter(s for s in statuses if s != 200).items())),
    }


def row(server: str, request: str, clients: int, figures: dict[str, float]) -> str:
    failed = f"{figures['failed']} ({figures['statuses']})" if figures["failed"] else "0"
    return (f"| {server} | {request} | {clients} | {figures['count']} | {figures['p50'] * 1000:.1f} | "
            f"{figures['p95'] * 1000:.1f} | {figures['p99'] * 1000:.1f} | {figures['rate']:.0f} | "
            f"{figures['server'] * 1000:.2f} | {figures['client'] * 1000:.2f} | {figures['postgres'] * 1000:.2f} | "
            f"{failed} |")


def start(command: list[str], env: dict[str, str], base: str) -> subprocess.Popen:
    """Start a server and wait until it answers and is idle."""
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(command, cwd=root, env={**env, "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL)
    for _ in range(300):
        try:
            httpx.get(base + "/signin", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    settle(server.pid)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gets", type=int, default=400, help="page GETs per server and client count")
    parser.add_argument("--posts", type=int, default=200, help="decision POSTs per server and client count")
    parser.add_argument("--clients", default="1,20,100")
    parser.add_argument("--workers", type=int, default=1, help="engage serve --workers")
    parser.add_argument("--postgres", default=os.environ.get("ENGAGE_TEST_POSTGRES_URL",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    arguments = parser.parse_args()
    levels = [int(value) for value in arguments.clients.split(",")]
    name = f"engage_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(arguments.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(arguments.postgres).set(database=name).render_as_string(hide_password=False)
    ports = {"portal": free_port(), "hand-written": free_port()}
    folder = Path(tempfile.mkdtemp(prefix="engage-portal-bench-"))
    env = {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_DATA_DIR": str(folder), "ENGAGE_SECRET_KEY": "b" * 48,
           "ENGAGE_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['portal']}"}
    settings = Settings(data_dir=folder, database_url=url, secret_key="b" * 48, public_base_url=env["ENGAGE_PUBLIC_BASE_URL"])
    servers: dict[str, subprocess.Popen] = {}
    try:
        warm = max(levels)
        pages = min(arguments.gets, 100)  # links only ever shown, never decided
        links = seed(url, settings, pages + warm * 2 + arguments.posts * len(levels) * 2)
        gets_on, links = links[:pages], links[pages:]
        bases = {server: f"http://127.0.0.1:{port}" for server, port in ports.items()}
        servers["portal"] = start([sys.executable, "-c", "from cli.app import main; main()", "serve", "--port",
                                   str(ports["portal"]), "--workers", str(arguments.workers)], env, bases["portal"])
        servers["hand-written"] = start([sys.executable, "-m", "uvicorn", "benchmarks.handwritten_portal:app",
                                         "--port", str(ports["hand-written"]), "--log-level", "warning",
                                         "--no-server-header", "--no-access-log"], env, bases["hand-written"])
        for server, base in bases.items():  # statements and templates compiled, pools filled, before measuring
            spent, links = links[:warm], links[warm:]
            asyncio.run(load(base, warm, [("GET", path) for path in spent * 2] + [("POST", path) for path in spent]))
        print(f"portal over PostgreSQL, {arguments.workers} worker(s), {os.cpu_count()} cores shared with other "
              f"users, load average (1 / 5 / 15 min) before: {load_average()}")
        print("| server | request | clients | count | p50 ms | p95 ms | p99 ms | requests/s | server CPU ms | "
              "client CPU ms | PostgreSQL CPU ms | non-200 |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        rates: dict[tuple[str, str, int], float] = {}
        for clients in levels:
            for server, base in bases.items():
                gets = [("GET", gets_on[i % len(gets_on)]) for i in range(arguments.gets)]
                figures = measure(servers[server], name, base, clients, gets)
                rates[server, "GET", clients] = figures["rate"]
                print(row(server, "page GET", clients, figures))
                posts, links = links[:arguments.posts], links[arguments.posts:]
                figures = measure(servers[server], name, base, clients, [("POST", path) for path in posts])
                rates[server, "POST", clients] = figures["rate"]
                print(row(server, "decision POST", clients, figures))
        print("portal throughput as a share of the hand-written limit's: " + "; ".join(
            f"{request} at {clients} client(s) {rates['portal', request, clients] / rates['hand-written', request, clients]:.0%}"
            for clients in levels for request in ("GET", "POST")))
        print(f"load average after: {load_average()}")
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=10)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
