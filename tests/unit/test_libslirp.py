"""The ctypes layouts of libslirp's SlirpConfig and SlirpCb match libslirp.h (4.7, x86-64):
offsets as the C compiler lays them out (offsetof), checked once with libslirp-dev."""

from __future__ import annotations

import ctypes

from pyvirt.net.libslirp import In6Addr, InAddr, SlirpCb, SlirpConfig

CONFIG_OFFSETS = {
    "version": 0, "restricted": 4, "in_enabled": 8, "vnetwork": 12, "vnetmask": 16,
    "vhost": 20, "in6_enabled": 24, "vprefix_addr6": 28, "vprefix_len": 44, "vhost6": 48,
    "vhostname": 64, "tftp_server_name": 72, "tftp_path": 80, "bootfile": 88,
    "vdhcp_start": 96, "vnameserver": 100, "vnameserver6": 104, "vdnssearch": 120,
    "vdomainname": 128, "if_mtu": 136, "if_mru": 144, "disable_host_loopback": 152,
    "enable_emu": 153, "outbound_addr": 160, "outbound_addr6": 168, "disable_dns": 176,
    "disable_dhcp": 177,
}  # fmt: skip


def test_slirp_config_layout() -> None:
    assert ctypes.sizeof(SlirpConfig) == 184
    assert {name: getattr(SlirpConfig, name).offset for name, _ in SlirpConfig._fields_} == (
        CONFIG_OFFSETS
    )


def test_slirp_cb_layout() -> None:
    assert ctypes.sizeof(SlirpCb) == 11 * 8  # eleven function pointers
    assert SlirpCb.timer_new_opaque.offset == 80


def test_addresses_are_in_network_order() -> None:
    from ipaddress import IPv4Address, IPv6Address

    assert bytes(InAddr.of(IPv4Address("10.0.2.15"))) == bytes([10, 0, 2, 15])
    assert bytes(In6Addr.of(IPv6Address("fec0::3"))) == b"\xfe\xc0" + bytes(13) + b"\x03"
