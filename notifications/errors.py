"""Errors raised by notification delivery and outbox administration."""

from __future__ import annotations


class PermanentDeliveryError(Exception):
    """A message that can never be delivered as it stands (bad address, unknown type or URL)."""


class OutboxMessageNotFound(LookupError):
    """No outbox row has the given id."""


class OutboxAlreadySent(ValueError):
    """A sent outbox row cannot be queued again."""
