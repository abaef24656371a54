"""DomainDef -> libvirt domain XML, in libvirt's element order and layout."""

from __future__ import annotations

from .model import Console, CpuDef, Disk, DomainDef, Interface, LiveState, Rng, Serial
from .xmlout import E, Element


def domain_element(dom: DomainDef, live: LiveState | None) -> Element:
    return E(
        "domain",
        E("name", text=dom.name),
        E("uuid", text=str(dom.uuid)),
        None if dom.title is None else E("title", text=dom.title),
        None if dom.description is None else E("description", text=dom.description),
        E("memory", text=str(dom.memory_kib), unit="KiB"),
        E("currentMemory", text=str(dom.current_memory_kib), unit="KiB"),
        E("vcpu", text=str(dom.vcpus), placement="static"),
        _os(dom),
        _features(dom),
        None if dom.cpu is None else _cpu(dom.cpu),
        E("clock", offset=dom.clock_offset),
        E("on_poweroff", text=dom.on_poweroff),
        E("on_reboot", text=dom.on_reboot),
        E("on_crash", text=dom.on_crash),
        _devices(dom, live),
        type_=dom.type,
        id=None if live is None else live.id,
    )


def _os(dom: DomainDef) -> Element:
    os = dom.os
    return E(
        "os",
        E("type", text=os.type, arch=os.arch, machine=os.machine),
        None if os.kernel is None else E("kernel", text=os.kernel),
        None if os.initrd is None else E("initrd", text=os.initrd),
        None if os.cmdline is None else E("cmdline", text=os.cmdline),
        *(E("boot", dev=dev) for dev in os.boot),
    )


def _features(dom: DomainDef) -> Element | None:
    names = [n for n in ("acpi", "apic", "pae") if getattr(dom.features, n)]
    return E("features", *(E(n) for n in names)) if names else None


def _cpu(cpu: CpuDef) -> Element:
    migratable = None if cpu.migratable is None else ("on" if cpu.migratable else "off")
    return E(
        "cpu",
        *(E("feature", policy=f.policy, name=f.name) for f in cpu.features),
        mode=cpu.mode,
        check=cpu.check,
        migratable=migratable,
    )


def _devices(dom: DomainDef, live: LiveState | None) -> Element:
    devs = dom.devices
    ptys = {} if live is None else live.ptys
    taps = {} if live is None else live.taps
    return E(
        "devices",
        None if devs.emulator is None else E("emulator", text=devs.emulator),
        *(_disk(d) for d in devs.disks),
        *(_interface(i, taps.get(n)) for n, i in enumerate(devs.interfaces)),
        *(_serial(s, ptys.get(s.port)) for s in devs.serials),
        *(_console(c, ptys.get(c.port)) for c in devs.consoles),
        E("memballoon", model=devs.memballoon),
        *(_rng(r) for r in devs.rngs),
    )


def _disk(disk: Disk) -> Element:
    return E(
        "disk",
        E("driver", name="qemu", type_=disk.format),
        None if disk.source is None else E("source", file=disk.source),
        E("target", dev=disk.target, bus=disk.bus),
        E("readonly") if disk.readonly else None,
        type_="file",
        device=disk.device,
    )


def _interface(iface: Interface, tap: str | None) -> Element:
    source = None
    if iface.type == "network":
        source = E("source", network=iface.source)
    elif iface.type == "bridge":
        source = E("source", bridge=iface.source)
    target_dev = tap or iface.target_dev
    return E(
        "interface",
        E("mac", address=iface.mac),
        source,
        None if target_dev is None else E("target", dev=target_dev),
        E("model", type_=iface.model),
        type_=iface.type,
    )


def _serial(serial: Serial, pty: str | None) -> Element:
    return E(
        "serial",
        None if pty is None else E("source", path=pty),
        E("target", E("model", name="isa-serial"), type_="isa-serial", port=serial.port),
        type_=serial.type,
    )


def _console(console: Console, pty: str | None) -> Element:
    return E(
        "console",
        None if pty is None else E("source", path=pty),
        E("target", type_="serial", port=console.port),
        type_=console.type,
        tty=pty,
    )


def _rng(rng: Rng) -> Element:
    rate = None
    if rng.rate_bytes is not None:
        rate = E("rate", bytes=rng.rate_bytes, period=rng.rate_period_ms)
    return E("rng", rate, E("backend", text=rng.backend, model="random"), model="virtio")
