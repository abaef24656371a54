"""libvirt's numbers for state reasons and lifecycle event details (virDomain*Reason,
virDomainEvent*DetailType), as they go on the wire."""

from __future__ import annotations

from enum import IntEnum

from .base import DomainState


class RunningReason(IntEnum):
    UNKNOWN = 0
    BOOTED = 1
    RESTORED = 3
    UNPAUSED = 5


class PausedReason(IntEnum):
    UNKNOWN = 0
    USER = 1
    SAVING = 3
    STARTING_UP = 11


class ShutdownReason(IntEnum):
    UNKNOWN = 0
    USER = 1


class ShutoffReason(IntEnum):
    UNKNOWN = 0
    SHUTDOWN = 1
    DESTROYED = 2
    CRASHED = 3
    SAVED = 5
    FAILED = 6
    DAEMON = 8


class DefinedDetail(IntEnum):
    ADDED = 0
    UPDATED = 1


class UndefinedDetail(IntEnum):
    REMOVED = 0


class StartedDetail(IntEnum):
    BOOTED = 0
    RESTORED = 2


class SuspendedDetail(IntEnum):
    PAUSED = 0


class ResumedDetail(IntEnum):
    UNPAUSED = 0


class StoppedDetail(IntEnum):
    SHUTDOWN = 0
    DESTROYED = 1
    CRASHED = 2
    SAVED = 4
    FAILED = 5


class ShutdownDetail(IntEnum):
    FINISHED = 0
    GUEST = 1
    HOST = 2


# A revert to a snapshot: the state reason it leaves (virDomain*Reason FROM_SNAPSHOT) and
# the event details it sends (virDomainEvent*DetailType FROM_SNAPSHOT), by state / event.
SNAPSHOT_REASON = {DomainState.RUNNING: 4, DomainState.PAUSED: 7, DomainState.SHUTOFF: 7}
SNAPSHOT_EVENT = {"started": 3, "suspended": 5, "resumed": 2, "stopped": 6}
