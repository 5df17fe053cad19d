"""Errors raised by notification delivery and outbox administration."""

from __future__ import annotations


class PermanentDeliveryError(Exception):
    """A message that can never be delivered as it stands (bad address, unknown type or URL)."""


class ChannelUnavailable(Exception):
    """The channel's server cannot be reached or asks to try later: no message is at fault."""


class OutboxMessageNotFound(LookupError):
    """No outbox row has the given id."""


class OutboxAlreadySent(ValueError):
    """A sent outbox row cannot be queued again."""


class OutboxOptedOut(ValueError):
    """A suppressed row (its recipient opted out, or it has none) is requeued only on explicit request."""
