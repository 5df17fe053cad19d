"""Fixtures of the mailbox tests: a real Dovecot per test (see ``notifications.local_imap``)."""

from __future__ import annotations

from collections.abc import Iterator
import pytest

from notifications.local_imap import ImapServer, running_dovecot


@pytest.fixture
def imap_server() -> Iterator[ImapServer]:
    """Dovecot on 127.0.0.1 with one empty mailbox, stopped after the test."""
    with running_dovecot() as server:
        yield server
