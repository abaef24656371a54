"""A running domain's disk and interface statistics, read from its VMM over QMP.

Disks are named as libvirt names them (target or source path, "" for the sum
of all); their counters come from query-blockstats, by -drive id. Interfaces
are named by MAC address or target device; pyvirt-qemu reports each netdev's
counters with x-query-netstats. QEMU has no such command, and libvirt reads a
tap's counters on the host instead: user-mode interfaces under QEMU have none.
"""

from __future__ import annotations

from typing import Any

from pyvirt.domain import DomainDef
from pyvirt.domain.qemu_argv import disk_devices, drive_id, netdev_id
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

from .base import BlockStats, InterfaceStats
from .vmm_process import VmmProcess

_BLOCK_FIELDS = {
    "rd_req": "rd_operations", "rd_bytes": "rd_bytes", "wr_req": "wr_operations",
    "wr_bytes": "wr_bytes", "flush_req": "flush_operations", "rd_total_ns": "rd_total_time_ns",
    "wr_total_ns": "wr_total_time_ns", "flush_total_ns": "flush_total_time_ns",
}  # fmt: skip


async def block_stats(vmm: VmmProcess, config: DomainDef, disk: str) -> BlockStats:
    disks = config.devices.disks
    drives = [drive_id(alias) for alias, _ in disk_devices(disks)]
    if disk:
        chosen = [
            d for d, spec in zip(drives, disks, strict=True) if disk in (spec.target, spec.source)
        ]
        if not chosen:
            raise _invalid_arg(f"invalid path: {disk}")
    else:
        chosen = drives
    entries = {e.get("device"): e.get("stats", {}) for e in await vmm.execute("query-blockstats")}
    totals = dict.fromkeys(_BLOCK_FIELDS, 0)
    for drive in chosen:
        stats: dict[str, Any] = entries.get(drive, {})  # an empty CD-ROM drive has none
        for ours, qemu in _BLOCK_FIELDS.items():
            totals[ours] += int(stats.get(qemu, 0))
    return BlockStats(**totals)


async def interface_stats(
    vmm: VmmProcess, config: DomainDef, device: str, *, pyvirt: bool
) -> InterfaceStats:
    matches = [
        index
        for index, iface in enumerate(config.devices.interfaces)
        if device.lower() == iface.mac.lower() or device == iface.target_dev
    ]
    if not matches:
        raise _invalid_arg(f"'{device}' is not a known interface")
    if not pyvirt:
        raise VirtError.of(
            ErrorCode.OPERATION_UNSUPPORTED,
            f"interface '{device}' has no host device to read statistics from",
            ErrorDomain.QEMU,
        )
    entries = {e["netdev"]: e for e in await vmm.execute("x-query-netstats")}
    stats = entries.get(netdev_id(matches[0]), {})
    return InterfaceStats(*(int(stats.get(f, 0)) for f in InterfaceStats.__dataclass_fields__))


def _invalid_arg(detail: str) -> VirtError:
    return VirtError.of(ErrorCode.INVALID_ARG, detail, ErrorDomain.QEMU)
