"""The Prefect half of ``engage up``: every deployment of prefect.yaml served in this process, and a fast watch.

``served_deployments`` reads ``prefect.yaml`` (one source for the many-machine set-up and this one)
and builds each deployment with its schedules and triggers for Prefect's runner (``serve``), which
starts each flow run as a child process. ``watch`` runs beside it in a thread, as soon as a commit
queues work on PostgreSQL (``notifications.wakeup``) and every few seconds anyway: it publishes engine
events, closes approval runs decided elsewhere, takes follow-ups left undone, delivers the outbox and
names runs after their engagement or job, so a decision's invitation leaves within seconds from every
door without a flow process per step.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parents[1]


def deployment_specs(path: Path = PROJECT / "prefect.yaml") -> list[dict[str, Any]]:
    """The ``deployments`` of ``prefect.yaml``."""
    return yaml.safe_load(path.read_text("utf-8"))["deployments"]


def schedules_of(spec: dict[str, Any]) -> list[Any]:
    """Prefect schedules for a deployment's ``schedules`` entries (``interval`` seconds or ``cron`` with ``timezone``)."""
    from prefect.schedules import Cron, Interval

    found = []
    for entry in spec.get("schedules") or []:
        if "interval" in entry:
            found.append(Interval(entry["interval"], timezone=entry.get("timezone")))
        else:
            found.append(Cron(entry["cron"], timezone=entry.get("timezone")))
    return found


def triggers_of(spec: dict[str, Any]) -> list[Any]:
    """Deployment triggers for a deployment's ``triggers`` entries (event triggers)."""
    from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger

    return [DeploymentEventTrigger(**{k: v for k, v in entry.items() if k != "type"})
            for entry in spec.get("triggers") or []]


def served_deployments() -> list[Any]:
    """Every deployment of prefect.yaml as a runner deployment (no work pool: this process runs them)."""
    deployments = []
    for spec in deployment_specs():
        module_path, function = spec["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        deployments.append(getattr(module, function).to_deployment(
            name=spec["name"], description=spec.get("description"), tags=spec.get("tags"),
            parameters=spec.get("parameters"), schedules=schedules_of(spec), triggers=triggers_of(spec),
        ))
    return deployments


def watch_once() -> dict[str, Any]:
    """One round of the watch: relay, close decided runs, take undone follow-ups, deliver, name runs."""
    from flows.events import relay_engine_events
    from flows.labels import name_unnamed_runs
    from flows.recovery import close_runs_of_decided, take_unfinished_follow_ups
    from flows.runtime import current_runtime
    from notifications.dispatcher import dispatch_pending

    published = relay_engine_events.fn()
    closed = close_runs_of_decided(published)
    follow_ups = take_unfinished_follow_ups.fn()
    runtime = current_runtime()
    delivered = dispatch_pending(runtime.db, clock=runtime.clock, settings=runtime.settings)
    name_unnamed_runs()  # scheduled runs carry Prefect's random names until renamed
    return {"published": len(published), "closed": closed, "follow_ups": follow_ups, "sent": delivered.sent}


def watch(stop: threading.Event, every: float, log: Any) -> None:
    """Run ``watch_once`` whenever work is committed (PostgreSQL) and at least every ``every`` seconds, until
    ``stop`` is set; a failed round is logged, not fatal."""
    from flows.runtime import current_runtime
    from notifications.wakeup import WorkSignal

    with WorkSignal(current_runtime().db) as work:
        while not stop.is_set():
            work.wait(every, stop)
            if not stop.is_set():
                _watch_round(log)


def _watch_round(log: Any) -> None:
    """One round of the watch, its failure logged (the next round tries again; the scheduled relay backs it up)."""
    try:
        done = watch_once()
    except Exception as error:  # noqa: BLE001 - the next round tries again; the scheduled relay backs it up
        log(f"watch: {type(error).__name__}: {error}")
        return
    if done["published"] or done["closed"] or done["follow_ups"]["taken"] or done["sent"]:
        log(f"watch: {done['published']} event(s) published, {len(done['closed'])} approval run(s) closed, "
            f"{len(done['follow_ups']['taken'])} follow-up(s) taken, {done['sent']} message(s) sent")


def serve_all(watch_every: float, log: Any) -> None:
    """Serve every deployment until interrupted (SIGINT/SIGTERM), with the watch in a thread."""
    from prefect import serve

    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(stop, watch_every, log), name="engage-watch", daemon=True)
    deployments = served_deployments()
    watcher.start()
    try:
        serve(*deployments, pause_on_shutdown=False, print_starting_message=False)
    finally:
        stop.set()
        watcher.join(30)
