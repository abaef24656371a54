"""Domain states and reasons as virsh names them (virshDomainStateToString & co.)."""

from __future__ import annotations

STATES = [
    "no state",
    "running",
    "idle",
    "paused",
    "in shutdown",
    "shut off",
    "crashed",
    "pmsuspended",
]

REASONS: dict[int, list[str]] = {
    0: ["unknown"],
    1: [
        "unknown",
        "booted",
        "migrated",
        "restored",
        "from snapshot",
        "unpaused",
        "migration canceled",
        "save canceled",
        "event wakeup",
        "crashed",
        "post-copy",
        "post-copy failed",
    ],
    2: ["unknown"],
    3: [
        "unknown",
        "user",
        "migrating",
        "saving",
        "dumping",
        "I/O error",
        "watchdog",
        "from snapshot",
        "shutting down",
        "creating snapshot",
        "crashed",
        "starting up",
        "post-copy",
        "post-copy failed",
        "api error",
    ],
    4: ["unknown", "user"],
    5: [
        "unknown",
        "shutdown",
        "destroyed",
        "crashed",
        "migrated",
        "saved",
        "failed",
        "from snapshot",
        "daemon",
    ],
    6: ["unknown", "panicked"],
    7: ["unknown"],
}

POOL_STATES = ["inactive", "building", "running", "degraded", "inaccessible"]
VOL_TYPES = ["file", "block", "dir", "network", "netdir", "ploop"]


def _at(names: list[str], index: int) -> str:
    return names[index] if 0 <= index < len(names) else "unknown"


def state_name(state: int) -> str:
    return _at(STATES, state)


def reason_name(state: int, reason: int) -> str:
    return _at(REASONS.get(state, ["unknown"]), reason)


def pool_state_name(state: int) -> str:
    return _at(POOL_STATES, state)


def vol_type_name(kind: int) -> str:
    return _at(VOL_TYPES, kind)
