"""-netdev parsing: QEMU 7.2's syntax and defaults, and an OptionError naming -netdev and the
offending value for everything else."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from pyvirt.vmm.errors import OptionError
from pyvirt.vmm.netdev_options import (
    HostFwd,
    StreamNetdev,
    TapNetdev,
    UserNetdev,
    parse_hostfwd,
    parse_mac,
    parse_netdev,
)

A = IPv4Address


def test_user_defaults_are_qemus() -> None:
    spec = parse_netdev("user,id=n0")
    assert spec == UserNetdev("n0")
    assert isinstance(spec, UserNetdev)
    assert (spec.net, spec.host, spec.dhcpstart, spec.dns) == (
        IPv4Network("10.0.2.0/24"), A("10.0.2.2"), A("10.0.2.15"), A("10.0.2.3"))  # fmt: skip


def test_user_options() -> None:
    spec = parse_netdev("user,id=n0,net=192.168.7.0/255.255.255.0,host=192.168.7.1,"
                        "dhcpstart=192.168.7.100,dns=192.168.7.53,restrict=on,hostname=vm,"
                        "domainname=example.test,dnssearch=a.test,dnssearch=b.test,ipv6=off,"
                        "hostfwd=tcp::2222-:22,"
                        "hostfwd=udp:127.0.0.1:5353-192.168.7.100:53")  # fmt: skip
    assert spec == UserNetdev(
        "n0", IPv4Network("192.168.7.0/24"), A("192.168.7.1"), A("192.168.7.100"),
        A("192.168.7.53"),
        (HostFwd(False, A("0.0.0.0"), 2222, None, 22),
         HostFwd(True, A("127.0.0.1"), 5353, A("192.168.7.100"), 53)),
        restrict=True, hostname="vm", domainname="example.test",
        dnssearch=("a.test", "b.test"), ipv6=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("net", "expected"),
    [("10.1.0.0", "10.0.0.0/8"), ("172.20.0.0", "172.20.0.0/16"), ("192.168.9.0", "192.168.9.0/24"),
     ("10.9.9.0/24", "10.9.9.0/24"), ("10.9.0.0/255.255.0.0", "10.9.0.0/16")],
)  # fmt: skip
def test_user_net_masks(net: str, expected: str) -> None:
    """Without a mask QEMU takes the address's class; host, DNS and DHCP follow the network."""
    spec = parse_netdev(f"user,id=n,net={net}")
    assert isinstance(spec, UserNetdev) and spec.net == IPv4Network(expected)
    assert spec.host == spec.net.network_address + 2


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("tcp::8080-:80", HostFwd(False, A("0.0.0.0"), 8080, None, 80)),
     (":127.0.0.1:80-10.0.2.20:8080", HostFwd(False, A("127.0.0.1"), 80, A("10.0.2.20"), 8080)),
     ("udp::0-:53", HostFwd(True, A("0.0.0.0"), 0, None, 53))],
)  # fmt: skip
def test_hostfwd_forms(rule: str, expected: HostFwd) -> None:
    assert parse_hostfwd(rule) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [("user", "parameter 'id' is missing"),
     ("user,id=9a", "id '9a'"),
     ("vde,id=a", "netdev type 'vde' is not supported"),
     ("user,id=a,smb=/srv", "unsupported parameter 'smb'"),
     ("user,id=a,id=b", "parameter 'id' given twice"),
     ("user,id=a,net=10.0.2.0/33", "net='10.0.2.0/33' has an invalid netmask"),
     ("user,id=a,net=nonsense", "net='nonsense' is not an IPv4 address"),
     ("user,id=a,host=10.0.3.2", "host=10.0.3.2 is not a host address in 10.0.2.0/24"),
     ("user,id=a,dhcpstart=10.0.2.2", "dhcpstart=10.0.2.2 is the host or DNS address"),
     ("user,id=a,dns=10.0.2.255", "dns=10.0.2.255 is not a host address"),
     ("user,id=a,restrict=maybe", "parameter 'restrict' expects 'on' or 'off', not 'maybe'"),
     ("user,id=a,ipv4=off,ipv6=off", "leave no network"),
     ("user,id=a,hostfwd=tcp:22-:22", "hostfwd=tcp:22-:22: expected"),
     ("user,id=a,hostfwd=sctp::22-:22", "hostfwd=sctp::22-:22: expected"),
     ("user,id=a,hostfwd=tcp::99999-:22", "host port '99999' is invalid"),
     ("user,id=a,hostfwd=tcp::22-:0", "guest port '0' is invalid"),
     ("user,id=a,hostfwd=tcp:1.2.3:22-:22", "invalid IPv4 address"),
     ("tap,id=a,ifname=" + "x" * 16, "is not a valid interface name"),
     ("tap,id=a,vhost=on", "tap: parameter 'vhost' is not supported"),
     ("socket,id=a", "give exactly one of listen"),
     ("socket,id=a,listen=:1,connect=h:2", "give exactly one of listen"),
     ("socket,id=a,mcast=230.0.0.1:1234", "parameter 'mcast' is not supported"),
     ("socket,id=a,connect=:1234", "no host to connect to"),
     ("socket,id=a,connect=host", "expected HOST:PORT"),
     ("stream,id=a", "parameter 'addr.type' is missing"),
     ("stream,id=a,addr.type=fd,addr.str=3", "addr.type=fd is not supported"),
     ("stream,id=a,addr.type=inet,addr.host=h", "needs addr.host and addr.port"),
     ("stream,id=a,addr.type=inet,addr.host=h,addr.port=x", "'addr.port' expects a number"),
     ("stream,id=a,addr.type=unix", "needs addr.path"),
     ("stream,id=a,addr.type=unix,addr.path=/p,reconnect=1", "unsupported parameter 'reconnect'"),
     ("stream,id=a,server=perhaps,addr.type=unix,addr.path=/p", "'server' expects 'on' or 'off'")],
)  # fmt: skip
def test_errors_name_the_option_and_value(value: str, message: str) -> None:
    with pytest.raises(OptionError) as err:
        parse_netdev(value)
    assert str(err.value).startswith("-netdev: ") and message in str(err.value)
    assert err.value.option == "-netdev"


def test_tap() -> None:
    assert parse_netdev("tap,id=t0") == TapNetdev("t0", None, "/etc/qemu-ifup", "/etc/qemu-ifdown")
    assert parse_netdev("tap,id=t0,ifname=tap7,script=no,downscript=no") == TapNetdev(
        "t0", "tap7", None, None)  # fmt: skip
    assert parse_netdev("tap,id=t0,script=/s,,x") == TapNetdev(
        "t0", None, "/s,x", "/etc/qemu-ifdown")  # fmt: skip


def test_socket_and_stream() -> None:
    assert parse_netdev("socket,id=s,listen=:1234") == StreamNetdev(
        "s", True, "", 1234, kind="socket")  # fmt: skip
    assert parse_netdev("socket,id=s,connect=[::1]:1234") == StreamNetdev(
        "s", False, "::1", 1234, kind="socket")  # fmt: skip
    assert parse_netdev("stream,id=s,server=on,addr.type=inet,addr.host=0.0.0.0,"
                        "addr.port=5555") == StreamNetdev("s", True, "0.0.0.0", 5555)  # fmt: skip
    spec = parse_netdev("stream,id=s,addr.type=unix,addr.path=/run/x.sock")
    assert spec == StreamNetdev("s", False, path="/run/x.sock")
    assert isinstance(spec, StreamNetdev) and spec.address_text == "unix:/run/x.sock"


def test_type_key_may_be_named() -> None:
    assert parse_netdev("type=user,id=n0") == UserNetdev("n0")


def test_mac() -> None:
    assert parse_mac("-device", "52:54:00:AB:cd:01") == bytes.fromhex("525400abcd01")
    assert parse_mac("-device", "52-54-00-ab-cd-01") == bytes.fromhex("525400abcd01")
    for bad, why in (("52:54:00:ab:cd", "not a MAC"), ("zz:54:00:ab:cd:01", "not a MAC"),
                     ("01:00:5e:00:00:01", "multicast")):  # fmt: skip
        with pytest.raises(OptionError, match=why):
            parse_mac("-device", bad)
