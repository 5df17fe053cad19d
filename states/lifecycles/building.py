"""Shorthands shared by the lifecycle declarations."""

from __future__ import annotations

from datetime import timedelta

from models.enums import EngagementKind, NotificationType, Role
from states.spec import N_, Lifecycle, Notify, Recipient, StateSpec, TransitionSpec, with_wait_steps

SECRETARIAT = frozenset({Role.SECRETARIAT})
STAFF_OR_SYSTEM = frozenset({Role.SECRETARIAT, Role.SYSTEM})
CO_CHAIR = frozenset({Role.CO_CHAIR})
PARTNER = frozenset({Role.PARTNER})
NATIONAL_AUTHORITY = frozenset({Role.NATIONAL_AUTHORITY})
AUTHORITY_OR_STAFF = frozenset({Role.NATIONAL_AUTHORITY, Role.SECRETARIAT})
PARTNER_OR_STAFF = frozenset({Role.PARTNER, Role.SECRETARIAT})
SYSTEM = frozenset({Role.SYSTEM})

DAYS = timedelta(days=1)


def notify(kind: NotificationType, to: Recipient, *, mandatory: bool = False) -> Notify:
    """A notification of ``kind`` to ``to``."""
    return Notify(kind, to, mandatory)


def lifecycle(kind: EngagementKind, title: str, states: list[StateSpec], transitions: list[TransitionSpec]) -> Lifecycle:
    """A lifecycle with the sweep's remind and escalate steps added to its waiting states."""
    frozen_states = tuple(states)
    return Lifecycle(kind, title, frozen_states, with_wait_steps(frozen_states, tuple(transitions)))


PUBLISHED = StateSpec("published", N_("On the Coalition website"))
UNPUBLISHED = StateSpec("unpublished", N_("Taken off the website"), final=True)


def publication_steps(publishable_from: tuple[str, ...]) -> list[TransitionSpec]:
    """Publish to the website (the partners are told), and take a page down again."""
    return [
        TransitionSpec(
            "publish", publishable_from, "published", STAFF_OR_SYSTEM, N_("Publish on the Coalition website"),
            effects=("stamp_published",),
            notify=(notify(NotificationType.PUBLICATION_NOTICE, Recipient.PARTNERS, mandatory=True),),
        ),
        TransitionSpec("unpublish", ("published",), "unpublished", SECRETARIAT, N_("Take the page off the website")),
    ]
