"""``engage up``: the whole system on one machine, stopped as a whole by Ctrl-C (SIGINT) or SIGTERM.

It starts a Prefect server (its database in ``<data dir>/prefect``, SQLite unless
``PREFECT_API_DATABASE_CONNECTION_URL`` names another), the portal (``engage serve``), then serves
every deployment of prefect.yaml with its schedules and triggers in this process, beside a watch
that relays decisions and delivers mail every few seconds (``flows/up.py``). Every process it
starts carries a marker in its environment, so stopping leaves none behind. Imported only by
``engage up``: no other command pays for Prefect.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MARKER = "ENGAGE_UP"
STOP_SECONDS = 20


def marked_processes(marker: str) -> list[int]:
    """Pids of processes (not this one) whose environment carries ``ENGAGE_UP=<marker>``."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local server
            return response.status == 200
    except OSError:
        return False


def _wait_for(what: str, url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {what} stopped while starting (exit {process.returncode}); see its log")
        if _answers(url):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the {what} did not answer at {url} within {timeout:.0f} s; see its log")


def _stop(processes: list[subprocess.Popen], marker: str) -> None:
    """SIGTERM each started process group, SIGKILL what is left after ``STOP_SECONDS``, then any marked stray."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    for pid in marked_processes(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_up(data_dir: Path | None, host: str, port: int, prefect_host: str, prefect_port: int,
           watch_seconds: float, log: Callable[[str], None]) -> None:
    """Run the server, the portal and every deployment until SIGINT/SIGTERM; then stop them all."""
    if data_dir is not None:
        os.environ["ENGAGE_DATA_DIR"] = str(data_dir.resolve())
    from flows.runtime import configure_prefect
    from models.db import Database
    from settings import get_settings

    settings = get_settings()
    folder = settings.data_dir.resolve()
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    marker = uuid.uuid4().hex
    api = f"http://{prefect_host}:{prefect_port}/api"
    os.environ.update({MARKER: marker, "PREFECT_API_URL": api, "ENGAGE_PROJECT_DIR": str(PROJECT)})
    os.environ.setdefault("PREFECT_UI_API_URL", api)
    configure_prefect(home=folder / "prefect")
    db = Database(settings.resolved_database_url)
    db.migrate()
    with db.engine.begin() as connection:
        if not connection.exec_driver_sql("SELECT count(*) FROM sub_working_groups").scalar():
            log("no reference data yet: load it with `engage load-sample` or `engage load-reference FILE`")
    db.dispose()
    os.chdir(PROJECT)  # the deployments' entrypoints are paths in the project
    started: list[subprocess.Popen] = []
    previous = signal.signal(signal.SIGTERM, _interrupt)

    def spawn(name: str, command: list[str]) -> subprocess.Popen:
        out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(command, stdout=out, stderr=out, start_new_session=True, cwd=PROJECT)
        started.append(process)
        return process

    try:
        server = spawn("prefect-server", [str(BIN / "prefect"), "server", "start", "--host", prefect_host,
                                          "--port", str(prefect_port)])
        _wait_for("Prefect server", f"{api}/health", server, timeout=180)
        log(f"Prefect server and UI on http://{prefect_host}:{prefect_port} (log: {logs / 'prefect-server.log'})")
        portal = spawn("portal", [str(BIN / "engage"), "serve", "--host", host, "--port", str(port)])
        _wait_for("portal", f"http://{host}:{port}/", portal, timeout=60)
        log(f"portal on http://{host}:{port} (log: {logs / 'portal.log'})")
        log(f"serving every deployment of prefect.yaml, watching every {watch_seconds:g} s; Ctrl-C stops everything")
        from flows.up import serve_all

        serve_all(watch_seconds, log)
    except KeyboardInterrupt:
        pass
    finally:
        log("stopping")
        _stop(started, marker)
        signal.signal(signal.SIGTERM, previous)
        log("stopped")
