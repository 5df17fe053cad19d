"""What every flow shares: the engine's database, settings and clock, and Prefect's settings.

Flows stay thin: they resolve a ``Runtime`` and call the domain. In-process callers (the demo,
tests) install their own with ``use_runtime(...)``; deployments build one from the environment
(``ENGAGE_*`` variables, e.g. ``ENGAGE_DATABASE_URL``) and an optional simulated ``now``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from models.db import Database
from settings import Settings
from states.clock import SYSTEM_CLOCK, Clock, SimulatedClock

PREFECT_DEFAULTS = {
    # No internet: never phone home.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
    # Quieter, faster local runs.
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}


def configure_prefect(home: Path | None = None, **extra: str) -> None:
    """Set Prefect's environment before it is imported (only where not set by the user)."""
    for name, value in {**PREFECT_DEFAULTS, **extra}.items():
        os.environ.setdefault(name, value)
    if home is not None:
        os.environ.setdefault("PREFECT_HOME", str(home))


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    clock: Clock


_lock = threading.Lock()
_override: list[Runtime] = []
_databases: dict[str, Database] = {}


@contextmanager
def use_runtime(runtime: Runtime) -> Iterator[Runtime]:
    """Make every flow run in this process (any thread) use ``runtime`` until the block ends."""
    with _lock:
        _override.append(runtime)
    try:
        yield runtime
    finally:
        with _lock:
            _override.remove(runtime)


def database_for(settings: Settings) -> Database:
    """One ``Database`` per URL per process (migrated on first use)."""
    url = settings.resolved_database_url
    with _lock:
        found = _databases.get(url)
        if found is None:
            found = _databases[url] = Database(url)
            found.migrate()
        return found


def current_runtime(now: datetime | None = None) -> Runtime:
    """The installed runtime, or one from the environment; ``now`` pins a simulated clock."""
    with _lock:
        runtime = _override[-1] if _override else None
    if runtime is None:
        settings = Settings()
        runtime = Runtime(settings, database_for(settings), SYSTEM_CLOCK)
    if now is not None:
        moment = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
        clock = runtime.clock
        if isinstance(clock, SimulatedClock) and moment >= clock.now():
            clock.set(moment)  # the installed simulated clock moves on (one clock for the replay)
        else:
            runtime = replace(runtime, clock=SimulatedClock(moment))
    return runtime


def flow_run_id() -> str | None:
    """The id of the current Prefect flow run, if any."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else None
