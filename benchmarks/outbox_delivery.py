"""Benchmark: deliver 10,000 outbox e-mails with one and two dispatchers, against a plain smtplib blaster.

The SMTP server is a counting sink (it answers SMTP and counts messages, storing nothing) in
``--sink-processes`` processes sharing one port, so that it is not the limit; like common mail
servers it announces PIPELINING, which the dispatcher uses (plain ``smtplib`` does not). In the
same run a blaster sends pre-built messages with plain ``smtplib`` over the same number of connections as
one dispatcher's pool (``ENGAGE_OUTBOX_POOL_SIZE``, default 4). Each dispatcher is a separate
process with its own connections. Prints messages per second, the CPU time each message costs
the dispatchers, the sink and (on this machine) the PostgreSQL server, the dispatcher/blaster
ratio, two dispatchers against one, and each dispatcher's peak RSS.

    .venv/bin/python benchmarks/outbox_delivery.py [--messages 10000] [--sink-processes 2] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import signal
import smtplib
import socket
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import insert

from models.db import Database
from models.outbox import OutboxMessage
from notifications.dispatcher import dispatch_pending
from notifications.mime import build_email
from notifications.templates import render_message
from scratch_postgres import scratch_postgres
from settings import Settings
from states.clock import SYSTEM_CLOCK

NOW = datetime.now(timezone.utc)
CONTEXT = {"engagement_title": "Engagement", "reminder_number": 1, "decision": "approve", "deadline": "2024-04-30"}


class CountingSmtp(asyncio.Protocol):
    """Just enough SMTP for ``smtplib``: every command accepted (pipelined ones too), every message counted and dropped.

    The replies to what one read brought in go out in one write, as servers that announce
    PIPELINING do (Postfix flushes its replies when its input is drained).
    """

    count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""
        self.in_data = False
        self.transport.write(b"220 counting sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies: list[bytes] = []
        closing = False
        while not closing:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    break
                self.buffer = self.buffer[end + 5:]
                self.in_data = False
                CountingSmtp.count += 1
                replies.append(b"250 2.0.0 counted\r\n")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                break
            self.buffer = rest
            verb = line[:4].upper()
            if verb == b"DATA":
                self.in_data = True
                replies.append(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                replies.append(b"221 bye\r\n")
                closing = True
            elif verb == b"EHLO":
                replies.append(b"250-counting sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            else:
                replies.append(b"250 OK\r\n")
        if replies:
            self.transport.write(b"".join(replies))
        if closing:
            self.transport.close()


def sink_process(port: int, ready: multiprocessing.synchronize.Event, counts: multiprocessing.Queue) -> None:
    """One sink process on the shared port (SO_REUSEPORT); puts its count on ``counts`` at SIGTERM."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(CountingSmtp, "127.0.0.1", port, reuse_port=True))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    ready.set()
    loop.run_forever()
    server.close()
    counts.put(CountingSmtp.count)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seed(url: str, count: int) -> None:
    """Migrate ``url`` and insert ``count`` pending notifications of three types in three languages."""
    database = Database(url)
    database.migrate()
    rows = [
        {
            "dedupe_key": f"bench:{i}",
            "notification_type": ("invitation", "reminder", "decision")[i % 3],
            "channel": "email",
            "recipient_name": f"Partner Contact {i}",
            "recipient_address": f"partner{i}@example.org",
            "language": ("en", "es", "fr")[i % 3],
            "mandatory": False,
            "context": CONTEXT | {"engagement_title": f"Engagement {i}"},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": NOW,
            "created_at": NOW,
        }
        for i in range(count)
    ]
    with database.transaction() as session:
        session.execute(insert(OutboxMessage), rows)
    database.dispose()


def dispatcher(url: str, port: int, start: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue) -> None:
    """One dispatcher process: wait for the others, drain the outbox, report timings and memory."""
    database = Database(url)
    settings = Settings(smtp_port=port)
    start.wait()
    began, cpu = time.time(), time.process_time()
    report = dispatch_pending(database, settings=settings)
    ended, cpu = time.time(), time.process_time() - cpu
    results.put((report.sent, began, ended, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, cpu))


def blaster(port: int, count: int, connections: int) -> float:
    """Messages per second of plain ``smtplib`` sending pre-built messages over ``connections`` threads."""
    settings = Settings(smtp_port=port)
    rendered = render_message("invitation", "en", CONTEXT | {"recipient_name": "Partner Contact"})
    message = build_email(rendered=rendered, recipient_name="Partner Contact", recipient_address="partner@example.org",
                          dedupe_key="blast", settings=settings, clock=SYSTEM_CLOCK)
    shares = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]

    def send(share: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.ehlo()
            for _ in range(share):
                client.sendmail("engage@coalition.example", [message.recipient], message.data)

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    began, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = count / (time.perf_counter() - began)
    print(f"blaster (smtplib, {connections} connections, pre-built messages): {rate:.0f} messages/s, "
          f"{(time.process_time() - cpu) / count * 1000:.2f} ms CPU per message", flush=True)
    return rate


def process_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user and system) each of ``pids`` has used so far, as Linux's ``/proc`` tells (those gone left out)."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def cpu_since(before: dict[int, float], now: dict[int, float]) -> float:
    """CPU seconds used between two :func:`process_cpu` readings; a process started in between counts whole."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())


def postgres_pids() -> list[int]:
    """The processes of a PostgreSQL server on this machine (none if it runs elsewhere)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def run(url: str, count: int, dispatchers: int, port: int, sinks: list[int]) -> tuple[float, float]:
    """Seed ``url``, drain it with ``dispatchers`` processes; messages/s, and the CPU seconds per message they,
    the sink and a PostgreSQL server on this machine spent together.

    Besides the dispatchers' own CPU time per message, prints that of the sink processes (pids
    ``sinks``) and, for a PostgreSQL server on this machine, of all its processes (other users of
    the server count too), over the same interval: on a small machine they share the cores.
    """
    seed(url, count)
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(dispatchers + 1), context.Queue()
    processes = [context.Process(target=dispatcher, args=(url, port, start, results)) for _ in range(dispatchers)]
    for process in processes:
        process.start()
    local_server = url.startswith("postgresql") and bool(postgres_pids())
    sink_cpu, server_cpu = process_cpu(sinks), process_cpu(postgres_pids() if local_server else [])
    start.wait()
    outcomes = [results.get(timeout=900) for _ in processes]
    sink_cpu = cpu_since(sink_cpu, process_cpu(sinks))
    server_cpu = cpu_since(server_cpu, process_cpu(postgres_pids() if local_server else []))
    for process in processes:
        process.join()
    sent = sum(outcome[0] for outcome in outcomes)
    elapsed = max(outcome[2] for outcome in outcomes) - min(outcome[1] for outcome in outcomes)
    rate = sent / elapsed
    peaks = [outcome[3] for outcome in outcomes]
    cpu = sum(outcome[4] for outcome in outcomes)
    others = f"; sink {sink_cpu / sent * 1000:.2f} ms" + (f", PostgreSQL server {server_cpu / sent * 1000:.2f} ms" if local_server else "")
    print(f"{dispatchers} dispatcher(s): {sent} sent in {elapsed:.2f} s, {rate:.0f} messages/s, "
          f"{cpu / sent * 1000:.2f} ms CPU per message (claim, render, send, record){others}, "
          f"peak RSS per dispatcher {', '.join(f'{peak:.0f}' for peak in peaks)} MiB", flush=True)
    return rate, (cpu + sink_cpu + server_cpu) / sent


def summarize(blast: float, one: float, two: float, two_cpu: float, parties: str) -> None:
    """Print the ratios against the targets, and the rate this machine's cores can carry at the CPU two dispatchers used.

    Where the dispatchers, the sink and PostgreSQL share the machine, no number of dispatchers
    sends faster than its cores divided by the CPU time all of them spend per message.
    """
    target = min(1000.0, 0.9 * blast)
    print(f"one dispatcher / blaster: {one / blast:.0%} (target: >= {target:.0f} messages/s, "
          f"the lower of 1,000/s and 90% of the blaster: {'met' if one >= target else 'NOT met'})", flush=True)
    print(f"two dispatchers / one: {two / one:.2f}x (target >= 1.6x: {'met' if two >= 1.6 * one else 'NOT met'})", flush=True)
    cores = len(os.sched_getaffinity(0))
    ceiling = cores / two_cpu
    print(f"this machine's ceiling at that CPU per message ({two_cpu * 1000:.2f} ms, {parties} together, "
          f"on {cores} cores): {ceiling:.0f} messages/s; two dispatchers reach {two / ceiling:.0%} of it, "
          f"so at most {ceiling / one:.2f}x one dispatcher here", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--sink-processes", type=int, default=2)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL; a scratch database is created on it")
    arguments = parser.parse_args()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{arguments.messages} messages, database: {'PostgreSQL' if arguments.postgres else 'SQLite'}, "
          f"{os.cpu_count()} CPUs, load average {load}", flush=True)
    context = multiprocessing.get_context("spawn")
    port, counts = free_port(), context.Queue()
    sinks = []
    for _ in range(arguments.sink_processes):
        ready = context.Event()
        sinks.append(context.Process(target=sink_process, args=(port, ready, counts)))
        sinks[-1].start()
        ready.wait(timeout=60)
    try:
        sink_pids = [sink.pid for sink in sinks if sink.pid is not None]
        pool = Settings().outbox_pool_size
        blast = blaster(port, arguments.messages, pool)
        rates: dict[int, float] = {}
        cpu: dict[int, float] = {}
        with tempfile.TemporaryDirectory(prefix="engage-bench-") as folder:
            workdir = Path(folder)
            for dispatchers in (1, 2):
                if arguments.postgres:
                    with scratch_postgres(arguments.postgres) as url:
                        rates[dispatchers], cpu[dispatchers] = run(url, arguments.messages, dispatchers, port,
                                                                   sink_pids)
                else:
                    url = f"sqlite:///{workdir / f'bench-{dispatchers}.db'}"
                    rates[dispatchers], cpu[dispatchers] = run(url, arguments.messages, dispatchers, port, sink_pids)
        local_server = bool(arguments.postgres) and bool(postgres_pids())
        summarize(blast, rates[1], rates[2], cpu[2],
                  "dispatchers, sink and PostgreSQL" if local_server else "dispatchers and sink")
    finally:
        for sink in sinks:
            sink.terminate()
        received = sum(counts.get(timeout=30) for _ in sinks)
        for sink in sinks:
            sink.join()
    print(f"the sink counted {received} messages ({arguments.sink_processes} processes)", flush=True)


if __name__ == "__main__":
    main()
