"""One shared ``transitions`` Machine per lifecycle; engagements are never attached to it.

A transition is tried on a tiny stand-in that carries only the current state, so thousands of
engagements in memory cost nothing extra and threads can share a Machine safely.
"""

from __future__ import annotations

from functools import cache

from transitions import EventData, Machine

from states.context import TransitionContext
from states.effects import EFFECTS
from states.guards import GUARDS
from states.lifecycles import LIFECYCLES, get_lifecycle
from states.spec import TransitionSpec, validate_lifecycle

for _lifecycle in LIFECYCLES.values():  # every guard and effect a declaration names exists
    validate_lifecycle(_lifecycle, guards=set(GUARDS), effects=set(EFFECTS))


class StateHolder:
    """The model a shared Machine moves: just a state."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def _guard_condition(name: str):  # noqa: ANN202 - a transitions condition
    guard = GUARDS[name]

    def condition(event: EventData) -> bool:
        ctx: TransitionContext = event.kwargs["ctx"]
        refusal = guard(ctx)
        if refusal is not None:
            ctx.refusals.append(refusal)
        return refusal is None

    return condition


def _record_fired(spec: TransitionSpec):  # noqa: ANN202 - a transitions callback
    def before(event: EventData) -> None:
        event.kwargs["ctx"].fired = spec

    return before


@cache
def machine_for(kind: str) -> Machine:
    """The one Machine of engagement kind ``kind``, built on first use."""
    lifecycle = get_lifecycle(kind)
    machine = Machine(
        model=None,
        states=[state.name for state in lifecycle.states],
        initial=lifecycle.initial,
        auto_transitions=False,
        send_event=True,
        name=kind,
    )
    for spec in lifecycle.transitions:
        machine.add_transition(
            spec.trigger,
            list(spec.sources),
            spec.dest if spec.dest is not None else None,
            conditions=[_guard_condition(name) for name in spec.guards],
            before=_record_fired(spec),
        )
    return machine


def fire(kind: str, state: str, trigger: str, ctx: TransitionContext) -> str | None:
    """Run ``trigger`` from ``state``; the new state, or ``None`` when every guard refused."""
    holder = StateHolder(state)
    fired = machine_for(kind).events[trigger].trigger(holder, ctx=ctx)
    return holder.state if fired else None
