"""Sweep, publication and dispatch flows against the session's Prefect API."""

from __future__ import annotations

import asyncio
import mailbox
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import OutboxMessage
from states.workflow import apply_transition
from tests.world import awaiting_approval

pytestmark = pytest.mark.prefect
STAFF = {"role": "secretariat", "identity": "staff@state.example"}


def test_sweep_flow_idempotent_with_artifact_and_mail(prefect_api, runtime, mail_port):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.sweep import sweep_flow

    engagement = awaiting_approval(runtime.db, runtime.clock)
    before = len(mailbox.Maildir(mail_port[1]))
    moment = runtime.clock.now() + timedelta(days=7)
    first = asyncio.run(sweep_flow(now=moment))
    assert [item["engagement_id"] for item in first["reminded"]] == [engagement]
    assert first["delivered"]["sent"] >= 3  # approval requests and the reminders, over SMTP
    second = asyncio.run(sweep_flow(now=moment))
    assert second["reminded"] == [] and second["notifications"] == 0
    with runtime.db.transaction() as session:
        reminders = session.scalar(select(func.count()).select_from(OutboxMessage)
                                   .where(OutboxMessage.notification_type == "reminder"))
    assert reminders == 3
    assert len(mailbox.Maildir(mail_port[1])) - before == first["delivered"]["sent"]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["reminder-sweep"])))
    assert artifacts and any("remind" in str(artifact.data) for artifact in artifacts)


def test_publication_flow_and_dispatch_flow(prefect_api, runtime):
    from flows.dispatch import dispatch_flow
    from flows.publication import publication_flow

    engagement = awaiting_approval(runtime.db, runtime.clock)
    apply_transition(runtime.db, engagement, "approve", {"role": "co_chair", "identity": "swg31.nigeria@cochairs.example"}, clock=runtime.clock)
    apply_transition(runtime.db, engagement, "approve", {"role": "co_chair", "identity": "swg31.who@cochairs.example"}, clock=runtime.clock)
    apply_transition(runtime.db, engagement, "accept", {"role": "partner", "identity": "cdubois@atlantique-maritime.example"}, clock=runtime.clock)
    apply_transition(runtime.db, engagement, "record_presentation", STAFF, clock=runtime.clock)
    apply_transition(runtime.db, engagement, "publish", STAFF, clock=runtime.clock)
    sent = asyncio.run(dispatch_flow())
    assert sent["sent"] > 0 and asyncio.run(dispatch_flow())["sent"] == 0
    page = runtime.settings.site_dir / "swg_presentation" / f"{engagement}.html"
    result = asyncio.run(publication_flow())
    assert result["items"] == 1 and page.exists()
    assert asyncio.run(publication_flow())["written"] == []  # idempotent
    apply_transition(runtime.db, engagement, "unpublish", STAFF, clock=runtime.clock)
    removed = asyncio.run(publication_flow())["removed"]
    assert f"swg_presentation/{engagement}.html" in removed and f"fr/swg_presentation/{engagement}.html" in removed
    assert not page.exists()
