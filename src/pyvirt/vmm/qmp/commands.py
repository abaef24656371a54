"""The QMP commands pyvirt-qemu serves, with QEMU 7.2's argument names, return shapes and
error texts (checked against Debian's qemu-system-x86_64 by tests/vmm/test_qmp.py).

One extension: x-query-netstats, each netdev's traffic counters (QEMU has no QMP
command for them; libvirt reads a tap's from the host, which user-mode
networking does not have)."""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

from pyvirt.hw.pci.bar import BarKind
from pyvirt.hw.pci.device import PciDevice
from pyvirt.vmm.migration import ACTIVE
from pyvirt.vmm.snapshot.channel import valid_uri

from . import hmp
from .errors import QmpError
from .protocol import Command
from .schema import Param

if TYPE_CHECKING:
    from pyvirt.vmm.runner import Vmm

Args = dict[str, Any]


def command_table(vmm: Vmm) -> dict[str, Command]:
    """Every command, bound to `vmm`."""

    async def query_commands(args: Args) -> object:
        return [{"name": name} for name in ("qmp_capabilities", *table)]

    async def query_status(args: Args) -> object:
        return {"status": vmm.run_state, "singlestep": False, "running": not vmm.paused}

    async def query_name(args: Args) -> object:
        return {"name": vmm.config.name} if vmm.config.name is not None else {}

    async def query_uuid(args: Args) -> object:
        return {"UUID": str(uuid.UUID(bytes=vmm.config.uuid))}

    async def query_kvm(args: Args) -> object:
        kvm = vmm.config.accel == "kvm"
        return {"enabled": kvm, "present": kvm}

    async def query_version(args: Args) -> object:
        from pyvirt.vmm.runner import qmp_version

        return qmp_version()

    async def query_cpus_fast(args: Args) -> object:
        target = vmm.config.target.arch
        return [_cpu_info(index, thread, target) for index, thread in enumerate(vmm.threads)]

    async def query_block(args: Args) -> object:
        return [_block_info(vmm, drive_id) for drive_id in vmm.images]

    async def query_blockstats(args: Args) -> object:
        return [
            {"device": drive_id, "node-name": drive_id, "stats": stats.to_qmp()}
            for drive_id, stats in vmm.block_stats.items()
        ]

    async def x_query_netstats(args: Args) -> object:
        return [{"netdev": nid, **dev.stats.to_qmp()} for nid, dev in vmm.netdevs.items()]

    async def query_chardev(args: Args) -> object:
        return _chardevs(vmm)

    async def query_pci(args: Args) -> object:
        pci = vmm.machine.pci if vmm.machine is not None else None
        devices = pci.devices() if pci is not None else []
        return [{"bus": 0, "devices": [_pci_info(slot, dev) for slot, dev in devices]}]

    async def stop(args: Args) -> object:
        if vmm.run_state == "inmigrate":
            vmm.autostart = False
            return {}
        await vmm.pause()
        return {}

    async def cont(args: Args) -> object:
        if vmm.run_state == "inmigrate":
            vmm.autostart = True
            return {}
        await vmm.resume()
        return {}

    async def system_reset(args: Args) -> object:
        from pyvirt.vmm.runner import Outcome

        vmm.request(Outcome("reset", guest=False, reason="host-qmp-system-reset"))
        return {}

    async def system_powerdown(args: Args) -> object:
        vmm.press_power_button()
        return {}

    async def quit_(args: Args) -> object:
        from pyvirt.vmm.runner import Outcome

        vmm.request(Outcome("quit"))
        return {}

    async def human_monitor_command(args: Args) -> object:
        return await hmp.run(vmm, args["command-line"])

    async def migrate(args: Args) -> object:
        uri = args["uri"]
        if args.get("blk") or args.get("inc"):
            raise QmpError("Block migration is not supported by pyvirt")
        if vmm.migration.status in ACTIVE:
            raise QmpError("There's a migration process in progress")
        if not valid_uri(uri):
            raise QmpError("Parameter 'uri' expects a valid migration protocol")
        vmm.start_migration(uri)
        return {}

    async def query_migrate(args: Args) -> object:
        return vmm.migration.info()

    async def migrate_incoming(args: Args) -> object:
        future = vmm.incoming_uri
        if vmm.config.incoming != "defer":
            raise QmpError("'-incoming' was not specified on the command line")
        if future is None or future.done():
            raise QmpError("The incoming migration has already been started")
        if not valid_uri(args["uri"]):
            raise QmpError("Parameter 'uri' expects a valid migration protocol")
        future.set_result(args["uri"])
        return {}

    uri = Param("uri", "string")
    table = {
        command.name: command
        for command in (
            Command("query-commands", query_commands),
            Command("query-status", query_status),
            Command("query-name", query_name),
            Command("query-uuid", query_uuid),
            Command("query-kvm", query_kvm),
            Command("query-version", query_version),
            Command("query-cpus-fast", query_cpus_fast),
            Command("query-block", query_block),
            Command(
                "query-blockstats", query_blockstats, (Param("query-nodes", "boolean", False),)
            ),
            Command("x-query-netstats", x_query_netstats),
            Command("query-chardev", query_chardev),
            Command("query-pci", query_pci),
            Command("stop", stop),
            Command("cont", cont),
            Command("system_reset", system_reset),
            Command("system_powerdown", system_powerdown),
            Command("quit", quit_),
            Command(
                "human-monitor-command",
                human_monitor_command,
                (Param("command-line", "string"), Param("cpu-index", "integer", False)),
            ),
            Command(
                "migrate",
                migrate,
                (
                    uri,
                    *(Param(name, "boolean", False) for name in ("blk", "inc", "detach", "resume")),
                ),
            ),
            Command("query-migrate", query_migrate),
            Command("migrate-incoming", migrate_incoming, (uri,)),
        )
    }
    return table


def _cpu_info(index: int, thread: threading.Thread, target: str) -> dict[str, Any]:
    return {
        "thread-id": thread.native_id or 0,
        "props": {"core-id": index, "thread-id": 0, "socket-id": 0},
        "qom-path": f"/machine/unattached/device[{index}]",
        "cpu-index": index,
        "target": target,
    }


def _block_info(vmm: Vmm, drive_id: str) -> dict[str, Any]:
    image = vmm.images[drive_id]
    spec = vmm.config.drives[drive_id]
    return {
        "device": drive_id,
        "locked": False,
        "removable": False,
        "type": "unknown",
        "io-status": "ok",
        "inserted": {
            "file": spec.file,
            "ro": spec.read_only,
            "drv": spec.format,
            "node-name": drive_id,
            "backing_file_depth": 0,
            "encrypted": False,
            "detect_zeroes": "off",
            "bps": 0, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0,
            "write_threshold": 0,
            "cache": {"writeback": spec.cache.writeback, "direct": spec.cache.direct,
                      "no-flush": spec.cache.no_flush},
            "image": {"filename": spec.file, "format": spec.format,
                      "virtual-size": image.length},
        },
    }  # fmt: skip


def _chardevs(vmm: Vmm) -> list[dict[str, Any]]:
    out = [{"label": cid, "filename": dev.filename, "frontend-open": True}
           for cid, dev in vmm.chardevs.items()]  # fmt: skip
    for cid in vmm.config.monitors:
        spec = vmm.config.chardevs[cid]
        address = f"unix:{spec.path}" if spec.path is not None else f"tcp:{spec.host}:{spec.port}"
        out.append({"label": cid, "filename": f"{address},server=on", "frontend-open": True})
    return out


def _pci_info(slot: int, dev: PciDevice) -> dict[str, Any]:
    config = dev.config
    regions = []
    for bar in dev.bars:
        if bar is None:
            continue
        region: dict[str, Any] = {
            "bar": bar.index,
            "type": "io" if bar.is_io else "memory",
            "address": bar.address if bar.address is not None else -1,
            "size": bar.size,
        }
        if not bar.is_io:
            region["prefetch"] = bar.prefetchable
            region["mem_type_64"] = bar.kind is BarKind.MEM64
        regions.append(region)
    info: dict[str, Any] = {
        "bus": 0,
        "slot": slot,
        "function": 0,
        "class_info": {"class": dev.class_code >> 8},
        "id": {
            "vendor": dev.vendor_id,
            "device": dev.device_id,
            "subsystem-vendor": int.from_bytes(config[0x2C:0x2E], "little"),
            "subsystem": int.from_bytes(config[0x2E:0x30], "little"),
        },
        "qdev_id": "",
        "regions": regions,
    }
    if dev.interrupt_pin:
        info["irq"] = config[0x3C]
        info["irq_pin"] = dev.interrupt_pin
    return info
