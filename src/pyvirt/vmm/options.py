"""The qemu-system-x86_64 command-line subset pyvirt-qemu accepts.

Anything outside it is an error naming the option: silently ignoring an option
would run a different VM than the user asked for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pyvirt.machine.x86.cpuid import CpuModelError, CpuSpec, parse_cpu_option
from pyvirt.vmm.device_options import (
    DEVICE_TYPES,
    DeviceSpec,
    DriveSpec,
    parse_blockdev,
    parse_device,
    parse_drive,
)
from pyvirt.vmm.errors import OptionError
from pyvirt.vmm.netdev_options import NetdevSpec, parse_netdev
from pyvirt.vmm.qemu_opts import check_keys, parse_bool, parse_int, parse_opts, parse_size

MiB = 1 << 20
DEFAULT_RAM = 128 * MiB
MIN_RAM = 2 * MiB
MACHINES = {"pc": "Standard PC (pyvirt: PIC/IOAPIC/PIT, COM ports, i8042, CMOS RTC, ACPI)"}
DEVICES = {"isa-debug-exit": "ISA debug exit port: a write ends the VMM with (value << 1) | 1"}
CHARDEV_BACKENDS = ("stdio", "file", "socket", "pty", "null")


@dataclass(frozen=True)
class Target:
    """What differs between the qemu-system-<arch> command lines pyvirt speaks."""

    arch: str  # as in qemu-system-<arch>
    machines: dict[str, str]  # the first is the default
    accels: tuple[str, ...]  # accelerators it runs on; the first is the default
    transports: frozenset[str]  # of its virtio devices: pci (-pci), mmio (virtio-*-device)
    devices: dict[str, str]  # other -device types
    without: frozenset[str] = frozenset()  # options of OPTIONS it does not take


X86_64 = Target("x86_64", MACHINES, ("kvm",), frozenset({"pci", "mmio"}), DEVICES)
RISCV64 = Target(
    "riscv64",
    {"virt": "RISC-V VirtIO board (pyvirt: CLINT, PLIC, 16550A, virtio-mmio, sifive_test)"},
    ("tcg",),
    frozenset({"mmio"}),
    {},
    frozenset({"cpu", "incoming"}),
)

# option -> takes an argument
OPTIONS: dict[str, bool] = {
    "m": True, "smp": True, "cpu": True, "machine": True, "M": True, "accel": True,
    "enable-kvm": False, "kernel": True, "initrd": True, "append": True, "bios": True,
    "nographic": False, "display": True, "serial": True, "chardev": True,
    "nodefaults": False, "no-reboot": False, "name": True, "pidfile": True, "device": True,
    "drive": True, "blockdev": True, "netdev": True,
    "qmp": True, "mon": True, "S": False, "uuid": True, "incoming": True,
    "version": False, "h": False, "help": False,
}  # fmt: skip


@dataclass
class ChardevSpec:
    """One -chardev (or the chardev implied by a -serial shorthand)."""

    id: str
    backend: str
    path: str | None = None
    host: str | None = None
    port: int | None = None
    server: bool = False
    wait: bool = True
    signal: bool = True
    mux: bool = False  # stdio with the Ctrl-a escape commands (-nographic, mon:stdio)


@dataclass
class DebugExitSpec:
    iobase: int = 0x501
    iosize: int = 0x02


@dataclass
class VmmConfig:
    action: str = "run"  # run, version, help, or "<what>-help" for the help listings
    target: Target = X86_64
    ram_size: int = DEFAULT_RAM
    cpus: int = 1
    cpu: CpuSpec = field(default_factory=CpuSpec)
    machine: str = "pc"
    accel: str = "kvm"
    kernel: str | None = None
    initrd: str | None = None
    append: str = ""
    bios: str | None = None
    nographic: bool = False
    display: str | None = None
    serials: list[str | None] = field(default_factory=list)  # chardev ids by COM port; None: empty
    chardevs: dict[str, ChardevSpec] = field(default_factory=dict)
    nodefaults: bool = False
    no_reboot: bool = False
    name: str | None = None
    debug_threads: bool = False
    pidfile: str | None = None
    debug_exits: list[DebugExitSpec] = field(default_factory=list)
    devices: list[DeviceSpec] = field(default_factory=list)  # virtio devices, in order
    drives: dict[str, DriveSpec] = field(default_factory=dict)  # -drive ids and -blockdev nodes
    netdevs: dict[str, NetdevSpec] = field(default_factory=dict)
    monitors: list[str] = field(default_factory=list)  # ids of the chardevs QMP listens on
    start_paused: bool = False  # -S
    uuid: bytes = bytes(16)
    incoming: str | None = None  # -incoming URI, or "defer"


def tokenize(argv: list[str], target: Target = X86_64) -> list[tuple[str, str | None]]:
    """Pair each option with its argument, QEMU style (-opt or --opt)."""
    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            raise OptionError(arg, "disk images without an option are not supported")
        name = arg.lstrip("-") if arg.startswith("--") else arg[1:]
        if name not in OPTIONS or name in target.without:
            raise OptionError(arg, "invalid option")
        if OPTIONS[name]:
            if i + 1 >= len(argv):
                raise OptionError(arg, "requires an argument")
            pairs.append((name, argv[i + 1]))
            i += 2
        else:
            pairs.append((name, None))
            i += 1
    return pairs


def parse_args(argv: list[str], target: Target = X86_64) -> VmmConfig:
    cfg = VmmConfig(target=target, machine=next(iter(target.machines)), accel=target.accels[0])
    serial_specs: list[str] = []
    for name, value in tokenize(argv, target):
        opt = f"-{name}"
        if value is None:
            _flag(cfg, opt, name)
        elif name == "serial":
            serial_specs.append(value)
        else:
            _with_value(cfg, name, opt, value)
        if cfg.action != "run":
            return cfg
    _resolve_serials(cfg, serial_specs)
    _resolve_devices(cfg)
    return cfg


def _flag(cfg: VmmConfig, opt: str, name: str) -> None:
    if name == "enable-kvm":
        cfg.accel = _check_accel(cfg.target, opt, "kvm")
    elif name == "nographic":
        cfg.nographic = True
    elif name == "nodefaults":
        cfg.nodefaults = True
    elif name == "no-reboot":
        cfg.no_reboot = True
    elif name == "S":
        cfg.start_paused = True
    elif name == "version":
        cfg.action = "version"
    else:  # -h, -help
        cfg.action = "help"


def _with_value(cfg: VmmConfig, name: str, opt: str, value: str) -> None:
    if name == "m":
        cfg.ram_size = _parse_memory(opt, value)
    elif name == "smp":
        cfg.cpus = _parse_smp(opt, value)
    elif name == "cpu":
        if value == "help":
            cfg.action = "cpu-help"
            return
        try:
            cfg.cpu = parse_cpu_option(value)
        except CpuModelError as e:
            raise OptionError(opt, str(e)) from None
    elif name in ("machine", "M"):
        _parse_machine(cfg, opt, value)
    elif name == "accel":
        opts = parse_opts(opt, value, "accel")
        check_keys(opt, opts, {"accel"})
        cfg.accel = _check_accel(cfg.target, opt, opts["accel"])
    elif name in ("kernel", "initrd", "append", "bios", "pidfile"):
        setattr(cfg, name, value)
    elif name == "display":
        if value.split(",")[0] == "help":
            cfg.action = "display-help"
        elif value != "none":
            raise OptionError(opt, f"display '{value}' is not supported (only 'none')")
        cfg.display = "none"
    elif name == "chardev":
        spec = parse_chardev(opt, value)
        if spec.id in cfg.chardevs:
            raise OptionError(opt, f"duplicate chardev id '{spec.id}'")
        cfg.chardevs[spec.id] = spec
    elif name == "name":
        opts = parse_opts(opt, value, "guest")
        check_keys(opt, opts, {"guest", "debug-threads", "process"})
        cfg.name = opts.get("guest")
        cfg.debug_threads = parse_bool(opt, "debug-threads", opts.get("debug-threads", "off"))
    elif name == "device":
        _parse_device(cfg, opt, value)
    elif name == "drive":
        drive = parse_drive(opt, value, len(cfg.drives))
        _add_drive(cfg, opt, drive)
        if drive.interface == "virtio":
            blk = "virtio-blk-pci" if "pci" in cfg.target.transports else "virtio-blk-device"
            cfg.devices.append(DeviceSpec(blk, {"drive": drive.id}, drive.option))
    elif name == "blockdev":
        _add_drive(cfg, opt, parse_blockdev(opt, value, cfg.drives))
    elif name == "netdev":
        _parse_netdev(cfg, opt, value)
    elif name == "qmp":
        _parse_qmp(cfg, opt, value)
    elif name == "mon":
        _parse_mon(cfg, opt, value)
    elif name == "uuid":
        cfg.uuid = _parse_uuid(opt, value)
    elif name == "incoming":
        cfg.incoming = _parse_incoming(opt, value)


def _parse_memory(opt: str, value: str) -> int:
    opts = parse_opts(opt, value, "size")
    check_keys(opt, opts, {"size"})
    text = opts.get("size", "")
    size = parse_size(opt, text, default_suffix="m")
    if size < MIN_RAM:
        raise OptionError(opt, f"RAM size '{text}' is too small (at least 2 MiB)")
    return (size + 0xFFF) & ~0xFFF


def _parse_smp(opt: str, value: str) -> int:
    opts = parse_opts(opt, value, "cpus")
    check_keys(opt, opts, {"cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads"})
    nums = {k: parse_int(opt, k, v) for k, v in opts.items()}
    for key, number in nums.items():
        if number < 1:  # QEMU 7.2 deprecated explicit zeros; later versions reject them
            raise OptionError(opt, f"{key}={number}: CPU topology values must be at least 1")
    cpus = nums.get("cpus") or nums.get("cores", 1) * nums.get("sockets", 1) * nums.get(
        "threads", 1
    )
    if nums.get("maxcpus", cpus) != cpus:
        raise OptionError(
            opt, f"maxcpus={nums['maxcpus']} with cpus={cpus}: CPU hotplug is not supported"
        )
    for key in ("sockets", "dies", "clusters", "threads"):
        if nums.get(key, 1) != 1:
            raise OptionError(
                opt,
                f"{key}={nums[key]} is not supported: pyvirt models one socket of "
                "single-threaded cores (use cores=N or just N)",
            )
    if nums.get("cores", cpus) != cpus:
        raise OptionError(opt, f"cores={nums['cores']} does not match cpus={cpus}")
    return cpus


def _parse_machine(cfg: VmmConfig, opt: str, value: str) -> None:
    opts = parse_opts(opt, value, "type")
    check_keys(opt, opts, {"type", "accel"})
    machine = opts.get("type", cfg.machine)
    if machine == "help":
        cfg.action = "machine-help"
        return
    if machine not in cfg.target.machines:
        raise OptionError(opt, f"unsupported machine type '{machine}' (use -machine help)")
    cfg.machine = machine
    if "accel" in opts:
        cfg.accel = _check_accel(cfg.target, opt, opts["accel"])


def _check_accel(target: Target, opt: str, accel: str) -> str:
    """QEMU takes a list ("kvm:tcg") and uses the first that works."""
    for name in accel.split(":"):
        if name in target.accels:
            return name
    only = " or ".join(target.accels)
    raise OptionError(
        opt, f"accelerator '{accel}' is not supported for {target.arch} (only {only})"
    )


def _parse_device(cfg: VmmConfig, opt: str, value: str) -> None:
    opts = parse_opts(opt, value, "driver")
    driver = opts.pop("driver", "")
    if driver == "help":
        cfg.action = "device-help"
        return
    if driver in DEVICE_TYPES:
        transport = DEVICE_TYPES[driver].transport
        if transport is not None and transport not in cfg.target.transports:
            wanted = driver.rsplit("-", 1)[0] + ("-pci" if transport == "mmio" else "-device")
            raise OptionError(opt, f"device '{driver}' is not supported on this machine "
                                   f"(use {wanted})")  # fmt: skip
        cfg.devices.append(parse_device(opt, value))
        return
    if driver not in cfg.target.devices:
        raise OptionError(opt, f"device '{driver}' is not supported (use -device help)")
    check_keys(opt, opts, {"iobase", "iosize"})
    spec = DebugExitSpec()
    if "iobase" in opts:
        spec.iobase = parse_int(opt, "iobase", opts["iobase"])
    if "iosize" in opts:
        spec.iosize = parse_int(opt, "iosize", opts["iosize"])
    if not 0 <= spec.iobase <= 0xFFFF:
        raise OptionError(opt, f"isa-debug-exit: iobase={opts['iobase']} is not in 0-0xffff")
    if spec.iosize not in (1, 2, 4):
        raise OptionError(opt, f"isa-debug-exit: iosize={opts['iosize']} is not 1, 2 or 4")
    cfg.debug_exits.append(spec)


def _parse_uuid(opt: str, value: str) -> bytes:
    try:
        return uuid.UUID(value).bytes
    except ValueError:
        raise OptionError(opt, f"Fail to parse UUID string. Wrong format: '{value}'") from None


INCOMING_SCHEMES = ("file:", "exec:")


def _parse_incoming(opt: str, value: str) -> str:
    if value == "defer" or value.startswith(INCOMING_SCHEMES):
        return value
    raise OptionError(opt, f"'{value}': unsupported migration URI (file:PATH, exec:CMD or defer)")


def _parse_qmp(cfg: VmmConfig, opt: str, value: str) -> None:
    """-qmp unix:PATH,server=on,wait=off or tcp:HOST:PORT,...: a monitor on its own chardev."""
    cid = f"compat_monitor{len(cfg.monitors)}"
    spec = _serial_chardev(opt, 0, value)
    if not isinstance(spec, ChardevSpec) or spec.backend != "socket":
        raise OptionError(opt, f"'{value}': the QMP monitor needs unix:PATH or tcp:HOST:PORT")
    spec.id = cid
    _add_monitor(cfg, opt, spec)


def _parse_mon(cfg: VmmConfig, opt: str, value: str) -> None:
    opts = parse_opts(opt, value, "chardev")
    check_keys(opt, opts, {"chardev", "mode", "id", "pretty"})
    if opts.get("mode", "readline") != "control":
        raise OptionError(opt, "only mode=control (QMP) monitors are supported, not the HMP")
    chardev = opts.get("chardev")
    if chardev not in cfg.chardevs:
        raise OptionError(opt, f"chardev '{chardev}' not found")
    _add_monitor(cfg, opt, cfg.chardevs[chardev])


def _add_monitor(cfg: VmmConfig, opt: str, spec: ChardevSpec) -> None:
    if spec.backend != "socket" or not spec.server:
        raise OptionError(opt, f"chardev '{spec.id}': a QMP monitor needs a listening socket "
                               "(socket,...,server=on)")  # fmt: skip
    if spec.id in cfg.monitors:
        raise OptionError(opt, f"chardev '{spec.id}' is already in use")
    cfg.chardevs[spec.id] = spec
    cfg.monitors.append(spec.id)


def _add_drive(cfg: VmmConfig, opt: str, drive: DriveSpec) -> None:
    if drive.id in cfg.drives:
        raise OptionError(opt, f"duplicate drive id '{drive.id}'")
    cfg.drives[drive.id] = drive


def _parse_netdev(cfg: VmmConfig, opt: str, value: str) -> None:
    spec = parse_netdev(value)
    if spec.id in cfg.netdevs:
        raise OptionError(opt, f"duplicate netdev id '{spec.id}'")
    cfg.netdevs[spec.id] = spec


def _resolve_devices(cfg: VmmConfig) -> None:
    """Every reference (drive=, netdev=, chardev=) names something that exists, once."""
    used: dict[tuple[str, str], str] = {}
    ids: set[str] = set()
    for dev in cfg.devices:
        if dev.id is not None:
            if dev.id in ids:
                raise OptionError(dev.option, f"duplicate device id '{dev.id}'")
            ids.add(dev.id)
        for key, table in (("drive", cfg.drives), ("netdev", cfg.netdevs),
                           ("chardev", cfg.chardevs)):  # fmt: skip
            ref = dev.props.get(key)
            if ref is None:
                continue
            if ref not in table:
                raise OptionError(dev.option, f"{key} '{ref}' not found")
            if (key, ref) in used:
                user = used[(key, ref)]
                raise OptionError(dev.option, f"{key} '{ref}' is already in use by {user}")
            used[(key, ref)] = dev.driver
    consoles = [d for d in cfg.devices if d.type.kind == "console"]
    buses = [d for d in cfg.devices if d.type.kind == "serial"]
    if consoles and not buses:
        raise OptionError(consoles[0].option, "no virtio-serial bus for virtconsole "
                                              "(add -device virtio-serial-pci or "
                                              "virtio-serial-device)")  # fmt: skip
    if len(consoles) > len(buses):
        raise OptionError(consoles[-1].option, "only one virtconsole per virtio-serial device")
    for chardev in (d.props["chardev"] for d in consoles):
        if chardev in cfg.serials:
            raise OptionError("-device virtconsole", f"chardev '{chardev}' is already in use")


_SOCKET_KEYS = {"id", "backend", "path", "host", "port", "server", "wait", "nodelay", "telnet"}
_CHARDEV_KEYS = {
    "stdio": {"id", "backend", "signal", "mux"},
    "file": {"id", "backend", "path"},
    "socket": _SOCKET_KEYS,
    "pty": {"id", "backend"},
    "null": {"id", "backend"},
}
_FLAGS = frozenset({"server", "wait", "nodelay", "telnet", "signal", "mux"})


def parse_chardev(opt: str, value: str) -> ChardevSpec:
    opts = parse_opts(opt, value, "backend", flags=_FLAGS)
    backend = opts.get("backend", "")
    if backend not in _CHARDEV_KEYS:
        raise OptionError(
            opt,
            f"chardev backend '{backend}' is not supported "
            f"(supported: {', '.join(CHARDEV_BACKENDS)})",
        )
    if "id" not in opts:
        raise OptionError(opt, "chardev: no id specified")
    check_keys(opt, opts, _CHARDEV_KEYS[backend])
    spec = ChardevSpec(opts["id"], backend)
    _fill_chardev(opt, spec, opts)
    return spec


def _fill_chardev(opt: str, spec: ChardevSpec, opts: dict[str, str]) -> None:
    if spec.backend == "file":
        if "path" not in opts:
            raise OptionError(opt, "chardev: file: no filename given")
        spec.path = opts["path"]
    elif spec.backend == "stdio":
        spec.signal = parse_bool(opt, "signal", opts.get("signal", "on"))
        spec.mux = parse_bool(opt, "mux", opts.get("mux", "off"))
    elif spec.backend == "socket":
        if parse_bool(opt, "telnet", opts.get("telnet", "off")):
            raise OptionError(opt, "telnet sockets are not supported")
        spec.server = parse_bool(opt, "server", opts.get("server", "off"))
        spec.wait = parse_bool(opt, "wait", opts.get("wait", "on")) and spec.server
        if "path" in opts:
            spec.path = opts["path"]
        elif "port" in opts:
            spec.host = opts.get("host", "")
            spec.port = parse_int(opt, "port", opts["port"])
        else:
            raise OptionError(opt, "chardev: socket: give path= or host=,port=")


def _serial_chardev(opt: str, index: int, spec: str) -> ChardevSpec | str | None:
    """Translate a -serial shorthand into a chardev; returns an id for chardev:ID."""
    cid = f"serial{index}"
    if spec.startswith("chardev:"):
        return spec[len("chardev:") :]
    if spec == "none":
        return None
    if spec in ("stdio", "mon:stdio"):
        mux = spec == "mon:stdio"
        return ChardevSpec(cid, "stdio", signal=not mux, mux=mux)
    if spec in ("null", "vc") or spec.startswith("vc:"):
        return ChardevSpec(cid, "null")
    if spec == "pty":
        return ChardevSpec(cid, "pty")
    if spec.startswith("file:"):
        return ChardevSpec(cid, "file", path=spec[len("file:") :])
    if spec.startswith("unix:"):
        opts = parse_opts(opt, spec[len("unix:") :], "path", flags=_FLAGS)
        check_keys(opt, opts, {"path", "server", "wait"})
        return parse_chardev(opt, _join_chardev("socket", cid, opts))
    if spec.startswith("tcp:"):
        hostport, _, rest = spec[len("tcp:") :].partition(",")
        host, _, port = hostport.rpartition(":")
        opts = parse_opts(opt, rest, None, flags=_FLAGS) if rest else {}
        check_keys(opt, opts, {"server", "wait", "nodelay"})
        return parse_chardev(
            opt, _join_chardev("socket", cid, {"host": host, "port": port, **opts})
        )
    raise OptionError(
        opt,
        f"'{spec}' is not a supported serial backend "
        "(stdio, mon:stdio, file:PATH, unix:PATH, tcp:HOST:PORT, pty, null, "
        "none, chardev:ID)",
    )


def _join_chardev(backend: str, cid: str, opts: dict[str, str]) -> str:
    items = [backend, f"id={cid}"]
    items += [f"{k}={v.replace(',', ',,')}" for k, v in opts.items()]
    return ",".join(items)


def _resolve_serials(cfg: VmmConfig, specs: list[str]) -> None:
    if not specs and not cfg.nodefaults:
        specs = ["mon:stdio" if cfg.nographic else "vc"]
    if len(specs) > 4:
        raise OptionError("-serial", "at most 4 serial ports (COM1-COM4) are supported")
    for index, spec in enumerate(specs):
        result = _serial_chardev("-serial", index, spec)
        if result is None:  # "none": this COM port stays empty
            cfg.serials.append(None)
            continue
        if isinstance(result, str):
            if result not in cfg.chardevs:
                raise OptionError("-serial", f"chardev '{result}' not found")
            cid = result
        else:
            if result.id in cfg.chardevs:
                raise OptionError("-serial", f"duplicate chardev id '{result.id}'")
            cfg.chardevs[result.id] = result
            cid = result.id
        if cid in cfg.serials or cid in cfg.monitors:
            raise OptionError("-serial", f"chardev '{cid}' is already in use")
        cfg.serials.append(cid)
    stdio = [c for c in cfg.chardevs.values() if c.backend == "stdio"]
    if cfg.nographic:
        for chardev in stdio:  # -nographic: the terminal is the guest's, Ctrl-a x quits
            chardev.mux, chardev.signal = True, False
    if len(stdio) > 1:
        raise OptionError("-serial", "cannot use stdio by multiple character devices")
