"""The internal snapshot table of `info` and `snapshot -l`, and its JSON form."""

from __future__ import annotations

import time
from typing import Any

from .sizes import size_to_str

HEADER = f"{'ID':<10}{'TAG':<17}{'VM SIZE':>8}{'DATE':>20}{'VM CLOCK':>13}{'ICOUNT':>11}"


def row(sn: dict[str, Any]) -> str:
    """One snapshot (in its JSON form) as a table row."""
    date = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sn["date-sec"]))
    secs = sn["vm-clock-sec"]
    clock = (
        f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}."
        f"{sn['vm-clock-nsec'] // 1_000_000:03d}"
    )
    icount = str(sn.get("icount", ""))
    return (
        f"{sn['id']:<9} {sn['name']:<16} {size_to_str(sn['vm-state-size']):>8}{date:>20}"
        f"{clock:>13}{icount:>11}"
    )


def table(snapshots: list[dict[str, Any]]) -> str:
    """The "Snapshot list:" block: header, then a row per snapshot (in JSON form)."""
    return "Snapshot list:\n" + HEADER + "\n" + "".join(row(sn) + "\n" for sn in snapshots)


def as_json(sn: Any) -> dict[str, Any]:
    """QAPI SnapshotInfo of the block layer's SnapshotInfo, fields in the schema's order."""
    out = {
        "id": sn.id,
        "name": sn.name,
        "vm-state-size": sn.vm_state_size,
        "date-sec": sn.date_sec,
        "date-nsec": sn.date_nsec,
        "vm-clock-sec": sn.vm_clock_nsec // 1_000_000_000,
        "vm-clock-nsec": sn.vm_clock_nsec % 1_000_000_000,
    }
    if sn.icount is not None:
        out["icount"] = sn.icount
    return out
