"""Running the portal with uvicorn on a background thread (the demo, tests and benchmarks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from models.db import Database
from portal.app import create_app
from settings import Settings
from states.clock import SYSTEM_CLOCK, Clock


@contextmanager
def running_portal(settings: Settings, db: Database, clock: Clock = SYSTEM_CLOCK, host: str = "127.0.0.1",
                   port: int = 0) -> Iterator[str]:
    """Serve the portal until the block ends; yield its base URL (``port=0`` picks a free port)."""
    config = uvicorn.Config(create_app(settings, db, clock), host=host, port=port, log_level="warning",
                            server_header=False, lifespan="off", proxy_headers=False)  # the app reads them (create_app)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="portal", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the portal did not start")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
