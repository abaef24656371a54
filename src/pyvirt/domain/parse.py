"""libvirt domain XML -> DomainDef, with libvirt's define-time defaults filled in.

Whatever the XML asks for that pyvirt cannot honour is refused (see reader.py):
CONFIG_UNSUPPORTED for valid libvirt XML, XML_ERROR for invalid XML.
"""

from __future__ import annotations

import re

from pyvirt.virterror import ErrorDomain

from . import ids
from .errors import xml_error
from .model import (
    Console,
    CpuDef,
    CpuFeature,
    Devices,
    Disk,
    DomainDef,
    Features,
    Interface,
    OsDef,
    Rng,
    Serial,
)
from .reader import Node, parse_root
from .units import memory_kib

# libvirt knows these values; pyvirt supports the first ones each parser names.
DOMAIN_TYPES = ("qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware",
                "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz")  # fmt: skip
OS_TYPES = ("hvm", "xen", "linux", "exe", "uml", "xenpvh")
ARCHES = ("i686", "x86_64", "aarch64", "armv7l", "ppc64", "ppc64le", "riscv64", "s390x",
          "mips", "mips64", "sparc", "sparc64", "loongarch64")  # fmt: skip
BOOT_DEVS = ("hd", "cdrom", "network", "fd")
CPU_MODES = ("host-passthrough", "host-model", "custom", "maximum")
CPU_POLICIES = ("require", "disable", "force", "optional", "forbid")
CLOCK_OFFSETS = ("utc", "localtime", "variable", "timezone", "absolute")
LIFECYCLE_ACTIONS = ("destroy", "restart", "preserve", "rename-restart",
                     "coredump-destroy", "coredump-restart")  # fmt: skip
DISK_TYPES = ("file", "block", "dir", "network", "volume", "nvme", "vhostuser")
DISK_DEVICES = ("disk", "cdrom", "floppy", "lun")
DISK_BUSES = ("ide", "fdc", "scsi", "virtio", "xen", "usb", "uml", "sata", "sd")
DISK_FORMATS = ("raw", "qcow2", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat",
                "vhd", "ploop", "cow", "qcow", "qed", "vmdk", "luks", "luks2")  # fmt: skip
BUS_PREFIXES = {"vd": "virtio", "hd": "ide", "sd": "scsi", "xvd": "xen", "fd": "fdc"}
NET_TYPES = ("user", "ethernet", "vhostuser", "server", "client", "mcast", "udp", "network",
             "bridge", "internal", "direct", "hostdev", "vdpa", "null", "vds")  # fmt: skip
CHARDEV_TYPES = ("null", "vc", "pty", "dev", "file", "pipe", "stdio", "udp", "tcp", "unix",
                 "spicevmc", "spiceport", "nmdm", "qemu-vdagent", "dbus")  # fmt: skip
SERIAL_TARGETS = ("isa-serial", "usb-serial", "pci-serial", "spapr-vio-serial",
                  "system-serial", "sclp-serial", "isa-debug")  # fmt: skip
CONSOLE_TARGETS = ("serial", "virtio", "xen", "lxc", "openvz", "sclp", "sclplm")
BALLOON_MODELS = ("virtio", "xen", "none", "virtio-transitional", "virtio-non-transitional")
RNG_BACKENDS = ("random", "egd", "builtin")
AUTO_TAP_PREFIX = "vnet"
DISK_NAME = re.compile(r"^(vd|hd|sd|xvd|fd)([a-z]+)$")


def parse_domain(xml: str) -> DomainDef:
    """Parse libvirt domain XML, generating what libvirt generates (UUID, MACs, defaults)."""
    reader = parse_root(xml, "domain", ErrorDomain.DOMAIN)
    dom = _domain(reader.root)
    reader.finish()
    return dom


def _domain(root: Node) -> DomainDef:
    dom_type = root.choice("type", ["kvm"], DOMAIN_TYPES)
    root.attr("id")  # a running domain's id: runtime data, not configuration
    name = root.child_text("name")
    if not name:
        raise root.error("missing domain name")
    if "/" in name:
        raise root.error(f"name {name} cannot contain '/'")
    uuid_text = root.child_text("uuid")
    memory = root.child("memory")
    if memory is None:
        raise root.error("missing <memory> (the domain's maximum memory)")
    memory_kib_ = _memory(memory)
    current = root.child("currentMemory")
    current_kib = memory_kib_ if current is None else _memory(current)
    if current_kib > memory_kib_:
        raise root.unsupported("currentMemory is greater than memory")
    title = root.child_text("title")
    if title is not None and "\n" in title:
        raise root.error("title must not contain newlines")
    return DomainDef(
        name=name,
        uuid=ids.new_uuid() if uuid_text is None else ids.parse_uuid(uuid_text),
        memory_kib=memory_kib_,
        current_memory_kib=current_kib,
        vcpus=_vcpus(root.child("vcpu")),
        type=dom_type,
        title=title,
        description=root.child_text("description"),
        os=_os(root.child("os")),
        features=_features(root.child("features")),
        cpu=_cpu(root.child("cpu")),
        clock_offset=_clock(root.child("clock")),
        on_poweroff=_lifecycle(root, "on_poweroff", "destroy"),
        on_reboot=_lifecycle(root, "on_reboot", "restart"),
        on_crash=_lifecycle(root, "on_crash", "destroy"),
        devices=_devices(root.child("devices")),
    )


def _memory(node: Node) -> int:
    kib = memory_kib(node.text(), node.attr("unit"), f"<{node.tag}>")
    if kib == 0:
        raise node.error(f"<{node.tag}> must be greater than zero")
    return kib


def _vcpus(node: Node | None) -> int:
    if node is None:
        return 1
    node.choice("placement", ["static"], ["static", "auto"], default="static")
    text = node.text().strip()
    if not text.isdigit() or int(text) == 0:
        raise node.error(f"invalid vcpu count '{text}'")
    count = int(text)
    current = node.attr("current")
    if current is not None and current.strip() != text:
        raise node.unsupported("vcpu current (hot-pluggable vCPUs) is not supported")
    return count


def _os(node: Node | None) -> OsDef:
    if node is None:
        raise _missing_os()
    type_node = node.child("type")
    if type_node is None:
        raise _missing_os()
    os_type = type_node.text().strip()
    if os_type not in OS_TYPES:
        raise type_node.error(f"unknown OS type '{os_type}'")
    if os_type != "hvm":
        raise type_node.unsupported(f"OS type '{os_type}' is not supported")
    os_def = OsDef(
        arch=type_node.choice("arch", ["x86_64"], ARCHES, default="x86_64"),
        machine=type_node.attr("machine") or "pc",
        kernel=node.child_text("kernel"),
        initrd=node.child_text("initrd"),
        cmdline=node.child_text("cmdline"),
        boot=[boot.choice("dev", BOOT_DEVS, BOOT_DEVS) for boot in node.children("boot")],
    )
    if os_def.machine != "pc":
        raise type_node.unsupported(f"machine type '{os_def.machine}' is not supported")
    if not os_def.boot and os_def.kernel is None:
        os_def.boot = ["hd"]
    return os_def


def _missing_os() -> Exception:
    return xml_error("an os <type> must be specified")


def _features(node: Node | None) -> Features:
    if node is None:
        return Features()
    return Features(
        acpi=node.child("acpi") is not None,
        apic=node.child("apic") is not None,
        pae=node.child("pae") is not None,
    )


def _cpu(node: Node | None) -> CpuDef | None:
    if node is None:
        return None
    mode = node.choice("mode", ["host-passthrough", "host-model"], CPU_MODES, default="custom")
    cpu = CpuDef(
        mode=mode,
        check=node.choice("check", ["none", "partial", "full"], default="none"),
        migratable=node.bool_attr("migratable", True) if mode == "host-passthrough" else None,
    )
    for feature in node.children("feature"):
        name = feature.required_attr("name")
        policy = feature.choice("policy", ["require", "disable"], CPU_POLICIES, default="require")
        cpu.features.append(CpuFeature(name, policy))
    return cpu


def _clock(node: Node | None) -> str:
    if node is None:
        return "utc"
    return node.choice("offset", ["utc", "localtime"], CLOCK_OFFSETS, default="utc")


def _lifecycle(root: Node, tag: str, default: str) -> str:
    node = root.child(tag)
    if node is None:
        return default
    action = node.text().strip()
    if action not in LIFECYCLE_ACTIONS:
        raise node.error(f"invalid {tag} value '{action}'")
    if action not in ("destroy", "restart"):
        raise node.unsupported(f"{tag} action '{action}' is not supported")
    return action


def _devices(node: Node | None) -> Devices:
    if node is None:
        return Devices()
    devices = Devices(
        emulator=node.child_text("emulator"),
        disks=[_disk(n) for n in node.children("disk")],
        interfaces=[_interface(n) for n in node.children("interface")],
        serials=[_serial(n, i) for i, n in enumerate(node.children("serial"))],
        consoles=[_console(n) for n in node.children("console")],
        rngs=[_rng(n) for n in node.children("rng")],
        memballoon=_memballoon(node.child("memballoon")),
    )
    _check_unique(node, "disk target", [d.target for d in devices.disks])
    _check_unique(node, "serial port", [str(s.port) for s in devices.serials])
    _check_unique(node, "mac address", [i.mac for i in devices.interfaces])
    _link_consoles(node, devices)
    return devices


def _check_unique(node: Node, what: str, values: list[str]) -> None:
    for value in values:
        if values.count(value) > 1:
            raise node.error(f"{what} '{value}' is used by more than one device")


def _disk(node: Node) -> Disk:
    node.choice("type", ["file"], DISK_TYPES, default="file")
    device = node.choice("device", ["disk", "cdrom"], DISK_DEVICES, default="disk")
    target = node.child("target")
    if target is None:
        raise node.error("missing <target> of a disk")
    dev = target.required_attr("dev")
    match = DISK_NAME.match(dev)
    if not match:
        raise target.error(f"invalid disk target '{dev}'")
    bus = target.attr("bus") or BUS_PREFIXES[match.group(1)]
    if bus not in DISK_BUSES:
        raise target.error(f"unknown disk bus type '{bus}'")
    if bus not in ("virtio", "ide", "sata"):
        raise target.unsupported(f"disk bus '{bus}' is not supported")
    if device == "cdrom" and bus == "virtio":
        raise target.unsupported(f"disk type of '{dev}' does not support ejectable media")
    fmt = "raw"
    driver = node.child("driver")
    if driver is not None:
        driver.choice("name", ["qemu"], ["qemu"], default="qemu")
        fmt = driver.choice("type", ["raw", "qcow2"], DISK_FORMATS, default="raw")
    source = node.child("source")
    path = None if source is None else source.attr("file")
    if path is None and device == "disk":
        raise node.unsupported(f"disk '{dev}' has no source file")
    return Disk(
        target=dev,
        bus=bus,
        device=device,
        source=path,
        format=fmt,
        readonly=node.child("readonly") is not None or device == "cdrom",
    )


def _interface(node: Node) -> Interface:
    net_type = node.choice("type", ["user", "network", "bridge"], NET_TYPES)
    mac = node.child("mac")
    model = node.child("model")
    if model is not None:
        model_type = model.required_attr("type")
        if model_type != "virtio":
            raise model.unsupported(f"interface model '{model_type}' is not supported")
    source = node.child("source")
    source_name = None
    if net_type != "user":
        attr = "network" if net_type == "network" else "bridge"
        source_name = None if source is None else source.attr(attr)
        if not source_name:
            raise node.error(f"missing source {attr} of a '{net_type}' interface")
    target = node.child("target") if net_type == "bridge" else None
    target_dev = None if target is None else target.attr("dev")
    if target_dev and target_dev.startswith(AUTO_TAP_PREFIX):
        target_dev = None  # a name a running domain was given, as libvirt drops it on define
    return Interface(
        type=net_type,
        mac=ids.new_mac() if mac is None else ids.parse_mac(mac.required_attr("address")),
        source=source_name,
        target_dev=target_dev,
    )


def _pty(node: Node) -> str:
    kind = node.choice("type", ["pty"], CHARDEV_TYPES, default="pty")
    source = node.child("source")
    if source is not None:
        source.attr("path")  # the pty a running domain had: runtime data
    node.attr("tty")
    return kind


def _serial(node: Node, index: int) -> Serial:
    kind = _pty(node)
    port = index
    target = node.child("target")
    if target is not None:
        target.choice("type", ["isa-serial"], SERIAL_TARGETS, default="isa-serial")
        port = _int_attr(target, "port", index)
        model = target.child("model")
        if model is not None:
            model.choice("name", ["isa-serial"], ["isa-serial", "usb-serial", "pci-serial"])
    if port > 3:
        raise node.unsupported(f"serial port {port}: only COM1-COM4 (ports 0-3) exist")
    return Serial(port=port, type=kind)


def _console(node: Node) -> Console:
    kind = _pty(node)
    port = 0
    target = node.child("target")
    if target is not None:
        target.choice("type", ["serial"], CONSOLE_TARGETS, default="serial")
        port = _int_attr(target, "port", 0)
    return Console(port=port, type=kind)


def _link_consoles(node: Node, devices: Devices) -> None:
    """libvirt's define: a console without its serial port adds that port, and a domain with
    serial ports but no console gets a console on the first."""
    ports = {s.port for s in devices.serials}
    for console in devices.consoles:
        if console.port not in ports:
            devices.serials.append(Serial(port=console.port))
            ports.add(console.port)
    if devices.serials and not devices.consoles:
        devices.consoles.append(Console(port=devices.serials[0].port))


def _int_attr(node: Node, name: str, default: int) -> int:
    value = node.attr(name)
    if value is None:
        return default
    if not value.isdigit():
        raise node.error(f"invalid {name} '{value}' of '{node.path}'")
    return int(value)


def _rng(node: Node) -> Rng:
    node.choice("model", ["virtio"], ["virtio", "virtio-transitional", "virtio-non-transitional"])
    backend = node.child("backend")
    if backend is None:
        raise node.error("missing <backend> of an rng device")
    backend.choice("model", ["random"], RNG_BACKENDS, default="random")
    path = backend.text().strip() or "/dev/urandom"
    if path != "/dev/urandom":
        raise backend.unsupported(f"rng backend '{path}' is not supported (only /dev/urandom)")
    rng = Rng(backend=path)
    rate = node.child("rate")
    if rate is not None:
        rng.rate_bytes = _int_attr(rate, "bytes", 0)
        rng.rate_period_ms = _int_attr(rate, "period", 1000)
    return rng


def _memballoon(node: Node | None) -> str:
    if node is None:
        return "none"
    return node.choice("model", ["none", "virtio"], BALLOON_MODELS)
