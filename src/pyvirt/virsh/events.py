"""`event`: wait for domain lifecycle events and print them as virsh does."""

from __future__ import annotations

import queue
import time
from datetime import UTC, datetime
from typing import Any

from pyvirt.client import VIR_DOMAIN_EVENT_ID_LIFECYCLE
from pyvirt.virsh.commands import Kind, Opt, command, flag
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.domain import MONITOR
from pyvirt.virsh.errors import VirshError, call

EVENTS = [
    "Defined",
    "Undefined",
    "Started",
    "Suspended",
    "Resumed",
    "Stopped",
    "Shutdown",
    "PMSuspended",
    "Crashed",
]
DETAILS = [
    ["Added", "Updated", "Renamed", "Snapshot"],
    ["Removed", "Renamed"],
    ["Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"],
    [
        "Paused",
        "Migrated",
        "I/O Error",
        "Watchdog",
        "Restored",
        "Snapshot",
        "API error",
        "Post-copy",
        "Post-copy Error",
    ],
    ["Unpaused", "Migrated", "Snapshot", "Post-copy"],
    ["Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot"],
    ["Finished", "Finished after guest request", "Finished after host request"],
    ["Memory", "Disk"],
    ["Panicked", "Crashloaded"],
]
KNOWN = ["lifecycle"]  # the event kinds pyvirtd sends


def describe(event: int, detail: int) -> str:
    if not 0 <= event < len(EVENTS):
        return "unknown unknown"
    names = DETAILS[event]
    return f"{EVENTS[event]} {names[detail] if 0 <= detail < len(names) else 'unknown'}"


def timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000: "


@command(
    "event",
    MONITOR,
    "Domain Events",
    "List event types, or wait for domain events to occur",
    Opt("domain", Kind.STRING, "filter by domain name, id or uuid", completer="domain"),
    Opt("event", Kind.STRING, "which event type to wait for"),
    flag("all", "wait for all events instead of just one type"),
    flag("loop", "loop until timeout or interrupt, rather than one-shot"),
    Opt("timeout", Kind.INT, "timeout seconds"),
    flag("list", "list valid event types"),
    flag("timestamp", "show timestamp for each printed event"),
)
def cmd_event(ctl: Ctl, o: dict[str, Any]) -> None:
    if o["list"]:
        for name in KNOWN:
            ctl.print(name)
        return
    if o["event"] is None and not o["all"]:
        raise VirshError("one of --list, --all, or --event <type> is required")
    if o["event"] is not None and o["event"] not in KNOWN:
        raise VirshError(f"unknown event type {o['event']}")
    dom = ctl.domain(o["domain"]) if o["domain"] is not None else None
    events: queue.Queue[tuple[str, int, int]] = queue.Queue()
    conn = ctl.conn
    callback = call(
        lambda: conn.domainEventRegisterAny(
            dom,
            VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            lambda c, d, ev, det, _: events.put((d.name(), ev, det)),
        )
    )
    deadline = time.monotonic() + o["timeout"] if o["timeout"] else None
    count = 0
    try:
        while o["loop"] or count == 0:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                ctl.print("event loop timed out")
                break
            try:
                name, event, detail = events.get(timeout=left)
            except queue.Empty:
                continue
            count += 1
            prefix = timestamp() if o["timestamp"] else ""
            ctl.print(f"{prefix}event 'lifecycle' for domain '{name}': {describe(event, detail)}")
            ctl.out.flush()
    except KeyboardInterrupt:
        ctl.print("event loop interrupted")
    finally:
        conn.domainEventDeregisterAny(callback)
    ctl.print(f"events received: {count}")
