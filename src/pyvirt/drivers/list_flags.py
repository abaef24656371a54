"""virConnectListAllDomains' filter flags: each group given narrows the list, as in libvirt."""

from __future__ import annotations

from .base import DomainState

ACTIVE, INACTIVE = 1 << 0, 1 << 1
PERSISTENT, TRANSIENT = 1 << 2, 1 << 3
RUNNING, PAUSED, SHUTOFF, OTHER = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MANAGEDSAVE, NO_MANAGEDSAVE = 1 << 8, 1 << 9
AUTOSTART, NO_AUTOSTART = 1 << 10, 1 << 11
HAS_SNAPSHOT, NO_SNAPSHOT = 1 << 12, 1 << 13
HAS_CHECKPOINT, NO_CHECKPOINT = 1 << 14, 1 << 15


def domain_matches(flags: int, state: DomainState, persistent: bool, autostart: bool) -> bool:
    """Whether a domain passes `flags`; pyvirt has no managed saves, snapshots or checkpoints."""
    active = state != DomainState.SHUTOFF
    state_bit = {DomainState.RUNNING: RUNNING, DomainState.PAUSED: PAUSED}.get(
        state, SHUTOFF if state == DomainState.SHUTOFF else OTHER
    )
    groups = [
        (ACTIVE | INACTIVE, ACTIVE if active else INACTIVE),
        (PERSISTENT | TRANSIENT, PERSISTENT if persistent else TRANSIENT),
        (RUNNING | PAUSED | SHUTOFF | OTHER, state_bit),
        (MANAGEDSAVE | NO_MANAGEDSAVE, NO_MANAGEDSAVE),
        (AUTOSTART | NO_AUTOSTART, AUTOSTART if autostart else NO_AUTOSTART),
        (HAS_SNAPSHOT | NO_SNAPSHOT, NO_SNAPSHOT),
        (HAS_CHECKPOINT | NO_CHECKPOINT, NO_CHECKPOINT),
    ]
    return all(not flags & mask or flags & bit for mask, bit in groups)
