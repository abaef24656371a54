"""A libvirt domain definition as typed objects (the subset pyvirt honours).

Fields hold what libvirt would hold after defining the domain: defaults are
filled in by the parser (pyvirt.domain.parse), never left implicit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class OsDef:
    type: str = "hvm"
    arch: str = "x86_64"
    machine: str = "pc"
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    boot: list[str] = field(default_factory=list)  # boot dev order: hd, cdrom, network, fd


@dataclass
class Features:
    acpi: bool = False
    apic: bool = False
    pae: bool = False


@dataclass
class CpuFeature:
    name: str  # QEMU's / libvirt's CPUID feature name, e.g. xsave
    policy: str  # require or disable


@dataclass
class CpuDef:
    mode: str  # host-passthrough or host-model
    check: str | None = None
    migratable: bool | None = None
    features: list[CpuFeature] = field(default_factory=list)


@dataclass
class Disk:
    target: str  # vda, hdc, sda...
    bus: str  # virtio, ide, sata
    device: str = "disk"  # or cdrom
    source: str | None = None  # file path; None: a cdrom drive with no medium
    format: str = "raw"  # raw or qcow2
    readonly: bool = False


@dataclass
class Interface:
    type: str  # user, network, bridge
    mac: str
    model: str = "virtio"
    source: str | None = None  # the network's name (network) or the bridge's (bridge)
    target_dev: str | None = None  # host tap device, bridge only


@dataclass
class Serial:
    port: int = 0  # COM1 is 0
    type: str = "pty"


@dataclass
class Console:
    """A console is an alias of a serial port (target type serial), as libvirt models it."""

    port: int = 0
    type: str = "pty"


@dataclass
class Rng:
    backend: str = "/dev/urandom"
    rate_bytes: int | None = None
    rate_period_ms: int | None = None


@dataclass
class Devices:
    emulator: str | None = None
    disks: list[Disk] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    serials: list[Serial] = field(default_factory=list)
    consoles: list[Console] = field(default_factory=list)
    rngs: list[Rng] = field(default_factory=list)
    memballoon: str = "none"  # model: none or virtio


@dataclass
class LiveState:
    """What a running domain's XML adds: its id, the host ends of its devices."""

    id: int
    ptys: dict[int, str] = field(default_factory=dict)  # serial port -> /dev/pts/N
    taps: dict[int, str] = field(default_factory=dict)  # interface index -> tap device


@dataclass
class DomainDef:
    name: str
    uuid: uuid.UUID
    memory_kib: int
    current_memory_kib: int
    vcpus: int = 1
    type: str = "kvm"
    title: str | None = None
    description: str | None = None
    os: OsDef = field(default_factory=OsDef)
    features: Features = field(default_factory=Features)
    cpu: CpuDef | None = None
    clock_offset: str = "utc"
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "destroy"
    devices: Devices = field(default_factory=Devices)

    def to_xml(self, live: LiveState | None = None) -> str:
        """The domain's XML as libvirt writes it: the definition, or with `live` the running
        domain's (id, pty paths, tap names)."""
        from .write import domain_element

        return domain_element(self, live).to_string()
