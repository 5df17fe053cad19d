"""The vocabulary in which lifecycles are declared, and the checks every declaration must pass."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from models.enums import EngagementKind, NotificationType, Role
from states.errors import DefinitionError
from states.markers import N_

if TYPE_CHECKING:
    from pydantic import BaseModel


class Recipient(StrEnum):
    """Whom a notification goes to, resolved against the engagement when the transition commits."""

    SECRETARIAT = "secretariat"
    CO_CHAIRS = "co_chairs"
    PARTNERS = "partners"
    ORGANIZER = "organizer"
    WAITED_ON = "waited_on"


@dataclass(frozen=True)
class Wait:
    """A state that waits on someone: remind them, escalate to the secretariat, then expire."""

    on: Role
    remind_after: timedelta
    max_reminders: int = 2
    expire_after: timedelta | None = None
    expire_trigger: str | None = None


@dataclass(frozen=True)
class StateSpec:
    """One state of a lifecycle.

    ``then`` names a step the system takes as soon as an engagement enters the state, in the same
    transaction (``states.follow_ups``): what must follow a decision never waits on a process.
    """

    name: str
    description: str
    initial: bool = False
    final: bool = False
    wait: Wait | None = None
    then: str | None = None


@dataclass(frozen=True)
class Notify:
    """A notification a transition causes; ``mandatory`` ones ignore the recipient's opt-outs."""

    type: NotificationType
    to: Recipient
    mandatory: bool = False


@dataclass(frozen=True)
class TransitionSpec:
    """A trigger that moves from any of ``sources`` to ``dest`` (``None``: stays, as an internal step).

    Guards are names from ``states.guards.GUARDS``; effects are names from ``states.effects.EFFECTS``,
    run inside the transaction before the guards. Transitions sharing a trigger and a source are
    tried in order, the first whose guards pass wins. ``emits`` names the engine events the
    transition records in its transaction (``engine_events``), for follow-ups outside the domain.
    ``data_schema`` names the model in ``states.inputs`` the trigger's data must match: by name, so
    that reading a lifecycle (``engage show``, diagrams) needs no pydantic.
    """

    trigger: str
    sources: tuple[str, ...]
    dest: str | None
    roles: frozenset[Role]
    description: str = ""
    guards: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    notify: tuple[Notify, ...] = ()
    data_schema: str | None = None
    emits: tuple[str, ...] = ()

    def data_model(self) -> type[BaseModel] | None:
        """The model ``data_schema`` names, imported on first use."""
        if self.data_schema is None:
            return None
        from states import inputs

        return getattr(inputs, self.data_schema)


@dataclass(frozen=True)
class Lifecycle:
    """The declared lifecycle of one engagement kind."""

    kind: EngagementKind
    title: str
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    _by_name: dict[str, StateSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {state.name: state for state in self.states})

    @property
    def initial(self) -> str:
        """The name of the initial state."""
        return next(state.name for state in self.states if state.initial)

    def state(self, name: str) -> StateSpec:
        """The state called ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise DefinitionError(f"{self.kind}: no state named {name!r}") from None

    @property
    def triggers(self) -> list[str]:
        """Every trigger of the lifecycle, in declaration order."""
        return list(dict.fromkeys(t.trigger for t in self.transitions))

    def transitions_from(self, source: str, trigger: str | None = None) -> list[TransitionSpec]:
        """The transitions possible from ``source`` (for ``trigger`` only, when given)."""
        return [t for t in self.transitions if source in t.sources and (trigger is None or t.trigger == trigger)]


def with_wait_steps(states: tuple[StateSpec, ...], transitions: tuple[TransitionSpec, ...]) -> tuple[TransitionSpec, ...]:
    """Add the ``remind`` and ``escalate`` steps the reminder sweep fires in every waiting state."""
    waiting = tuple(state.name for state in states if state.wait)
    if not waiting:
        return transitions
    system = frozenset({Role.SYSTEM})
    return transitions + (
        TransitionSpec(
            "remind", waiting, None, system, N_("Remind whoever the engagement waits on"),
            effects=("count_reminder",), notify=(Notify(NotificationType.REMINDER, Recipient.WAITED_ON),),
        ),
        TransitionSpec(
            "escalate", waiting, None, system, N_("Tell the secretariat that reminders went unanswered"),
            effects=("mark_escalated",), notify=(Notify(NotificationType.ESCALATION, Recipient.SECRETARIAT),),
        ),
    )


def validate_lifecycle(lifecycle: Lifecycle, *, guards: set[str] | None = None, effects: set[str] | None = None) -> None:
    """Refuse an inconsistent lifecycle with a message naming the state or trigger at fault.

    The names of guards and effects are checked when ``guards`` and ``effects`` are given: by
    ``states.machines``, which runs them (their modules need the database layer).
    """
    kind = lifecycle.kind
    names = [state.name for state in lifecycle.states]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise DefinitionError(f"{kind}: state(s) declared twice: {', '.join(sorted(duplicates))}")
    initial = [state.name for state in lifecycle.states if state.initial]
    if len(initial) != 1:
        raise DefinitionError(f"{kind}: needs exactly one initial state, found {len(initial)}: {initial}")
    known = set(names)
    for transition in lifecycle.transitions:
        for name in (*transition.sources, *([transition.dest] if transition.dest else [])):
            if name not in known:
                raise DefinitionError(f"{kind}: trigger {transition.trigger!r} names unknown state {name!r}")
        if not transition.roles:
            raise DefinitionError(f"{kind}: trigger {transition.trigger!r} has no role allowed to fire it")
        for guard in transition.guards if guards is not None else ():
            if guard not in guards:
                raise DefinitionError(f"{kind}: trigger {transition.trigger!r} uses unknown guard {guard!r}")
        for effect in transition.effects if effects is not None else ():
            if effect not in effects:
                raise DefinitionError(f"{kind}: trigger {transition.trigger!r} uses unknown effect {effect!r}")
    _check_graph(lifecycle)
    _check_waits(lifecycle)
    _check_follow_ups(lifecycle)


def _check_graph(lifecycle: Lifecycle) -> None:
    kind = lifecycle.kind
    for state in lifecycle.states:
        outgoing = lifecycle.transitions_from(state.name)
        if state.final and outgoing:
            raise DefinitionError(f"{kind}: final state {state.name!r} has a way out ({outgoing[0].trigger!r})")
        if not state.final and not any(t.dest not in (None, state.name) for t in outgoing):
            raise DefinitionError(f"{kind}: state {state.name!r} is not final but has no way out")
    reached = {lifecycle.initial}
    queue = deque(reached)
    while queue:
        for transition in lifecycle.transitions_from(queue.popleft()):
            if transition.dest and transition.dest not in reached:
                reached.add(transition.dest)
                queue.append(transition.dest)
    for state in lifecycle.states:
        if state.name not in reached:
            raise DefinitionError(f"{kind}: state {state.name!r} cannot be reached from {lifecycle.initial!r}")


def _check_waits(lifecycle: Lifecycle) -> None:
    for state in lifecycle.states:
        wait = state.wait
        if wait is None:
            continue
        if state.final:
            raise DefinitionError(f"{lifecycle.kind}: final state {state.name!r} cannot wait on anyone")
        if (wait.expire_after is None) != (wait.expire_trigger is None):
            raise DefinitionError(f"{lifecycle.kind}: state {state.name!r} needs both expire_after and expire_trigger, or neither")
        if wait.expire_trigger and not any(
            Role.SYSTEM in t.roles and t.dest for t in lifecycle.transitions_from(state.name, wait.expire_trigger)
        ):
            raise DefinitionError(
                f"{lifecycle.kind}: state {state.name!r} expires by {wait.expire_trigger!r}, "
                "which the system cannot fire from there"
            )


def _check_follow_ups(lifecycle: Lifecycle) -> None:
    for state in lifecycle.states:
        if state.then and not any(
            Role.SYSTEM in t.roles and t.dest not in (None, state.name)
            for t in lifecycle.transitions_from(state.name, state.then)
        ):
            raise DefinitionError(
                f"{lifecycle.kind}: state {state.name!r} is followed by {state.then!r}, "
                "which the system cannot fire from there to another state"
            )
