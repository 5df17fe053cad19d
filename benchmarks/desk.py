"""Benchmark: the Secretariat's desk over 10,000 engagements on PostgreSQL: page latency and the full CSV export.

Seeds a scratch database through ``create_engagement`` and ``apply_transition`` (every kind; a share of them
submitted, under review or waiting on co-chairs), then times each desk page in-process (the ASGI app through
Starlette's test client, one request at a time) and the export of every row.

    .venv/bin/python benchmarks/desk.py [--engagements 10000] [--repeat 40] [--postgres URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from starlette.responses import Response

from benchmarks.scratch_postgres import scratch_postgres
from models.db import Database
from portal.app import create_app
from settings import Settings
from states.directory import load_sample
from states.workflow import apply_transition, create_engagement
from tests.world import ENGAGEMENTS, clock_at

STAFF = {"role": "secretariat", "identity": "staff@state.example"}


def seed(db: Database, settings: Settings, count: int) -> int:
    """``count`` engagements of every kind; one in three moved on a step or two. The id of one that waits on co-chairs."""
    clock = clock_at(2024, 2, 1)
    kinds = list(ENGAGEMENTS)
    waiting = 0
    for i in range(count):
        kind = kinds[i % len(kinds)]
        engagement = create_engagement(db, {"kind": kind, **ENGAGEMENTS[kind], "title": f"{ENGAGEMENTS[kind]['title']} {i}"},
                                       STAFF, clock=clock)
        if i % 3:
            continue
        if kind in ("achievement", "recommendation", "website_submission"):
            apply_transition(db, engagement, "submit", STAFF, clock=clock, settings=settings)
        elif kind == "swg_presentation":
            apply_transition(db, engagement, "request_approval", STAFF, clock=clock, settings=settings)
            waiting = engagement
    return waiting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engagements", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    arguments = parser.parse_args()
    with scratch_postgres(arguments.postgres, "engage_desk") as url, tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url=url, secret_key="b" * 48)
        db = Database(url)
        db.migrate()
        load_sample(db)
        started = time.perf_counter()
        engagement = seed(db, settings, arguments.engagements)
        print(f"seeded {arguments.engagements} engagements in {time.perf_counter() - started:.1f} s")
        app = create_app(settings, db, clock_at(2024, 3, 1))
        cookie = Response()
        app.state.portal.sessions.start(cookie, settings.secretariat_email, "secretariat")
        client = TestClient(app, base_url="http://127.0.0.1:8000")
        client.cookies.set("engage_session", cookie.headers["set-cookie"].split(";")[0].split("=", 1)[1].strip('"'))
        pages = {
            "queue": "/desk", "list": "/desk/engagements", "list, page 20": "/desk/engagements?page=20",
            "filtered": "/desk/engagements?kind=achievement&state=submitted&sort=title",
            "search": "/desk/engagements?q=screening", "waiting on co-chairs, overdue": "/desk/engagements?waiting=co_chair&overdue=1",
            "engagement": f"/desk/engagements/{engagement}", "create form": "/desk/new/swg_presentation",
        }
        print(f"{'page':32} {'p50 ms':>8} {'p95 ms':>8}")
        for name, path in pages.items():
            assert client.get(path).status_code == 200, path
            times = []
            for _ in range(arguments.repeat):
                began = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - began) * 1000)
            times.sort()
            print(f"{name:32} {statistics.median(times):8.1f} {times[int(len(times) * 0.95) - 1]:8.1f}")
        began = time.perf_counter()
        export = client.get("/desk/engagements.csv")
        rows = export.text.count("\n") - 1
        print(f"CSV export of {rows} rows: {(time.perf_counter() - began) * 1000:.0f} ms")
        db.dispose()


if __name__ == "__main__":
    main()
