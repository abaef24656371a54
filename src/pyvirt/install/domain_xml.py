"""The domain XML pyvirt-install defines, from the parsed options (libvirt's schema)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree


@dataclass(frozen=True)
class DiskSpec:
    path: str
    format: str
    bus: str
    device: str = "disk"


@dataclass(frozen=True)
class NicSpec:
    type: str  # user, network, bridge
    source: str | None
    model: str
    mac: str | None = None


@dataclass
class DomainSpec:
    name: str
    domain_type: str  # kvm, test
    memory_mib: int
    max_memory_mib: int
    vcpus: int
    max_vcpus: int
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    boot_devs: list[str] = field(default_factory=list)
    disks: list[DiskSpec] = field(default_factory=list)
    nics: list[NicSpec] = field(default_factory=list)
    console: bool = True


_PREFIX = {"virtio": "vd", "sata": "sd", "scsi": "sd", "ide": "hd", "usb": "sd"}


def target_names(disks: list[DiskSpec]) -> list[str]:
    """vda, vdb, sda...: the next free name per bus prefix, as virt-install picks them."""
    used: dict[str, int] = {}
    names = []
    for disk in disks:
        prefix = _PREFIX[disk.bus]
        n = used.get(prefix, 0)
        used[prefix] = n + 1
        names.append(prefix + "abcdefghijklmnopqrstuvwxyz"[n])
    return names


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def build(spec: DomainSpec) -> str:
    root = etree.Element("domain", type=spec.domain_type)
    sub(root, "name", spec.name)
    sub(root, "memory", str(spec.max_memory_mib * 1024), unit="KiB")
    sub(root, "currentMemory", str(spec.memory_mib * 1024), unit="KiB")
    vcpu = sub(root, "vcpu", str(spec.max_vcpus))
    if spec.vcpus != spec.max_vcpus:
        vcpu.set("current", str(spec.vcpus))
    os_el = sub(root, "os")
    sub(os_el, "type", "hvm")
    if spec.kernel:
        sub(os_el, "kernel", spec.kernel)
        if spec.initrd:
            sub(os_el, "initrd", spec.initrd)
        if spec.cmdline:
            sub(os_el, "cmdline", spec.cmdline)
    for dev in spec.boot_devs:
        sub(os_el, "boot", dev=dev)
    features = sub(root, "features")
    sub(features, "acpi")
    sub(features, "apic")
    if spec.domain_type == "kvm":
        sub(root, "cpu", mode="host-passthrough")
    sub(root, "clock", offset="utc")
    devices = sub(root, "devices")
    for disk, target in zip(spec.disks, target_names(spec.disks), strict=True):
        el = sub(devices, "disk", type="file", device=disk.device)
        sub(el, "driver", name="qemu", type=disk.format)
        sub(el, "source", file=disk.path)
        sub(el, "target", dev=target, bus=disk.bus)
        if disk.device == "cdrom":
            sub(el, "readonly")
    for nic in spec.nics:
        el = sub(devices, "interface", type=nic.type)
        if nic.mac:
            sub(el, "mac", address=nic.mac)
        if nic.source:
            sub(el, "source", **{nic.type: nic.source})
        sub(el, "model", type=nic.model)
    if spec.console:
        console = sub(devices, "console", type="pty")
        sub(console, "target", type="serial", port="0")
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode") + "\n"
