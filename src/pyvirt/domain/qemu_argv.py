"""The QEMU command line for a domain, accepted by pyvirt-qemu and qemu-system-x86_64 alike.

Built the way libvirt builds it (-S, QMP on a unix socket, -nodefaults, devices
named after libvirt's aliases), restricted to the options our VMM understands.
What one VMM lacks (ide-cd in pyvirt-qemu, say) it refuses by name at start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

from .model import Disk, DomainDef, Interface
from .parse import DISK_NAME

BOOT_ORDER = {"hd": "c", "cdrom": "d", "network": "n", "fd": "a"}


@dataclass(frozen=True)
class RuntimePaths:
    """Where this run's host-side ends live."""

    qmp_socket: str
    pidfile: str
    taps: Mapping[int, str] = field(default_factory=dict)  # interface index -> tap device


def qemu_argv(dom: DomainDef, emulator: Sequence[str], paths: RuntimePaths) -> list[str]:
    """`emulator` (argv prefix) plus the options that run `dom`, paused until QMP `cont`."""
    argv = [
        *emulator,
        "-name", f"guest={_escape(dom.name)},debug-threads=on",
        "-uuid", str(dom.uuid),
        "-machine", "pc,accel=kvm" + ("" if dom.features.acpi else ",acpi=off"),
        "-cpu", _cpu(dom),
        "-m", f"size={dom.memory_kib}k",
        "-smp", str(dom.vcpus),
        "-pidfile", paths.pidfile,
        "-display", "none",
        "-nodefaults",
        "-qmp", f"unix:{_escape(paths.qmp_socket)},server=on,wait=off",
        "-S",
    ]  # fmt: skip
    if dom.on_reboot == "destroy":
        argv.append("-no-reboot")
    if dom.clock_offset == "localtime":
        argv += ["-rtc", "base=localtime"]
    argv += _boot(dom)
    argv += _disks(dom.devices.disks)
    for index, iface in enumerate(dom.devices.interfaces):
        argv += _interface(index, iface, paths.taps)
    argv += _serials(dom)
    for index, rng in enumerate(dom.devices.rngs):
        rate = ""
        if rng.rate_bytes is not None:
            rate = f",max-bytes={rng.rate_bytes},period={rng.rate_period_ms}"
        argv += ["-device", f"virtio-rng-pci,id=rng{index}{rate}"]
    if dom.devices.memballoon == "virtio":
        argv += ["-device", "virtio-balloon-pci,id=balloon0"]
    return argv


def _escape(value: str) -> str:
    """QEMU option values double their commas."""
    return value.replace(",", ",,")


def _cpu(dom: DomainDef) -> str:
    flags = []
    if dom.cpu is not None:
        flags = [("-" if f.policy == "disable" else "+") + f.name for f in dom.cpu.features]
    return ",".join(["host", *flags])


def _boot(dom: DomainDef) -> list[str]:
    os = dom.os
    if os.kernel is None:
        return ["-boot", "order=" + "".join(BOOT_ORDER[dev] for dev in os.boot)]
    argv = ["-kernel", os.kernel]
    if os.initrd is not None:
        argv += ["-initrd", os.initrd]
    if os.cmdline is not None:
        argv += ["-append", os.cmdline]
    return argv


def disk_devices(disks: list[Disk]) -> list[tuple[str, str]]:
    """Each disk's libvirt alias (virtio-disk0, ide0-1-0...) and QEMU device."""
    out = []
    virtio = 0
    for disk in disks:
        if disk.bus == "virtio":
            out.append((f"virtio-disk{virtio}", "virtio-blk-pci"))
            virtio += 1
        else:
            out.append(_ide_slot(disk))
    return out


def drive_id(alias: str) -> str:
    """The -drive id of a disk (what query-blockstats calls its device)."""
    return f"drive-{alias}"


def netdev_id(index: int) -> str:
    """The -netdev id of the domain's `index`th interface."""
    return f"hostnet{index}"


def _disks(disks: list[Disk]) -> list[str]:
    argv: list[str] = []
    if any(d.bus == "sata" for d in disks):
        argv += ["-device", "ahci,id=sata0"]
    for disk, (alias, device) in zip(disks, disk_devices(disks), strict=True):
        if disk.source is not None:
            name = drive_id(alias)
            drive = f"file={_escape(disk.source)},format={disk.format},if=none,id={name}"
            if disk.readonly:
                drive += ",readonly=on"
            argv += ["-drive", drive]
            device += f",drive={name}"
        argv += ["-device", f"{device},id={alias}"]
    return argv


def _ide_slot(disk: Disk) -> tuple[str, str]:
    """libvirt's alias and QEMU's device for an IDE or SATA disk: hda is ide0-0-0 on ide.0
    unit 0, hdc ide0-1-0 on ide.1; sda is sata0-0-0 on AHCI port sata0.0."""
    index = _disk_index(disk.target)
    kind = "ide-cd" if disk.device == "cdrom" else "ide-hd"
    if disk.bus == "ide":
        bus, unit = divmod(index, 2)
        if bus > 1:
            raise VirtError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"unsupported configuration: IDE disk '{disk.target}': the PC has 2 IDE buses",
                ErrorDomain.DOMAIN,
            )
        return f"ide0-{bus}-{unit}", f"{kind},bus=ide.{bus},unit={unit}"
    return f"sata0-0-{index}", f"{kind},bus=sata0.{index}"


def _disk_index(target: str) -> int:
    """vda -> 0, hdc -> 2, sdaa -> 26 (libvirt's virDiskNameToIndex)."""
    match = DISK_NAME.match(target)
    assert match, target  # the parser checked it
    index = 0
    for ch in match.group(2):
        index = index * 26 + (ord(ch) - ord("a") + 1)
    return index - 1


def _interface(index: int, iface: Interface, taps: Mapping[int, str]) -> list[str]:
    netdev = netdev_id(index)
    if iface.type == "user":
        backend = f"user,id={netdev}"
    elif index in taps:
        backend = f"tap,id={netdev},ifname={taps[index]},script=no,downscript=no"
    else:
        raise VirtError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"unsupported configuration: interface {index} of type '{iface.type}' "
            "has no host tap device",
            ErrorDomain.DOMAIN,
        )
    device = f"virtio-net-pci,netdev={netdev},id=net{index},mac={iface.mac}"
    return ["-netdev", backend, "-device", device]


def _serials(dom: DomainDef) -> list[str]:
    """One -serial per COM port up to the highest in use: chardev ptys, `none` in the gaps."""
    by_port = {serial.port: serial for serial in dom.devices.serials}
    argv: list[str] = []
    for port in range(max(by_port, default=-1) + 1):
        if port not in by_port:
            argv += ["-serial", "none"]
            continue
        argv += ["-chardev", f"pty,id=charserial{port}", "-serial", f"chardev:charserial{port}"]
    return argv
