"""A local SMTP server that stores every message it receives in a Maildir folder.

For demos, tests and benchmarks: nothing leaves the machine, and the folder can be opened with
any Maildir-capable mail reader (mutt -f, Thunderbird, Evolution). Run it on its own with
``python -m notifications.mail_sink --maildir engage-data/mail --port 8025``.
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    """aiosmtpd handler writing each accepted message into ``maildir/new``.

    It announces PIPELINING (RFC 2920) unless told not to: aiosmtpd answers commands in the
    order they arrive, however many come in one packet.
    """

    def __init__(self, maildir: Path, *, pipelining: bool = True) -> None:
        self.pipelining = pipelining
        path = Path(maildir)
        for folder in ("tmp", "new", "cur"):  # also when ``path`` exists but is empty
            (path / folder).mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(path, create=False)

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,  # noqa: N802
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.pipelining else responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        trace = f"Return-Path: <{envelope.mail_from}>\r\n" + "".join(
            f"Delivered-To: {recipient}\r\n" for recipient in envelope.rcpt_tos
        )
        content = envelope.original_content or b""
        self.maildir.add(trace.encode() + content)
        return "250 Message accepted for delivery"


@contextmanager
def running_smtp_server(handler: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Serve SMTP with ``handler`` on a background thread; yield the bound port (``0`` picks one)."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, enable_SMTPUTF8=True, loop=loop), host, port)
    )
    bound_port: int = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, name=f"smtp-sink-{bound_port}", daemon=True)
    thread.start()
    try:
        yield bound_port
    finally:
        async def _shutdown() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(_shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@contextmanager
def running_mail_sink(maildir: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Run the Maildir-writing SMTP sink on a background thread; yield the bound port."""
    with running_smtp_server(MaildirHandler(maildir), host, port) as bound_port:
        yield bound_port


def main(argv: list[str] | None = None) -> None:
    """Run the sink in the foreground until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maildir", type=Path, required=True, help="Maildir folder to write into")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025, help="0 picks a free port")
    arguments = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with running_mail_sink(arguments.maildir, arguments.host, arguments.port) as port:
        print(f"mail sink listening on {arguments.host}:{port}, writing to {arguments.maildir}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
