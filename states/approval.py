"""Approval policies of the SWGs: any one co-chair, all of them, or a quorum."""

from __future__ import annotations

from enum import StrEnum

from models.enums import ApprovalPolicy


class ApprovalOutcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    PENDING = "pending"


def approval_outcome(policy: str, quorum: int | None, co_chairs: int, approvals: int, declines: int) -> ApprovalOutcome:
    """Where the votes stand under ``policy`` with ``co_chairs`` entitled to vote.

    ``any``: the first decision settles it. ``all``: every co-chair must approve, so one decline
    refuses. ``quorum``: ``quorum`` approvals approve; once so many declined that the quorum can no
    longer be reached, it is refused.
    """
    if co_chairs < 1:
        raise ValueError("an approval needs at least one co-chair")
    if policy == ApprovalPolicy.ANY:
        needed = 1
    elif policy == ApprovalPolicy.ALL:
        needed = co_chairs
    elif policy == ApprovalPolicy.QUORUM:
        if quorum is None or not 1 <= quorum <= co_chairs:
            raise ValueError(f"a quorum must be between 1 and the {co_chairs} co-chair(s), got {quorum}")
        needed = quorum
    else:
        raise ValueError(f"unknown approval policy {policy!r}")
    if approvals >= needed:
        return ApprovalOutcome.APPROVED
    if policy == ApprovalPolicy.ANY and declines:
        return ApprovalOutcome.DECLINED
    if co_chairs - declines < needed:
        return ApprovalOutcome.DECLINED
    return ApprovalOutcome.PENDING
