"""Lifecycle declarations, their validation, the shared machines and the diagrams: no database."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from models.enums import EngagementKind, Role
from states.diagram import mermaid
from states.effects import EFFECTS
from states.errors import DefinitionError
from states.guards import GUARDS
from states.lifecycles import LIFECYCLES, get_lifecycle
from states.machines import StateHolder, machine_for
from states.spec import Lifecycle, StateSpec, TransitionSpec, validate_lifecycle

STAFF = frozenset({Role.SECRETARIAT})


def check(lifecycle: Lifecycle) -> None:
    validate_lifecycle(lifecycle, guards=set(GUARDS), effects=set(EFFECTS))


def small(states: list[StateSpec], transitions: list[TransitionSpec]) -> Lifecycle:
    return Lifecycle(EngagementKind.ACHIEVEMENT, "test", tuple(states), tuple(transitions))


def test_all_eight_kinds_have_a_valid_lifecycle() -> None:
    assert set(LIFECYCLES) == {kind.value for kind in EngagementKind}
    for lifecycle in LIFECYCLES.values():
        check(lifecycle)


def test_every_seed_step_is_present() -> None:
    dialogue = get_lifecycle("national_dialogue")
    assert {"planned", "convened", "held", "report_submitted", "under_review", "published", "cancelled"} <= {
        s.name for s in dialogue.states}
    invitation = get_lifecycle("swg_presentation")
    assert {"proposed", "awaiting_approval", "approved", "declined", "invitation_sent", "accepted",
            "declined_by_partner", "expired", "presented", "published", "withdrawn"} <= {s.name for s in invitation.states}
    assert [t.dest for t in get_lifecycle("toolkit_launch").transitions if t.trigger in {"present", "launch"}] == [
        "presented", "launched"]


@pytest.mark.parametrize(
    ("states", "transitions", "message"),
    [
        ([StateSpec("a", ""), StateSpec("b", "", final=True)], [TransitionSpec("go", ("a",), "b", STAFF)],
         "exactly one initial state"),
        ([StateSpec("a", "", initial=True), StateSpec("b", "", initial=True, final=True)],
         [TransitionSpec("go", ("a",), "b", STAFF)], "exactly one initial state"),
        ([StateSpec("a", "", initial=True), StateSpec("b", "", final=True), StateSpec("island", "", final=True)],
         [TransitionSpec("go", ("a",), "b", STAFF)], "state 'island' cannot be reached"),
        ([StateSpec("a", "", initial=True), StateSpec("stuck", "")],
         [TransitionSpec("go", ("a",), "stuck", STAFF)], "state 'stuck' is not final but has no way out"),
        ([StateSpec("a", "", initial=True), StateSpec("end", "", final=True)],
         [TransitionSpec("go", ("a",), "end", STAFF), TransitionSpec("back", ("end",), "a", STAFF)],
         "final state 'end' has a way out"),
        ([StateSpec("a", "", initial=True), StateSpec("end", "", final=True)],
         [TransitionSpec("go", ("a",), "nowhere", STAFF)], "names unknown state 'nowhere'"),
        ([StateSpec("a", "", initial=True), StateSpec("end", "", final=True)],
         [TransitionSpec("go", ("a",), "end", STAFF, guards=("moon_is_full",))], "unknown guard 'moon_is_full'"),
        ([StateSpec("a", "", initial=True), StateSpec("end", "", final=True)],
         [TransitionSpec("go", ("a",), "end", frozenset())], "no role allowed"),
    ],
)
def test_broken_definitions_are_refused_naming_the_fault(states, transitions, message) -> None:  # noqa: ANN001
    with pytest.raises(DefinitionError, match=message):
        check(small(states, transitions))


def test_a_waiting_state_must_be_able_to_expire_as_it_says() -> None:
    dialogue = get_lifecycle("national_dialogue")
    broken = replace(dialogue, transitions=tuple(
        replace(t, roles=STAFF) if t.trigger == "close_unreported" else t for t in dialogue.transitions))
    with pytest.raises(DefinitionError, match="state 'held' expires by 'close_unreported'"):
        check(broken)


def test_one_shared_machine_per_kind_with_no_models_attached() -> None:
    for kind in LIFECYCLES:
        machine = machine_for(kind)
        assert machine is machine_for(kind)
        assert machine.models == []


def test_the_machine_moves_a_stand_in_and_keeps_nothing_of_it() -> None:
    machine = machine_for("toolkit_launch")
    holder, ctx = StateHolder("presented"), SimpleNamespace(fired=None)
    assert machine.events["launch"].trigger(holder, ctx=ctx)
    assert holder.state == "launched"
    assert ctx.fired.trigger == "launch"
    assert machine.models == []


def test_waiting_states_get_remind_and_escalate_steps_for_the_system_only() -> None:
    for lifecycle in LIFECYCLES.values():
        for state in lifecycle.states:
            steps = {t.trigger: t for t in lifecycle.transitions_from(state.name) if t.trigger in {"remind", "escalate"}}
            if state.wait:
                assert set(steps) == {"remind", "escalate"}
                assert all(t.roles == {Role.SYSTEM} and t.dest is None for t in steps.values())
            else:
                assert not steps


@pytest.mark.parametrize("kind", sorted(LIFECYCLES))
def test_diagram_draws_every_state_and_step(kind: str) -> None:
    lifecycle = get_lifecycle(kind)
    text = mermaid(lifecycle)
    assert text.startswith("stateDiagram-v2\n")
    assert f"[*] --> {lifecycle.initial}" in text
    for state in lifecycle.states:
        assert state.name in text
        if state.final:
            assert f"{state.name} --> [*]" in text
    for transition in lifecycle.transitions:
        if transition.trigger not in {"remind", "escalate"}:
            assert f": {transition.trigger} (" in text


def test_every_named_data_schema_is_an_input_model() -> None:
    from pydantic import BaseModel

    from states.lifecycles import LIFECYCLES

    named = [(kind, t.trigger, t) for kind, lifecycle in LIFECYCLES.items() for t in lifecycle.transitions
             if t.data_schema is not None]
    assert named, "some triggers carry data"
    for kind, trigger, transition in named:
        model = transition.data_model()
        assert isinstance(model, type) and issubclass(model, BaseModel), f"{kind}.{trigger}: {transition.data_schema}"
