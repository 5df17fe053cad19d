"""A production-shaped Prefect stack in child processes, for the deployment test and the approvals benchmark.

``prefect_stack`` starts ``prefect server`` on a scratch PostgreSQL database of its own, creates the
``engage-process`` work pool and deploys everything in ``prefect.yaml``; the caller starts (and
kills) workers, whose processes and flow-run processes carry a marker in their environment so
they can be found in ``/proc`` and killed as a whole.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from benchmarks.scratch_postgres import scratch_postgres

PROJECT = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).with_name("prefect"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_with(marker: bytes) -> list[int]:
    """Pids of this user's processes (not this one) whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def wait_until(what: str, check: Callable[[], Any], timeout: float = 180, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something true (printing how long it took); fail after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() < start + timeout:
        found = check()
        if found:
            print(f"{what}: {time.monotonic() - start:.1f} s")
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class PrefectStack:
    """A running server with everything deployed; ``start_worker`` runs workers against it."""

    env: dict[str, str]
    worker_env: dict[str, str]
    logs: Path
    server: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def marker(self) -> bytes:
        """What every worker process and flow-run process of this stack has in its environment."""
        return f"ENGAGE_STACK_WORKER={self.worker_env['ENGAGE_STACK_WORKER']}".encode()

    def prefect(self, *args: str, timeout: float = 300) -> str:
        """Run ``prefect ARGS`` against the server; its standard output."""
        done = subprocess.run([PREFECT, *args], env=self.env, cwd=PROJECT, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def start_worker(self, *args: str) -> subprocess.Popen:
        """A process worker on the ``engage-process`` pool (extra ``prefect worker start`` options in ``args``)."""
        worker = _spawn(self.logs, "worker", ["worker", "start", "--pool", "engage-process", *args], self.worker_env)
        self.workers.append(worker)
        return worker

    def kill_workers(self) -> None:
        """SIGKILL every worker and every flow-run process they started."""
        for worker in self.workers:
            try:
                os.killpg(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            worker.wait(10)
        self.workers.clear()
        for pid in processes_with(self.marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue



@contextmanager
def prefect_stack(postgres_url: str, home: Path, worker_env: dict[str, str]) -> Iterator[PrefectStack]:
    """Server (its own database on the PostgreSQL at ``postgres_url``), pool and deployments; torn down after.

    ``worker_env`` holds the ``ENGAGE_*`` settings workers pass to flow runs (database, SMTP, ...).
    """
    port = free_port()
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with scratch_postgres(postgres_url, prefix="prefect_stack") as prefect_db:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ENGAGE_"))},
            "PREFECT_HOME": str(home / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
            "PREFECT_API_DATABASE_CONNECTION_URL": make_url(prefect_db).set(drivername="postgresql+asyncpg")
            .render_as_string(hide_password=False),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_CLI_PROMPT": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_LOGGING_LEVEL": "WARNING",
            "ENGAGE_PROJECT_DIR": str(PROJECT),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        server = _spawn(logs, "server", ["server", "start", "--host", "127.0.0.1", "--port", str(port)], env)
        stack = PrefectStack(env, {**env, **worker_env, "ENGAGE_STACK_WORKER": uuid.uuid4().hex}, logs, server)
        try:
            wait_until("the Prefect server", lambda: _healthy(port, stack.server), timeout=180)
            stack.prefect("work-pool", "create", "engage-process", "--type", "process")
            stack.prefect("--no-prompt", "deploy", "--all")
            yield stack
        finally:
            stack.kill_workers()
            stack.server.terminate()
            try:
                stack.server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(stack.server.pid, signal.SIGKILL)


def _spawn(logs: Path, name: str, args: list[str], environment: dict[str, str]) -> subprocess.Popen:
    out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen([PREFECT, *args], env=environment, cwd=PROJECT, stdout=out, stderr=out,
                            start_new_session=True)


def _healthy(port: int, server: subprocess.Popen) -> bool:
    assert server.poll() is None, "the Prefect server exited"
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
        return True
    except OSError:
        return False
