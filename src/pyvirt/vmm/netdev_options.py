"""QEMU's -netdev option (user, tap, socket, stream) parsed into typed specs.

The syntax and defaults are QEMU 7.2's; anything outside the supported subset
is an OptionError naming the option and the offending value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from pyvirt.vmm.errors import OptionError
from pyvirt.vmm.qemu_opts import parse_bool, parse_int, split_commas

OPT = "-netdev"
NETDEV_TYPES = ("user", "tap", "socket", "stream")
DEFAULT_SCRIPT = "/etc/qemu-ifup"
DEFAULT_DOWNSCRIPT = "/etc/qemu-ifdown"
DEFAULT_MAC = "52:54:00:12:34:56"
_REPEATABLE = frozenset({"hostfwd", "dnssearch"})
_NET = IPv4Network("10.0.2.0/24")  # QEMU's user network: host .2, DNS .3, DHCP from .15


@dataclass(frozen=True)
class HostFwd:
    """hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"""

    udp: bool
    host_addr: IPv4Address  # 0.0.0.0: every host address, as in QEMU
    host_port: int
    guest_addr: IPv4Address | None  # None: the first DHCP address
    guest_port: int


@dataclass(frozen=True)
class UserNetdev:
    id: str
    net: IPv4Network = _NET
    host: IPv4Address = _NET[2]
    dhcpstart: IPv4Address = _NET[15]
    dns: IPv4Address = _NET[3]
    hostfwd: tuple[HostFwd, ...] = ()
    restrict: bool = False
    hostname: str | None = None
    domainname: str | None = None
    dnssearch: tuple[str, ...] = ()
    ipv4: bool = True
    ipv6: bool = True


@dataclass(frozen=True)
class TapNetdev:
    id: str
    ifname: str | None = None  # None: the kernel picks tapN
    script: str | None = DEFAULT_SCRIPT  # None: script=no
    downscript: str | None = DEFAULT_DOWNSCRIPT


@dataclass(frozen=True)
class StreamNetdev:
    """QEMU's length-prefixed frames over a stream socket (-netdev socket or stream)."""

    id: str
    server: bool
    host: str | None = None  # inet: host ("" listens on every address) and port
    port: int | None = None
    path: str | None = None  # unix: socket path
    kind: str = "stream"  # the option's own name: "stream" or "socket"

    @property
    def address_text(self) -> str:
        if self.path is not None:
            return f"unix:{self.path}"
        return f"tcp:{self.host}:{self.port}"


NetdevSpec = UserNetdev | TapNetdev | StreamNetdev


@dataclass
class _Opts:
    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)

    def pop(self, key: str, default: str | None = None) -> str | None:
        return self.values.pop(key, default)


def _split(value: str) -> tuple[str, _Opts]:
    """ "type,key=value,..." with QEMU's ",," escape; hostfwd and dnssearch may repeat."""
    items = split_commas(value)
    kind, opts = items[0], _Opts()
    if "=" in kind:
        key, _, kind = kind.partition("=")
        if key != "type":
            raise OptionError(OPT, f"the netdev type must come first, not '{items[0]}'")
    for item in items[1:]:
        if not item:
            continue
        key, eq, val = item.partition("=")
        if not eq:
            raise OptionError(OPT, f"invalid parameter '{item}' in '{value}'")
        if key in _REPEATABLE:
            opts.lists.setdefault(key, []).append(val)
        elif key in opts.values:
            raise OptionError(OPT, f"parameter '{key}' given twice")
        else:
            opts.values[key] = val
    return kind, opts


def parse_netdev(value: str) -> NetdevSpec:
    """One -netdev argument, e.g. "user,id=n0,hostfwd=tcp::2222-:22"."""
    kind, opts = _split(value)
    if kind == "help":
        raise OptionError(OPT, f"available netdev backend types: {' '.join(NETDEV_TYPES)}")
    if kind not in NETDEV_TYPES:
        raise OptionError(
            OPT, f"netdev type '{kind}' is not supported (supported: {', '.join(NETDEV_TYPES)})"
        )
    netdev_id = opts.pop("id")
    if not netdev_id:
        raise OptionError(OPT, f"{kind}: parameter 'id' is missing")
    if not all(c.isalnum() or c in "-._" for c in netdev_id) or not netdev_id[0].isalpha():
        raise OptionError(OPT, f"id '{netdev_id}': identifiers start with a letter "
                               "and contain only letters, digits, '-', '.', '_'")  # fmt: skip
    parser = {"user": _user, "tap": _tap, "socket": _socket, "stream": _stream}[kind]
    spec = parser(netdev_id, opts)
    leftover = [*opts.values, *opts.lists]
    if leftover:
        raise OptionError(OPT, f"{kind}: unsupported parameter '{leftover[0]}'")
    return spec


# --- user ----------------------------------------------------------------------------------


def _ipv4(key: str, text: str) -> IPv4Address:
    try:
        return IPv4Address(text)
    except ValueError:
        raise OptionError(OPT, f"user: {key}='{text}' is not an IPv4 address") from None


def _network(text: str) -> IPv4Network:
    """net=ADDR[/MASK]: MASK as a prefix length or a dotted mask; classful without one."""
    addr_text, slash, mask = text.partition("/")
    addr = _ipv4("net", addr_text)
    if not slash:
        first = int(addr) >> 24
        mask = "8" if first < 128 else "16" if first < 192 else "24"
    try:
        return IPv4Network(f"{addr}/{mask}", strict=False)
    except ValueError:
        raise OptionError(OPT, f"user: net='{text}' has an invalid netmask") from None


def _in_net(key: str, addr: IPv4Address, net: IPv4Network) -> IPv4Address:
    if addr not in net or addr in (net.network_address, net.broadcast_address):
        raise OptionError(OPT, f"user: {key}={addr} is not a host address in {net}")
    return addr


def _user(netdev_id: str, opts: _Opts) -> UserNetdev:
    net = _network(opts.pop("net") or "10.0.2.0/24")
    if net.prefixlen > 30:
        raise OptionError(OPT, f"user: net={net} is too small")
    base = int(net.network_address)

    def addr(key: str, offset: int) -> IPv4Address:
        text = opts.pop(key)
        value = _ipv4(key, text) if text is not None else IPv4Address(base + offset)
        return _in_net(key, value, net)

    host, dhcpstart, dns = addr("host", 2), addr("dhcpstart", 15), addr("dns", 3)
    if dhcpstart in (host, dns):
        raise OptionError(OPT, f"user: dhcpstart={dhcpstart} is the host or DNS address")
    ipv4 = parse_bool(OPT, "ipv4", opts.pop("ipv4") or "on")
    ipv6 = parse_bool(OPT, "ipv6", opts.pop("ipv6") or "on")
    if not (ipv4 or ipv6):
        raise OptionError(OPT, "user: ipv4=off and ipv6=off leave no network")
    return UserNetdev(
        id=netdev_id,
        net=net,
        host=host,
        dhcpstart=dhcpstart,
        dns=dns,
        hostfwd=tuple(parse_hostfwd(r) for r in opts.lists.pop("hostfwd", [])),
        restrict=parse_bool(OPT, "restrict", opts.pop("restrict") or "off"),
        hostname=opts.pop("hostname"),
        domainname=opts.pop("domainname"),
        dnssearch=tuple(opts.lists.pop("dnssearch", [])),
        ipv4=ipv4,
        ipv6=ipv6,
    )


def _port(what: str, text: str, rule: str, minimum: int) -> int:
    if not text.isdigit() or not minimum <= int(text) <= 65535:
        raise OptionError(OPT, f"user: hostfwd={rule}: {what} port '{text}' is invalid")
    return int(text)


def parse_hostfwd(rule: str) -> HostFwd:
    """[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, as QEMU's hostfwd_add takes it."""
    proto, colon, rest = rule.partition(":")
    if not colon or proto not in ("", "tcp", "udp"):
        raise OptionError(OPT, f"user: hostfwd={rule}: expected [tcp|udp]:[HOSTADDR]:"
                               "HOSTPORT-[GUESTADDR]:GUESTPORT")  # fmt: skip
    host_part, dash, guest_part = rest.partition("-")
    host_addr, colon1, host_port = host_part.rpartition(":")
    guest_addr, colon2, guest_port = guest_part.rpartition(":")
    if not (dash and colon1 and colon2):
        raise OptionError(OPT, f"user: hostfwd={rule}: expected [tcp|udp]:[HOSTADDR]:"
                               "HOSTPORT-[GUESTADDR]:GUESTPORT")  # fmt: skip
    try:
        haddr = IPv4Address(host_addr or "0.0.0.0")
        gaddr = IPv4Address(guest_addr) if guest_addr else None
    except ValueError:
        raise OptionError(OPT, f"user: hostfwd={rule}: invalid IPv4 address") from None
    return HostFwd(
        udp=proto == "udp",
        host_addr=haddr,
        host_port=_port("host", host_port, rule, 0),
        guest_addr=gaddr,
        guest_port=_port("guest", guest_port, rule, 1),
    )


# --- tap -----------------------------------------------------------------------------------

IFNAMSIZ = 16


def _script(opts: _Opts, key: str, default: str) -> str | None:
    value = opts.pop(key, default)
    if value in ("no", ""):
        return None
    return value


def _tap(netdev_id: str, opts: _Opts) -> TapNetdev:
    ifname = opts.pop("ifname")
    if ifname is not None and (
        not ifname or len(ifname.encode()) >= IFNAMSIZ or "/" in ifname or ifname.isspace()
    ):
        raise OptionError(OPT, f"tap: ifname='{ifname}' is not a valid interface name")
    for key in ("fd", "fds", "helper", "br", "vhost", "vhostfd", "queues"):
        if key in opts.values:
            raise OptionError(OPT, f"tap: parameter '{key}' is not supported")
    return TapNetdev(
        id=netdev_id,
        ifname=ifname,
        script=_script(opts, "script", DEFAULT_SCRIPT),
        downscript=_script(opts, "downscript", DEFAULT_DOWNSCRIPT),
    )


# --- socket and stream -----------------------------------------------------------------------


def _host_port(key: str, text: str, listen: bool) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not port.isdigit() or not (0 if listen else 1) <= int(port) <= 65535:
        raise OptionError(OPT, f"socket: {key}={text}: expected {'[HOST]' if listen else 'HOST'}"
                               ":PORT with a valid port")  # fmt: skip
    if not host and not listen:
        raise OptionError(OPT, f"socket: {key}={text}: no host to connect to")
    return host, int(port)


def _socket(netdev_id: str, opts: _Opts) -> StreamNetdev:
    for key in ("fd", "mcast", "udp", "localaddr"):
        if key in opts.values:
            raise OptionError(OPT, f"socket: parameter '{key}' is not supported "
                                   "(use listen= or connect=)")  # fmt: skip
    listen, connect = opts.pop("listen"), opts.pop("connect")
    if (listen is None) == (connect is None):
        raise OptionError(OPT, "socket: give exactly one of listen=[HOST]:PORT and "
                               "connect=HOST:PORT")  # fmt: skip
    text = listen if listen is not None else connect
    assert text is not None
    host, port = _host_port("listen" if listen is not None else "connect", text, listen is not None)
    return StreamNetdev(netdev_id, server=listen is not None, host=host, port=port, kind="socket")


def _stream(netdev_id: str, opts: _Opts) -> StreamNetdev:
    server = parse_bool(OPT, "server", opts.pop("server") or "off")
    addr_type = opts.pop("addr.type")
    if addr_type == "inet":
        host, port = opts.pop("addr.host"), opts.pop("addr.port")
        if host is None or port is None:
            raise OptionError(OPT, "stream: addr.type=inet needs addr.host and addr.port")
        number = parse_int(OPT, "addr.port", port)
        if not (0 if server else 1) <= number <= 65535:
            raise OptionError(OPT, f"stream: addr.port={port} is not a valid port")
        if not host and not server:
            raise OptionError(OPT, "stream: addr.host is empty: no host to connect to")
        return StreamNetdev(netdev_id, server=server, host=host, port=number)
    if addr_type == "unix":
        path = opts.pop("addr.path")
        if not path:
            raise OptionError(OPT, "stream: addr.type=unix needs addr.path")
        if len(path.encode()) >= 108:
            raise OptionError(OPT, f"stream: addr.path='{path}' is longer than 107 bytes")
        return StreamNetdev(netdev_id, server=server, path=path)
    if addr_type is None:
        raise OptionError(OPT, "stream: parameter 'addr.type' is missing (inet or unix)")
    raise OptionError(OPT, f"stream: addr.type={addr_type} is not supported (inet or unix)")


# --- -device virtio-net-*,mac= ---------------------------------------------------------------


def parse_mac(option: str, text: str) -> bytes:
    """A unicast MAC address "52:54:00:12:34:56" (also with '-' separators)."""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise OptionError(option, f"mac='{text}' is not a MAC address (like {DEFAULT_MAC})")
    try:
        mac = bytes(int(p, 16) for p in parts)
    except ValueError:
        raise OptionError(option, f"mac='{text}' is not a MAC address") from None
    if mac[0] & 1:
        raise OptionError(option, f"mac='{text}' is a multicast address")
    return mac
