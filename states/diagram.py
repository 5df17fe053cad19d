"""Mermaid state diagrams of the lifecycles."""

from __future__ import annotations

from states.spec import Lifecycle


def _days(delta) -> str:  # noqa: ANN001 - a timedelta
    return f"{delta.days}d"


def mermaid(lifecycle: Lifecycle) -> str:
    """A ``stateDiagram-v2`` of ``lifecycle``: its states, triggers (with roles), finals and waits."""
    lines = ["stateDiagram-v2", f"    %% {lifecycle.title}", f"    [*] --> {lifecycle.initial}"]
    for spec in lifecycle.transitions:
        if spec.trigger in {"remind", "escalate"}:
            continue
        roles = "/".join(sorted(role.value for role in spec.roles))
        guard = f" [{', '.join(spec.guards)}]" if spec.guards else ""
        for source in spec.sources:
            dest = spec.dest or source
            lines.append(f"    {source} --> {dest} : {spec.trigger} ({roles}){guard}")
    for state in lifecycle.states:
        if state.final:
            lines.append(f"    {state.name} --> [*]")
        if state.wait:
            wait = state.wait
            text = f"waits on {wait.on.value}: remind every {_days(wait.remind_after)}, escalate after {wait.max_reminders}"
            if wait.expire_after:
                text += f", {wait.expire_trigger} after {_days(wait.expire_after)}"
            lines.append(f"    note right of {state.name} : {text}")
    return "\n".join(lines) + "\n"
