"""Benchmark: the portal under 20 concurrent clients on PostgreSQL (decision POSTs and page GETs).

The portal runs as `engage serve` in its own process over a scratch PostgreSQL database; an
asyncio/httpx load loop drives it over loopback. Each decision POST goes from the link to the
committed state with its audit row and queued notifications. Prints p50/p95, requests/s, the CPU
time per request of the server (all its workers) and of the load client (on the same cores), and
the machine's load average before and after.

    .venv/bin/python benchmarks/portal.py [--engagements 600] [--gets 3000] [--clients 20] [--workers 1]
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
import statistics
import subprocess
import sys
import tempfile
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its live descendants (Linux ``/proc``)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        stats[int(entry.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    family, total = {pid}, 0.0
    for _ in range(4):  # supervisor, workers, their children
        family |= {child for child, (parent, _) in stats.items() if parent in family}
    for member in family:
        total += stats.get(member, (0, 0.0))[1]
    return total


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


def measure(name: str, server: subprocess.Popen, base: str, clients: int, work: list[tuple[str, str]]) -> None:
    """Run ``work`` and print its row: latencies, requests/s, and the CPU time per request of the server
    and of this client, which stay meaningful when other processes share the cores."""
    cpu_before, client_before = cpu_seconds(server.pid), time.process_time()
    latencies, wall, statuses = asyncio.run(load(base, clients, work))
    cpu = (cpu_seconds(server.pid) - cpu_before) / len(latencies)
    client = (time.process_time() - client_before) / len(latencies)
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    bad = Counter(status for status in statuses if status != 200)
    by_status = ", ".join(f"{status}: {count}" for status, count in sorted(bad.items()))
    failed = f"{sum(bad.values())} ({by_status})" if bad else "0"
    print(f"| {name} | {len(latencies)} | {statistics.median(ordered) * 1000:.1f} ms | {p95 * 1000:.1f} ms | "
          f"{len(latencies) / wall:.0f} | {cpu * 1000:.1f} ms | {client * 1000:.1f} ms | {failed} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engagements", type=int, default=600)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--gets", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=1, help="engage serve --workers")
    parser.add_argument("--postgres", default=os.environ.get("ENGAGE_TEST_POSTGRES_URL",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    arguments = parser.parse_args()
    name = f"engage_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(arguments.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(arguments.postgres).set(database=name).render_as_string(hide_password=False)
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="engage-portal-bench-"))
    env = {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_DATA_DIR": str(folder), "ENGAGE_SECRET_KEY": "b" * 48,
           "ENGAGE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    settings = Settings(data_dir=folder, database_url=url, secret_key="b" * 48, public_base_url=env["ENGAGE_PUBLIC_BASE_URL"])
    server = None
    try:
        links = seed(url, settings, arguments.engagements + arguments.clients)
        warm, paths = links[:arguments.clients], links[arguments.clients:]  # the warm-up spends one link per client
        root = Path(__file__).resolve().parent.parent
        server = subprocess.Popen(
            [sys.executable, "-c", "from cli.app import main; main()", "serve", "--port", str(port),
             "--workers", str(arguments.workers)],
            cwd=root, env={**env, "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        settle(server.pid)  # every worker has started
        # every worker compiles its statements and templates and fills its pool before the measurement
        asyncio.run(load(base, arguments.clients, [("GET", path) for path in warm * 3] + [("POST", path) for path in warm]))
        print(f"portal over PostgreSQL, {arguments.workers} worker(s), {arguments.clients} concurrent clients, "
              f"{os.cpu_count()} cores, load average (1 / 5 / 15 min) before: {load_average()}")
        print("| requests | count | p50 | p95 | requests/s | server CPU per request | client CPU per request | non-200 |")
        print("|---|---|---|---|---|---|---|---|")
        gets = [("GET", paths[i % len(paths)]) for i in range(arguments.gets)]
        measure("page GET (approval page: engagement, SWG, votes)", server, base, arguments.clients, gets)
        posts = [("POST", path) for path in paths]
        measure("decision POST (link to committed state + audit + outbox)", server, base, arguments.clients, posts)
        print(f"load average after: {load_average()}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
