"""QEMU's -drive, -blockdev and -device (virtio devices), parsed and checked before boot.

Each -device driver has the properties it accepts; anything else is an error
naming the property, so a command line that works here means what it means
in QEMU. `bootindex` is accepted and ignored: pyvirt boots kernels directly.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from pyvirt.block.cache_mode import CACHE_MODES, CacheMode
from pyvirt.machine.host import VirtioConfig
from pyvirt.vmm.errors import OptionError
from pyvirt.vmm.netdev_options import parse_mac
from pyvirt.vmm.qemu_opts import check_keys, parse_bool, parse_int, parse_opts

PCI = "pci"
MMIO = "mmio"

_COMMON = {"id", "bus", "addr", "bootindex"}
_BLK = _COMMON | {"drive", "serial", "discard", "write-zeroes", "num-queues",
                  "logical_block_size", "physical_block_size"}  # fmt: skip
_NET = _COMMON | {"netdev", "mac", "romfile"}
_SERIAL = _COMMON | {"max_ports"}
_RNG = _COMMON | {"rng", "max-bytes", "period"}


@dataclass(frozen=True)
class DeviceType:
    kind: str  # blk, net, serial (the virtio-serial bus), console, rng
    transport: str | None  # pci, mmio, or None for a device on the virtio-serial bus
    props: frozenset[str]
    description: str


DEVICE_TYPES: dict[str, DeviceType] = {}


_PCI_ONLY = {"addr", "disable-legacy", "disable-modern"}


def _define(kind: str, pci: str, mmio: str, props: set[str], what: str) -> None:
    DEVICE_TYPES[pci] = DeviceType(kind, PCI, frozenset(props | _PCI_ONLY),
                                   f"virtio {what} (PCI)")  # fmt: skip
    DEVICE_TYPES[mmio] = DeviceType(kind, MMIO, frozenset(props),
                                    f"virtio {what} (virtio-mmio)")  # fmt: skip


_define("blk", "virtio-blk-pci", "virtio-blk-device", _BLK, "block device")
_define("net", "virtio-net-pci", "virtio-net-device", _NET, "network card")
_define("serial", "virtio-serial-pci", "virtio-serial-device", _SERIAL, "serial bus (console)")
_define("rng", "virtio-rng-pci", "virtio-rng-device", _RNG, "entropy source")
DEVICE_TYPES["virtconsole"] = DeviceType(
    "console", None, frozenset({"id", "chardev", "name", "bus", "nr"}),
    "a console port (hvc) on a virtio-serial bus",
)  # fmt: skip


@dataclass
class DeviceSpec:
    driver: str
    props: dict[str, str]
    option: str  # "-device TEXT", for error messages

    @property
    def type(self) -> DeviceType:
        return DEVICE_TYPES[self.driver]

    @property
    def id(self) -> str | None:
        return self.props.get("id")

    def int_prop(self, key: str, default: int) -> int:
        return parse_int(self.option, key, self.props[key]) if key in self.props else default

    def bool_prop(self, key: str, default: bool) -> bool:
        return parse_bool(self.option, key, self.props[key]) if key in self.props else default


@dataclass
class DriveSpec:
    """A disk image: one -drive, or the top node of a -blockdev chain."""

    id: str
    file: str
    option: str
    format: str | None = "raw"  # None: probed when the image is opened, as QEMU does
    read_only: bool = False
    discard: bool = False  # discard=unmap: pass discards down to the file
    cache: CacheMode = field(default_factory=CacheMode)
    locking: bool = True  # file.locking=on|auto (QEMU's default) or off
    interface: str = "none"  # -drive if=: none or virtio
    used_by: list[str] = field(default_factory=list)
    backing: bool = True  # qcow2: open the backing chain the image names (-blockdev backing=null)


def parse_device(option: str, value: str) -> DeviceSpec:
    opts = parse_opts(option, value, "driver")
    driver = opts.pop("driver", "")
    if driver not in DEVICE_TYPES:
        raise OptionError(option, f"device '{driver}' is not supported (use -device help)")
    check_keys(option, opts, DEVICE_TYPES[driver].props)
    spec = DeviceSpec(driver, opts, f"{option} {value}")
    _check_device(spec)
    return spec


def _check_device(spec: DeviceSpec) -> None:
    opt, kind = spec.option, spec.type.kind
    if kind == "blk":
        if "drive" not in spec.props:
            raise OptionError(opt, "drive property not set")
        if spec.int_prop("num-queues", 1) != 1:
            raise OptionError(opt, "num-queues: only one queue is supported")
        for key in ("logical_block_size", "physical_block_size"):
            if spec.int_prop(key, 512) != 512:
                raise OptionError(opt, f"{key}={spec.props[key]}: only 512 is supported")
        spec.bool_prop("discard", True)
        spec.bool_prop("write-zeroes", True)
    elif kind == "net":
        if "netdev" not in spec.props:
            raise OptionError(opt, "netdev property not set")
        if "mac" in spec.props:
            parse_mac(opt, spec.props["mac"])
        if spec.props.get("romfile", "") != "":
            raise OptionError(opt, "romfile: pyvirt loads no option ROMs (use romfile=)")
    elif kind == "console" and "chardev" not in spec.props:
        raise OptionError(opt, "chardev property not set")
    elif kind == "rng":
        if "rng" in spec.props:
            raise OptionError(opt, "rng=: -object rng backends are not supported; the device "
                                   "reads /dev/urandom")  # fmt: skip
        if spec.int_prop("max-bytes", 1) <= 0 or spec.int_prop("period", 1000) <= 0:
            raise OptionError(opt, "max-bytes and period must be positive")
    if spec.type.transport == PCI:
        if "addr" in spec.props:
            pci_slot(spec)
        # Our virtio-pci functions are modern-only (non-transitional), as with
        # QEMU's disable-legacy=on,disable-modern=off.
        if not spec.bool_prop("disable-legacy", True) or spec.bool_prop("disable-modern", False):
            raise OptionError(opt, "only modern virtio-pci is supported (disable-legacy=on, "
                                   "disable-modern=off)")  # fmt: skip


def pci_slot(spec: DeviceSpec) -> int | None:
    """The slot of `addr=SLOT[.FN]` (QEMU takes hex: addr=0x5 or addr=05)."""
    text = spec.props.get("addr")
    if text is None:
        return None
    slot_text, _, fn = text.partition(".")
    try:
        slot = int(slot_text, 16)
        function = int(fn or "0", 16)
    except ValueError:
        raise OptionError(spec.option, f"invalid PCI address '{text}'") from None
    if not 0 < slot < 32 or function != 0:
        raise OptionError(spec.option, f"PCI address '{text}': slot must be 1-31, function 0")
    return slot


# --- -drive and -blockdev --------------------------------------------------------

_CACHE_FLAGS = {"cache.writeback": "writeback", "cache.direct": "direct",
                "cache.no-flush": "no_flush"}  # fmt: skip
_DRIVE_KEYS = {"file", "if", "format", "readonly", "read-only", "id", "cache", "discard",
               "media", "aio", "serial", "index", "snapshot", "detect-zeroes", "file.locking",
               *_CACHE_FLAGS}  # fmt: skip
IMAGE_FORMATS = ("raw", "qcow2")


def parse_drive(option: str, value: str, index: int) -> DriveSpec:
    opts = parse_opts(option, value, None)
    check_keys(option, opts, _DRIVE_KEYS)
    if "file" not in opts:
        raise OptionError(option, "file= is required (pyvirt has no removable media)")
    interface = opts.get("if", "ide")
    if interface not in ("virtio", "none"):
        raise OptionError(option, f"if={interface} is not supported (use if=virtio, or if=none "
                                  "with -device virtio-blk-pci,drive=ID)")  # fmt: skip
    if opts.get("media", "disk") != "disk":
        raise OptionError(option, f"media={opts['media']} is not supported")
    if opts.get("aio", "threads") != "threads":
        raise OptionError(option, f"aio={opts['aio']} is not supported (threads only)")
    if parse_bool(option, "snapshot", opts.get("snapshot", "off")):
        raise OptionError(option, "snapshot=on is not supported")
    if opts.get("detect-zeroes", "off") != "off":
        raise OptionError(option, "detect-zeroes is not supported")
    readonly = opts.get("readonly", opts.get("read-only", "off"))
    spec = DriveSpec(
        id=opts.get("id", f"{'virtio' if interface == 'virtio' else 'none'}{index}"),
        file=opts["file"],
        option=f"{option} {value}",
        format=opts.get("format"),
        read_only=parse_bool(option, "readonly", readonly),
        discard=_discard(option, opts.get("discard", "ignore")),
        cache=_drive_cache(option, opts),
        interface=interface,
        locking=_locking(option, opts.get("file.locking", "auto")),
    )
    _check_format(option, spec)
    return spec


def _drive_cache(option: str, opts: dict[str, str]) -> CacheMode:
    """cache=MODE, then any cache.writeback/direct/no-flush=on|off over it (as QEMU)."""
    name = opts.get("cache", "writeback")
    if name not in CACHE_MODES:
        raise OptionError(option, f"cache={name} is not supported ({', '.join(CACHE_MODES)})")
    flags = {flag: parse_bool(option, key, opts[key]) for key, flag in _CACHE_FLAGS.items()
             if key in opts}  # fmt: skip
    return dataclasses.replace(CACHE_MODES[name], **flags)


def _locking(option: str, value: object) -> bool:
    if value in ("on", "auto", True):
        return True
    if value in ("off", False):
        return False
    raise OptionError(option, f"locking={value}: use on, off or auto")


def _discard(option: str, value: str) -> bool:
    if value in ("unmap", "on"):
        return True
    if value in ("ignore", "off"):
        return False
    raise OptionError(option, f"discard={value}: use ignore or unmap")


def _check_format(option: str, spec: DriveSpec) -> None:
    if spec.format not in (None, *IMAGE_FORMATS):
        raise OptionError(option, f"format={spec.format}: only raw and qcow2 images are "
                                  "supported")  # fmt: skip


def parse_blockdev(option: str, value: str, nodes: dict[str, DriveSpec]) -> DriveSpec:
    """-blockdev, as key=value (dotted keys for children) or JSON, as libvirt writes it.

    A `file` node names the image; a `raw` or `qcow2` node on top of it
    (inline or by its node-name) is what a device's drive= refers to.
    """
    tree = _blockdev_tree(option, value)
    name = tree.get("node-name")
    if not isinstance(name, str) or not name:
        raise OptionError(option, "node-name is required")
    driver = tree.get("driver")
    read_only = _tree_bool(option, tree, "read-only")
    cache = tree.get("cache", {})
    if not isinstance(cache, dict):
        raise OptionError(option, "cache: give cache.direct=on|off and cache.no-flush=on|off")
    _only(option, cache, {"direct", "no-flush"})
    direct = _tree_bool(option, cache, "direct")
    no_flush = _tree_bool(option, cache, "no-flush")
    discard = _discard(option, str(tree.get("discard", "ignore")))
    text = f"{option} {value}"
    if driver == "file":
        if "filename" not in tree:
            raise OptionError(option, "driver=file needs filename")
        _only(option, tree, {"driver", "node-name", "filename", "read-only", "auto-read-only",
                             "discard", "cache", "aio", "locking"})  # fmt: skip
        return DriveSpec(name, str(tree["filename"]), text, "raw", read_only, discard,
                         CacheMode(direct=direct, no_flush=no_flush),
                         _locking(option, tree.get("locking", "auto")))  # fmt: skip
    if driver not in IMAGE_FORMATS:
        raise OptionError(option, f"driver={driver}: only file, raw and qcow2 nodes are "
                                  "supported")  # fmt: skip
    allowed = {"driver", "node-name", "file", "read-only", "auto-read-only", "discard", "cache"}
    _only(option, tree, allowed | ({"backing"} if driver == "qcow2" else set()))
    if "backing" in tree and tree["backing"] is not None:
        raise OptionError(option, "backing: pyvirt opens the backing chain the image names "
                                  "(leave backing out, or give JSON null for none)")  # fmt: skip
    child = tree.get("file")
    if isinstance(child, str):
        if child not in nodes:
            raise OptionError(option, f"file={child}: no block node with that node-name")
        base = nodes[child]
    elif isinstance(child, dict):
        base = parse_blockdev(option, json.dumps({"node-name": f"{name}-file", **child}), nodes)
    else:
        raise OptionError(option, f"driver={driver} needs file=NODE or file.driver=file,...")
    cache_mode = CacheMode(direct=direct or base.cache.direct,
                           no_flush=no_flush or base.cache.no_flush)  # fmt: skip
    return DriveSpec(name, base.file, text, str(driver), read_only or base.read_only,
                     discard or base.discard, cache_mode, base.locking,
                     backing="backing" not in tree)  # fmt: skip


def _blockdev_tree(option: str, value: str) -> dict[str, object]:
    if value.lstrip().startswith("{"):
        try:
            tree = json.loads(value)
        except json.JSONDecodeError as e:
            raise OptionError(option, f"invalid JSON: {e}") from None
        if not isinstance(tree, dict):
            raise OptionError(option, "JSON must be an object")
        return tree
    tree: dict[str, object] = {}
    for key, val in parse_opts(option, value, None).items():
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise OptionError(option, f"'{key}' conflicts with '{part}'")
            node = child
        node[leaf] = val
    return tree


def _tree_bool(option: str, tree: dict[str, object], key: str) -> bool:
    value = tree.get(key, False)
    if isinstance(value, bool):
        return value
    return parse_bool(option, key, str(value))


def _only(option: str, tree: dict[str, object], allowed: set[str]) -> None:
    for key in tree:
        if key not in allowed:
            raise OptionError(option, f"unsupported parameter '{key}'")


def machine_devices(devices: list[DeviceSpec]) -> list[VirtioConfig]:
    """The machine's view of the -device list: each virtconsole joins its virtio-serial bus."""
    consoles = iter([d for d in devices if d.type.kind == "console"])
    out = []
    for dev in devices:
        kind, transport = dev.type.kind, dev.type.transport
        if kind == "console":
            continue
        slot = pci_slot(dev) if transport == PCI else None
        assert transport is not None
        if kind == "serial":
            port = next(consoles, None)
            chardev = port.props["chardev"] if port is not None else None
            out.append(VirtioConfig("console", transport, slot, chardev=chardev))
        elif kind == "blk":
            out.append(VirtioConfig(
                "blk", transport, slot, drive=dev.props["drive"],
                serial=dev.props.get("serial", ""), discard=dev.bool_prop("discard", True),
                write_zeroes=dev.bool_prop("write-zeroes", True),
            ))  # fmt: skip
        elif kind == "rng":
            max_bytes = dev.int_prop("max-bytes", 0) or None
            out.append(VirtioConfig("rng", transport, slot, max_bytes=max_bytes,
                                    period_ms=dev.int_prop("period", 1000)))  # fmt: skip
        else:
            mac = parse_mac(dev.option, dev.props["mac"]) if "mac" in dev.props else None
            out.append(VirtioConfig("net", transport, slot, netdev=dev.props["netdev"], mac=mac))
    return out
