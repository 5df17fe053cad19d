"""One transaction per page: every GET of the desk, the accounts and the forms reads in at most one transaction,
on SQLite and PostgreSQL, and a page that fails rolls it back and leaves none open."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from models import Organization
from models.db import Database
from models.enums import NotificationType
from portal import desk
from states.opt_outs import unsubscribe_token
from tests.portal.portal_world import PortalWorld, awaiting_approval, csrf_of
from tests.portal.test_desk import CO_CHAIR, DESK_PAGES, create, sign_in, staff
from tests.world import new_engagement

SENDER = {"organization": "Atlantique Maritime", "email": "cdubois@atlantique-maritime.example", "title": "Director"}
EVENTS = ("begin", "commit", "rollback")


@contextmanager
def transactions(world: PortalWorld) -> Iterator[Counter[str]]:
    """How many transactions the portal's engine begins, commits and rolls back meanwhile."""
    counted: Counter[str] = Counter()
    listeners = [(name, lambda *_args, name=name: counted.update([name])) for name in EVENTS]
    for name, listener in listeners:
        event.listen(world.db.engine, name, listener)
    try:
        yield counted
    finally:
        for name, listener in listeners:
            event.remove(world.db.engine, name, listener)


def _get(world: PortalWorld, path: str) -> tuple[int, Counter[str]]:
    with transactions(world) as counted:
        status = world.client.get(path, follow_redirects=False).status_code
    assert world.db.engine.pool.checkedout() == 0, path  # no connection (nor its transaction) is left open
    return status, counted


def _one_transaction_each(world: PortalWorld, paths: list[str]) -> None:
    for path in paths:
        status, counted = _get(world, path)
        assert status in (200, 404), (path, status)
        assert counted["begin"] <= 1 and counted["commit"] == counted["begin"] and not counted["rollback"], (path, counted)


def test_every_desk_page_reads_in_one_transaction(world: PortalWorld) -> None:
    engagement = awaiting_approval(world)
    new_engagement(world.db, "achievement", world.clock)
    staff(world)
    pages = [path.replace("/engagements/1", f"/engagements/{engagement}") for path in DESK_PAGES]
    _one_transaction_each(world, [*pages, "/desk/engagements?state=draft&sort=newest", "/desk/new/dialogue",
                                  "/desk/engagements/999999"])
    assert _get(world, "/desk")[1]["begin"] == 1


def test_every_account_and_form_page_reads_in_one_transaction(world: PortalWorld) -> None:
    world.clock.set(datetime(2024, 4, 10, 9, tzinfo=timezone.utc))
    awaiting_approval(world)
    page = world.client.get("/submit/recommendation")
    sent = world.client.post("/submit/recommendation", data={
        **SENDER, "csrf": csrf_of(page.text), "topic": "information_sharing", "text": "A shared alert list"})
    assert sent.status_code == 200
    unsubscribe = unsubscribe_token(world.settings.signing_key(), SENDER["email"], NotificationType.REMINDER.value,
                                    world.clock.now() + timedelta(days=30))
    token = csrf_of(world.client.get("/signin").text)
    assert world.client.post("/signin", data={"csrf": token, "email": CO_CHAIR}).status_code == 200
    _one_transaction_each(world, [
        "/submit", "/submit/recommendation", "/submit/nothing", world.link_of(SENDER["email"], "submission_confirmation"),
        f"/unsubscribe/{unsubscribe}", f"/files/{'0' * 64}.pdf", world.link_of(CO_CHAIR, "sign_in"),
    ])
    sign_in(world, CO_CHAIR)
    _one_transaction_each(world, ["/pending"])
    assert _get(world, "/pending")[1]["begin"] == 1


def test_a_page_that_fails_midway_rolls_back_and_leaves_no_transaction_open(
        world: PortalWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    staff(world)
    read = desk.claims

    def fails(*args: object, **kwargs: object) -> object:
        read(*args, **kwargs)  # a statement of the page's transaction, then a failure
        raise RuntimeError("the page fails after reading")

    monkeypatch.setattr(desk, "claims", fails)
    status, counted = _get(world, "/desk")
    assert status == 500 and counted == Counter(begin=1, rollback=1)
    monkeypatch.undo()
    status, counted = _get(world, "/desk")
    assert status == 200 and counted == Counter(begin=1, commit=1)
    assert create(world, "achievement")  # a write over the connections the pages read through


def test_a_page_held_open_holds_up_no_writer_and_cannot_write(db: Database) -> None:
    written = threading.Event()

    def write() -> None:  # another thread: its own transaction, not the page's
        with db.transaction() as session:
            session.add(Organization(name="Written meanwhile", type="private"))
        written.set()

    with db.request():
        with db.transaction() as session:
            assert session.scalar(select(func.count()).select_from(Organization)) == 0
        writer = threading.Thread(target=write)
        writer.start()
        assert written.wait(5)  # SQLite's busy timeout is 30 s: the page holds no write lock
        writer.join()
        if db.dialect == "sqlite":  # a page that tried to write would fail, every time, not only under load
            with pytest.raises(OperationalError, match="readonly"), db.transaction() as session:
                session.add(Organization(name="Written by a page", type="private"))
                session.flush()
    with db.transaction() as session:
        session.add(Organization(name="Written after", type="private"))
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Organization)) == 2
