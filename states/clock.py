"""One clock for the whole engine: the real one, or a simulated one for replays and tests."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(timezone.utc)


class SimulatedClock:
    """A clock that stands still until it is moved; safe to share between threads."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a simulated clock needs a timezone-aware start")
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The simulated current time."""
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment``; a simulated clock never runs backwards."""
        if moment.tzinfo is None:
            raise ValueError("a simulated clock needs timezone-aware moments")
        with self._lock:
            moment = moment.astimezone(timezone.utc)
            if moment < self._now:
                raise ValueError(f"cannot move the clock back from {self._now} to {moment}")
            self._now = moment

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new time."""
        self.set(self.now() + delta)
        return self.now()


SYSTEM_CLOCK = SystemClock()
