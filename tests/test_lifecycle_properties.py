"""Random trigger sequences by random actors never leave the declared graph, and the audit log replays."""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from models import Engagement, TransitionLog
from models.db import Database
from states.errors import EngageError
from states.lifecycles import LIFECYCLES, get_lifecycle
from states.workflow import apply_transition
from tests.world import (
    CANADA_CHAIR, FRANCE_CHAIR, INCB_CHAIR, MEXICO, META, OUTCOME, QUIMICA, REPORT, SECRETARIAT, SYSTEM, UNODC_CHAIR, clock_at,
    new_engagement, seeded,
)

ACTORS = [
    SECRETARIAT, SYSTEM, MEXICO, META, QUIMICA, FRANCE_CHAIR, UNODC_CHAIR, CANADA_CHAIR,
    {"role": "partner", "identity": "cdubois@atlantique-maritime.example"},
    {"role": "partner", "identity": "lherrera@bancocontinental.example"},
    {"role": "partner", "identity": "stranger@nowhere.example"},
]
DATA = {"submit_report": REPORT, "record_outcome": OUTCOME}
PARTNER_OF = {
    "national_dialogue": QUIMICA, "swg_presentation": META, "alliance_meeting": META, "achievement": META,
    "toolkit_launch": {"role": "partner", "identity": "partnerships@unodc.example"}, "recommendation": QUIMICA,
    "website_submission": {"role": "partner", "identity": "cdubois@atlantique-maritime.example"},
    "private_sector_forum": {"role": "partner", "identity": "lherrera@bancocontinental.example"},
}


@pytest.fixture(scope="module")
def seeded_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "seeded.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    seeded(database)
    database.dispose()
    return path


def machine_test(kind: str, template: Path) -> type[RuleBasedStateMachine]:
    lifecycle = get_lifecycle(kind)

    class LifecycleWalk(RuleBasedStateMachine):
        @initialize()
        def create(self) -> None:
            self.folder = tempfile.mkdtemp()
            shutil.copyfile(template, f"{self.folder}/engage.db")
            self.db = Database(f"sqlite:///{self.folder}/engage.db")
            self.clock = clock_at(2024, 1, 10)
            # SWG 1.1 decides by "any" co-chair, so walks get past approval as often as they are refused.
            overrides = {"swg_code": "1.1"} if kind == "swg_presentation" else {}
            self.id = new_engagement(self.db, kind, self.clock, **overrides)

        def state(self) -> str:
            with self.db.sessions() as session:
                return session.get(Engagement, self.id).state

        def fitting_actor(self, trigger: str, before: str, draw: st.DataObject) -> dict[str, str]:
            roles = sorted({role.value for t in lifecycle.transitions_from(before, trigger) for role in t.roles})
            fitting = {"secretariat": [SECRETARIAT], "system": [SYSTEM], "national_authority": [MEXICO],
                       "co_chair": [CANADA_CHAIR, INCB_CHAIR], "partner": [PARTNER_OF[kind]]}
            choices = [actor for role in roles for actor in fitting[role]]
            return draw.draw(st.sampled_from(choices or ACTORS) if draw.draw(st.integers(0, 4)) else st.sampled_from(ACTORS))

        @rule(data=st.data(), comment=st.none() | st.just("reason given"), days=st.integers(0, 20))
        def fire(self, data: st.DataObject, comment: str | None, days: int) -> None:
            self.clock.advance(timedelta(days=days))
            before = self.state()
            possible = sorted({t.trigger for t in lifecycle.transitions_from(before)})
            biased = data.draw(st.integers(0, 4)) and possible
            trigger = data.draw(st.sampled_from(possible if biased else lifecycle.triggers))
            actor = self.fitting_actor(trigger, before, data)
            try:
                outcome = apply_transition(self.db, self.id, trigger, actor, comment=comment, data=DATA.get(trigger),
                                           clock=self.clock)
            except EngageError:
                assert self.state() == before
                return
            assert outcome.from_state == before
            declared = {t.dest or before for t in lifecycle.transitions_from(before, trigger)}
            assert outcome.to_state in declared
            assert self.state() == outcome.final_state  # after the step the new state is followed by, if any

        @invariant()
        def audit_replays_to_the_current_state(self) -> None:
            if not hasattr(self, "db"):
                return
            with self.db.sessions() as session:
                logs = session.scalars(select(TransitionLog).where(TransitionLog.engagement_id == self.id)
                                       .order_by(TransitionLog.id)).all()
                current = session.get(Engagement, self.id)
            assert logs[0].to_state == lifecycle.initial
            state = logs[0].to_state
            for log in logs[1:]:
                assert log.from_state == state
                assert any(t.dest in (log.to_state, None) for t in lifecycle.transitions_from(state, log.trigger))
                state = log.to_state
            assert state == current.state
            assert current.version == len(logs)

        def teardown(self) -> None:
            if hasattr(self, "db"):
                self.db.dispose()
                shutil.rmtree(self.folder, ignore_errors=True)

    return LifecycleWalk


@pytest.mark.parametrize("kind", sorted(LIFECYCLES))
def test_random_walks_stay_in_the_declared_graph(kind: str, seeded_template: Path) -> None:
    walk = machine_test(kind, seeded_template)
    walk.TestCase.settings = settings(
        max_examples=15, stateful_step_count=20, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    walk.TestCase().runTest()
