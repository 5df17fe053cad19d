"""Attacks on the public door: outside bytes, limits across processes and machines, sessions and sign-in.

Each test is one failure an outside attack harness found against `engage serve` (SQLite and PostgreSQL,
``--workers 2``), kept so that it cannot come back; the property test at the end throws arbitrary
bytes at every route's path, form fields and cookies.
"""

from __future__ import annotations

import math
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from threading import Barrier
from urllib.parse import quote_from_bytes

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from sqlalchemy import func, select

from models import Base, OutboxMessage, PortalSession
from models.db import Database
from notifications.action_urls import action_url
from notifications.mail_extras import mail_extras
from portal.app import create_app
from portal.security import CSRF_COOKIE, SESSION_COOKIE
from portal.server import running_portal
from settings import Settings
from states.action_links import FORGED
from tests.portal.portal_world import BASE_URL, PortalWorld, awaiting_approval, csrf_of
from tests.world import clock_at, seeded

ROOT = Path(__file__).resolve().parents[2]
UNODC = "swg22.unodc@cochairs.example"
FORM = {"content-type": "application/x-www-form-urlencoded"}
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-store"}
CSP_DIRECTIVES = ("default-src 'none'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'")
PATH_VALUES = {"token": "x" * 43, "form": "recommendation", "engagement_id": "1", "name": "0" * 64 + ".pdf",
               "trigger": "publish", "job": "dispatch", "kind": "recommendation", "message_id": "1",
               "organization_id": "1"}


def assert_safe(response: httpx.Response) -> None:
    """No server error, and every security header on the answer."""
    assert response.status_code < 500, (response.request.url, response.status_code, response.text[:200])
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)
    policy = response.headers.get("content-security-policy", "")
    assert all(directive in policy for directive in CSP_DIRECTIVES), (response.request.url, policy)


def routes(client: TestClient) -> list[tuple[str, str, list[str]]]:
    """(method, path template, path parameters) of every route of the portal."""
    found = []
    pending = list(client.app.routes)
    while pending:
        route = pending.pop(0)
        if isinstance(route, APIRoute):
            params = [param.name for param in route.dependant.path_params]
            found += [(method, route.path, params) for method in sorted(route.methods - {"HEAD"})]
        elif hasattr(route, "original_router"):  # an included router (no prefix in the portal)
            pending += route.original_router.routes
    return found


def post_paths(client: TestClient) -> list[str]:
    """Every POST route, its path parameters filled so that the request reaches the route's checks."""
    return [path.format(**PATH_VALUES) for method, path, _ in routes(client) if method == "POST"]


def sign_in(world: PortalWorld, client: TestClient, email: str = UNODC) -> str:
    """Sign ``email`` in on ``client`` through a mailed link; the session cookie's value."""
    answer = client.post("/signin", data={"csrf": csrf_of(client.get("/signin").text), "email": email})
    assert answer.status_code == 200
    path = world.link_of(email, "sign_in")
    done = client.post(path, data={"csrf": csrf_of(client.get(path).text)}, follow_redirects=False)
    assert done.status_code == 303
    return done.cookies[SESSION_COOKIE]


def sign_in_mails(world: PortalWorld, email: str) -> int:
    with world.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.recipient_address == email, OutboxMessage.notification_type == "sign_in"))


@contextmanager
def portal_client(world: PortalWorld, **changes: object) -> Iterator[TestClient]:
    """Another portal over the world's database and clock, with ``changes`` to its settings."""
    settings = world.settings.model_copy(update=changes)
    with TestClient(create_app(settings, world.db, world.clock), base_url=BASE_URL) as client:
        yield client


# --- 1. No 500 from any outside byte; the headers on every answer ---

@pytest.mark.parametrize("body", [b"csrf=%C3%A9&email=a%40b.example&action=approve", b"csrf=\xff\xfe\xe9&email=\xe9",
                                  "csrf=é".encode(), b"csrf=" + b"%E9" * 64])
def test_a_non_ascii_or_invalid_utf8_csrf_field_is_refused_on_every_post_route(world: PortalWorld, body: bytes) -> None:
    sign_in(world, world.client)  # so that the co-chair's routes reach their CSRF check too
    before = world.counts()
    paths = post_paths(world.client)
    assert len(paths) >= 8, paths
    for path in paths:
        response = world.client.post(path, content=body, headers=FORM)
        assert_safe(response)
        assert response.status_code in (403, 404), (path, response.status_code)
    assert world.counts() == before


def test_a_non_ascii_unsubscribe_token_is_not_found(world: PortalWorld) -> None:
    for path in ("/unsubscribe/abc.é", "/unsubscribe/abc.%FF", "/unsubscribe/" + "é" * 40 + "." + "é" * 32):
        for response in (world.client.get(path), world.client.post(path, data={"List-Unsubscribe": "One-Click"})):
            assert_safe(response)
            assert response.status_code == 404 and "not valid" in response.text


def test_a_session_cookie_holding_non_ascii_bytes_is_no_session(world: PortalWorld) -> None:
    for cookie in (b"engage_session=\xc3\xa9", b"engage_session=\xe9|co_chair|9999999999|\xff",
                   b"engage_session=" + b"\xe9" * 43 + b"; engage_csrf=\xe9"):
        headers = {"cookie": cookie}
        for path in ("/pending", "/desk"):
            response = world.client.get(path, headers=headers, follow_redirects=False)
            assert_safe(response)
            assert response.status_code == 303 and response.headers["location"] == "/signin"
        response = world.client.post("/pending/1", headers={**headers, **FORM}, content=b"csrf=x&action=approve")
        assert_safe(response)
        assert response.status_code == 401


def test_an_unexpected_error_answers_a_plain_500_with_the_security_headers(world: PortalWorld) -> None:
    def broken() -> None:
        raise RuntimeError("a secret detail of the failure")

    world.client.app.add_api_route("/broken", broken)
    response = world.client.get("/broken")
    assert response.status_code == 500 and response.headers["content-type"].startswith("text/plain")
    assert "secret detail" not in response.text
    assert_safe_headers_only(response)


def assert_safe_headers_only(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert all(directive in response.headers["content-security-policy"] for directive in CSP_DIRECTIVES)


def test_413_429_and_404_carry_the_security_headers(world: PortalWorld) -> None:
    token = csrf_of(world.client.get("/signin").text)
    early = world.client.post("/signin", content=b"email=" + b"a" * (65 * 1024), headers=FORM)  # refused by its length
    assert early.status_code == 413
    assert_safe_headers_only(early)
    streamed = world.client.post("/signin", content=iter([b"email=", b"a" * (65 * 1024)]), headers=FORM)  # no length
    assert streamed.status_code == 413
    assert_safe_headers_only(streamed)
    missing = world.client.get("/nowhere")
    assert missing.status_code == 404
    assert_safe(missing)
    answers = [world.client.post("/signin", data={"csrf": token, "email": f"n{i}@example.org"}) for i in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert_safe(answers[-1])


# --- 2. Limits across processes and machines ---

def test_behind_a_trusted_proxy_each_client_counts_for_itself(world: PortalWorld) -> None:
    with portal_client(world, trusted_proxies=["testclient", "10.0.0.0/8"]) as client:
        token = csrf_of(client.get("/signin").text)

        def ask(client_address: str, n: int) -> int:
            headers = {"x-forwarded-for": f"{client_address}, 10.1.2.3"}  # the client, then an inner proxy
            return client.post("/signin", data={"csrf": token, "email": f"n{n}@example.org"}, headers=headers).status_code

        assert [ask("198.51.100.7", n) for n in range(6)] == [200] * 5 + [429]
        assert ask("198.51.100.8", 6) == 200  # another client behind the same proxy is not locked out


def test_forwarded_headers_from_anyone_else_count_for_nothing(world: PortalWorld) -> None:
    token = csrf_of(world.client.get("/signin").text)  # the world's portal trusts no proxy
    statuses = [world.client.post("/signin", data={"csrf": token, "email": f"n{n}@example.org"},
                                  headers={"x-forwarded-for": f"203.0.113.{n}"}).status_code for n in range(6)]
    assert statuses == [200] * 5 + [429]


def test_many_clients_cannot_flood_or_lock_out_one_address(world: PortalWorld) -> None:
    with portal_client(world, trusted_proxies=["testclient"]) as client:
        token = csrf_of(client.get("/signin").text)
        answers = [client.post("/signin", data={"csrf": token, "email": UNODC},
                               headers={"x-forwarded-for": f"198.51.100.{n}"}) for n in range(8)]
        assert {a.status_code for a in answers} == {200}  # the same answer, whatever the count
        assert len({a.text.replace(a.cookies.get(CSRF_COOKIE, ""), "") for a in answers}) == 1
        assert sign_in_mails(world, UNODC) == 5  # at most 5 links an hour to one address
        with world.db.transaction() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_address == UNODC)).all()
    # every one of those links is the owner's: whoever asked, the co-chair can sign in with any of them
    paths = {action_url(row.context, row.dedupe_key, world.settings).removeprefix(BASE_URL) for row in rows}
    assert len(paths) == 5
    for path in paths:
        with portal_client(world) as owner:
            done = owner.post(path, data={"csrf": csrf_of(owner.get(path).text)}, follow_redirects=False)
            assert done.status_code == 303 and done.headers["location"] == "/pending"
    world.clock.advance(timedelta(hours=1))
    with portal_client(world) as client:
        client.post("/signin", data={"csrf": csrf_of(client.get("/signin").text), "email": UNODC})
    assert sign_in_mails(world, UNODC) == 6  # a new hour, a new allowance


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_sign_in_limit_holds_across_two_worker_processes(postgres_db: Database, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ENGAGE_DATA_DIR": str(tmp_path), "ENGAGE_DATABASE_URL": postgres_db.url,
           "ENGAGE_SECRET_KEY": "k" * 48, "ENGAGE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen([sys.executable, "-c", "from cli.app import main; main()", "serve", "--port", str(port),
                               "--workers", "2"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/signin", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "engage serve did not start"
            time.sleep(0.2)
        time.sleep(1)  # both workers up
        if time.time() % 60 > 40:  # the 12 tries must fall in one fixed minute
            time.sleep(61 - time.time() % 60)
        statuses = []
        for n in range(12):
            with httpx.Client(base_url=base, timeout=30) as client:  # a new connection each time: either worker
                token = csrf_of(client.get("/signin").text)
                statuses.append(client.post("/signin", data={"csrf": token, "email": f"n{n}@example.org"}).status_code)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert statuses == [200] * 5 + [429] * 7


# --- 3. Sessions and sign-in ---

def test_16_concurrent_posts_of_one_sign_in_link_give_one_session(postgres_db: Database, tmp_path: Path) -> None:
    db = seeded(postgres_db)
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="k" * 48, public_base_url=BASE_URL)
    clock = clock_at(2024, 2, 1)
    world = PortalWorld(db, settings, clock, client=None)  # type: ignore[arg-type]
    with running_portal(settings, db, clock) as base:
        with httpx.Client(base_url=base) as asker:
            asker.post("/signin", data={"csrf": csrf_of(asker.get("/signin").text), "email": UNODC})
        deadline = time.monotonic() + 10
        while not sign_in_mails(world, UNODC):  # queued just after the answer went out
            assert time.monotonic() < deadline, "no sign-in link was queued"
            time.sleep(0.02)
        path = world.link_of(UNODC, "sign_in")
        barrier = Barrier(16)

        def post(_: int) -> int:
            with httpx.Client(base_url=base, timeout=60) as client:
                token = csrf_of(client.get(path).text)
                barrier.wait(timeout=60)
                return client.post(path, data={"csrf": token}, follow_redirects=False).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(post, range(16)))
    assert sorted(statuses) == [303] + [409] * 15
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PortalSession)) == 1


def test_sign_out_revokes_the_session_and_sessions_expire(world: PortalWorld) -> None:
    cookie = sign_in(world, world.client)
    assert world.client.get("/pending").status_code == 200
    assert world.client.post("/signout", data={"csrf": csrf_of(world.client.get("/pending").text)},
                             follow_redirects=False).status_code == 303
    with portal_client(world) as thief:  # the cookie, kept by someone after sign-out
        thief.cookies.set(SESSION_COOKIE, cookie)
        assert thief.get("/pending", follow_redirects=False).status_code == 303
    with world.db.transaction() as session:
        assert session.scalar(select(PortalSession.revoked_at)) == world.clock.now()
    cookie = sign_in(world, world.client)
    world.clock.advance(timedelta(hours=world.settings.session_hours, seconds=1))
    assert world.client.get("/pending", follow_redirects=False).status_code == 303
    assert len(cookie) == 43 and UNODC not in cookie  # the cookie holds a random id, nothing else


def test_the_csrf_nonce_is_rotated_at_sign_in(world: PortalWorld) -> None:
    world.client.get("/signin")
    planted = world.client.cookies[CSRF_COOKIE]
    sign_in(world, world.client)
    assert world.client.cookies[CSRF_COOKIE] != planted
    with portal_client(world) as attacker:  # a form signed for the planted nonce is refused
        attacker.cookies.set(CSRF_COOKIE, planted)
        token = csrf_of(attacker.get("/signin").text)
    refused = world.client.post("/signout", data={"csrf": token}, follow_redirects=False)
    assert refused.status_code == 403


def test_a_decision_token_is_not_a_sign_in_link(world: PortalWorld) -> None:
    awaiting_approval(world)
    decision = world.link_of(UNODC, "approval_request").removeprefix("/a/")
    before = world.counts()
    for response in (world.client.get(f"/signin/{decision}"),
                     world.client.post(f"/signin/{decision}", data={"csrf": csrf_of(world.client.get("/signin").text)})):
        assert response.status_code == 404 and UNODC not in response.text and "not valid" in response.text
        unknown = world.client.get("/signin/" + "A" * 43)
        assert unknown.status_code == 404 and FORGED.html("en").split(":")[0] in unknown.text \
            and FORGED.html("en").split(":")[0] in response.text
    assert world.counts() == before
    with world.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PortalSession)) == 0


def test_a_sign_in_token_altered_in_any_way_or_expired_signs_nobody_in(world: PortalWorld) -> None:
    world.client.post("/signin", data={"csrf": csrf_of(world.client.get("/signin").text), "email": UNODC})
    path = world.link_of(UNODC, "sign_in")
    token = path.removeprefix("/signin/")
    csrf = csrf_of(world.client.get(path).text)
    before = world.counts()
    altered = [token[:-1], token + "A", token.swapcase(), token + "=", quote_from_bytes(token.encode(), safe=""),
               "%" + token.encode().hex()[:40], token.replace("-", "+").replace("_", "/")]
    for variant in [v for v in altered if v != token]:
        for response in (world.client.post(f"/signin/{variant}", data={"csrf": csrf}, follow_redirects=False),
                         world.client.head(f"/signin/{variant}"), world.client.options(f"/signin/{variant}")):
            assert_safe_headers_only(response)
            assert response.status_code in (404, 405), (variant, response.status_code)
    assert world.client.head(path).status_code in (200, 405) and world.client.options(path).status_code == 405
    world.clock.advance(timedelta(hours=1))
    expired = world.client.post(path, data={"csrf": csrf}, follow_redirects=False)
    assert expired.status_code == 410 and "expired" in expired.text
    assert world.counts() == before
    with world.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PortalSession)) == 0


def test_unsubscribe_tokens_expire_and_each_mail_carries_a_fresh_one(world: PortalWorld) -> None:
    row = OutboxMessage(recipient_address="policy@meta.example", notification_type="decision", mandatory=False,
                        engagement_id=None, context={})
    first = mail_extras(row, world.settings, world.clock.now())["headers"]["List-Unsubscribe"]
    second = mail_extras(row, world.settings, world.clock.now() + timedelta(days=1))["headers"]["List-Unsubscribe"]
    assert first != second
    path = first.strip("<>").removeprefix(BASE_URL)
    assert world.client.get(path).status_code == 200
    world.clock.advance(timedelta(days=world.settings.unsubscribe_lifetime_days))
    expired = world.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert expired.status_code == 410 and "expired" in expired.text
    assert world.client.get(second.strip("<>").removeprefix(BASE_URL)).status_code == 200


def test_the_unsubscribe_page_speaks_the_contacts_language_and_names_the_notices(world: PortalWorld) -> None:
    row = OutboxMessage(recipient_address="swg22.france@cochairs.example", notification_type="decision",
                        mandatory=False, engagement_id=None, context={})
    path = mail_extras(row, world.settings, world.clock.now())["headers"]["List-Unsubscribe"].strip("<>")
    page = world.client.get(path.removeprefix(BASE_URL))
    assert '<html lang="fr">' in page.text and "avis facultatifs de ce type\u00a0: décisions." in page.text
    done = world.client.post(path.removeprefix(BASE_URL), data={"List-Unsubscribe": "One-Click"})
    assert "ne recevra plus ces courriels\u00a0: décisions." in done.text  # a co-chair is no contact


def mann_whitney_p(first: list[float], second: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, ties given their mean rank)."""
    values = sorted((value, group) for group, sample in enumerate((first, second)) for value in sample)
    ranks: list[float] = [0.0] * len(values)
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1][0] == values[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    n1, n2 = len(first), len(second)
    u = sum(rank for rank, (_, group) in zip(ranks, values) if group == 0) - n1 * (n1 + 1) / 2
    z = (u - n1 * n2 / 2) / math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return math.erfc(abs(z) / math.sqrt(2))


def test_mann_whitney_tells_different_samples_apart() -> None:
    assert mann_whitney_p([float(i) for i in range(50)], [i + 30.0 for i in range(50)]) < 1e-6
    assert mann_whitney_p([float(i) for i in range(50)], [i + 0.5 for i in range(50)]) > 0.5


def test_sign_in_timing_does_not_tell_known_from_unknown_addresses(postgres_db: Database, tmp_path: Path) -> None:
    db = seeded(postgres_db)
    settings = Settings(data_dir=tmp_path, database_url=db.url, secret_key="k" * 48, public_base_url=BASE_URL)
    clock = clock_at(2024, 2, 1)
    asks = ["known"] * 50 + ["unknown"] * 50
    random.Random(18).shuffle(asks)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    with running_portal(settings, db, clock) as base, httpx.Client(base_url=base, timeout=30) as client:
        token = csrf_of(client.get("/signin").text)
        for n, kind in enumerate(["known", "unknown"] * 5 + asks):  # the first ten warm up
            clock.advance(timedelta(hours=1))  # every ask in a new window: no limit spares the known path its work
            email = UNODC if kind == "known" else "nobody@cochairs.example"
            started = time.perf_counter()
            answer = client.post("/signin", data={"csrf": token, "email": email})
            elapsed = time.perf_counter() - started
            assert answer.status_code == 200
            if n >= 10:
                timings[kind].append(elapsed)
    time.sleep(0.5)
    with db.transaction() as session:  # the known asks did mail their links
        mailed = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.recipient_address == UNODC))
    assert mailed == 55
    p = mann_whitney_p(timings["known"], timings["unknown"])
    print(f"sign-in timing: p = {p:.3f}, medians {sorted(timings['known'])[25] * 1000:.1f} ms (known) and "
          f"{sorted(timings['unknown'])[25] * 1000:.1f} ms (unknown)")
    assert p >= 0.01, (p, sorted(timings["known"])[25], sorted(timings["unknown"])[25])


# --- Any byte, any route: no 5xx, the headers, no write ---

def row_counts(db: Database) -> dict[str, int]:
    """Rows of every table but the rate-limit counters (counting a request is what they are for)."""
    with db.transaction() as session:
        return {table.name: session.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables if table.name != "rate_limits"}


SOME_BYTES = st.binary(max_size=80)
FIELDS = ("csrf", "email", "action", "comment", "organization", "title", "topic", "text", "summary", "media", "url",
          "List-Unsubscribe")


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_arbitrary_bytes_at_every_route_give_no_5xx_and_write_nothing(world: PortalWorld, data: st.DataObject) -> None:
    method, template, params = data.draw(st.sampled_from(routes(world.client)), label="route")
    path = template.format(**{name: quote_from_bytes(data.draw(SOME_BYTES, label=name), safe="") or "x"
                              for name in params})
    fields = {"csrf": data.draw(SOME_BYTES, label="csrf"),
              **data.draw(st.dictionaries(st.sampled_from(FIELDS[1:]), SOME_BYTES, max_size=6), label="fields")}
    cookie_bytes = st.binary(max_size=60).filter(lambda b: not set(b) & {0, 10, 13})
    cookies = {name: data.draw(cookie_bytes, label=name) for name in (SESSION_COOKIE, CSRF_COOKIE, "lang")
               if data.draw(st.booleans(), label=f"send {name}")}
    world.client.cookies.clear()
    if data.draw(st.booleans(), label="valid csrf"):  # past the CSRF check, into the route's own handling
        page = world.client.get("/signin")
        fields["csrf"] = csrf_of(page.text).encode()
        cookies[CSRF_COOKIE] = page.cookies[CSRF_COOKIE].encode()
        world.client.cookies.clear()
    body = b"&".join(quote_from_bytes(name.encode()).encode() + b"=" + (
        value if data.draw(st.booleans(), label="raw") else quote_from_bytes(value).encode()) for name, value in fields.items())
    jar = b"; ".join(name.encode() + b"=" + value for name, value in cookies.items())
    headers = {**FORM, "cookie": jar} if jar else dict(FORM)
    before = row_counts(world.db)
    response = world.client.request(method, path, content=body if method == "POST" else None, headers=headers,
                                    follow_redirects=False)
    world.client.cookies.clear()
    assert_safe(response)
    assert row_counts(world.db) == before
