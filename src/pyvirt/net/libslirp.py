"""ctypes bindings for libslirp (Debian's libslirp0), the user-mode stack QEMU uses.

Only what the user backend needs: SlirpConfig (versions 1-4), the SlirpCb
callback table, slirp_new/cleanup, input, the poll-fd protocol and hostfwd.
The layouts follow libslirp.h (4.7); tests/unit/test_libslirp.py checks them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_int64,
    c_size_t,
    c_ssize_t,
    c_uint8,
    c_uint32,
    c_void_p,
)
from ipaddress import IPv4Address, IPv6Address

SLIRP_POLL_IN = 1 << 0
SLIRP_POLL_OUT = 1 << 1
SLIRP_POLL_PRI = 1 << 2
SLIRP_POLL_ERR = 1 << 3
SLIRP_POLL_HUP = 1 << 4
CONFIG_VERSION = 4  # libslirp >= 4.7 takes 1..4; we fill the fields of all of them


class InAddr(Structure):
    _fields_ = [("s_addr", c_uint32)]  # network byte order

    @classmethod
    def of(cls, addr: IPv4Address) -> InAddr:
        return cls.from_buffer_copy(addr.packed)


class In6Addr(Structure):
    _fields_ = [("s6_addr32", c_uint32 * 4)]  # a union in C; 4-byte aligned

    @classmethod
    def of(cls, addr: IPv6Address) -> In6Addr:
        return cls.from_buffer_copy(addr.packed)


class SlirpConfig(Structure):
    _fields_ = [
        ("version", c_uint32),
        # version 1
        ("restricted", c_int),
        ("in_enabled", c_bool),
        ("vnetwork", InAddr),
        ("vnetmask", InAddr),
        ("vhost", InAddr),
        ("in6_enabled", c_bool),
        ("vprefix_addr6", In6Addr),
        ("vprefix_len", c_uint8),
        ("vhost6", In6Addr),
        ("vhostname", c_char_p),
        ("tftp_server_name", c_char_p),
        ("tftp_path", c_char_p),
        ("bootfile", c_char_p),
        ("vdhcp_start", InAddr),
        ("vnameserver", InAddr),
        ("vnameserver6", In6Addr),
        ("vdnssearch", POINTER(c_char_p)),
        ("vdomainname", c_char_p),
        ("if_mtu", c_size_t),
        ("if_mru", c_size_t),
        ("disable_host_loopback", c_bool),
        ("enable_emu", c_bool),
        # version 2
        ("outbound_addr", c_void_p),
        ("outbound_addr6", c_void_p),
        # version 3
        ("disable_dns", c_bool),
        # version 4
        ("disable_dhcp", c_bool),
    ]


SendPacketCb = CFUNCTYPE(c_ssize_t, c_void_p, c_size_t, c_void_p)
GuestErrorCb = CFUNCTYPE(None, c_char_p, c_void_p)
ClockGetNsCb = CFUNCTYPE(c_int64, c_void_p)
TimerCb = CFUNCTYPE(None, c_void_p)
# timer_new gets the C function pointer as an address: TimerCb(address) calls it.
TimerNewCb = CFUNCTYPE(c_void_p, c_void_p, c_void_p, c_void_p)
TimerFreeCb = CFUNCTYPE(None, c_void_p, c_void_p)
TimerModCb = CFUNCTYPE(None, c_void_p, c_int64, c_void_p)
PollFdCb = CFUNCTYPE(None, c_int, c_void_p)
NotifyCb = CFUNCTYPE(None, c_void_p)
InitCompletedCb = CFUNCTYPE(None, c_void_p, c_void_p)
TimerNewOpaqueCb = CFUNCTYPE(c_void_p, c_int, c_void_p, c_void_p)
AddPollCb = CFUNCTYPE(c_int, c_int, c_int, c_void_p)
GetREventsCb = CFUNCTYPE(c_int, c_int, c_void_p)


class SlirpCb(Structure):
    _fields_ = [
        ("send_packet", SendPacketCb),
        ("guest_error", GuestErrorCb),
        ("clock_get_ns", ClockGetNsCb),
        ("timer_new", TimerNewCb),
        ("timer_free", TimerFreeCb),
        ("timer_mod", TimerModCb),
        ("register_poll_fd", PollFdCb),
        ("unregister_poll_fd", PollFdCb),
        ("notify", NotifyCb),
        # version 4
        ("init_completed", InitCompletedCb),
        ("timer_new_opaque", TimerNewOpaqueCb),
    ]


class LibslirpMissing(OSError):
    """libslirp0 is not installed."""


_lib: ctypes.CDLL | None = None


def load() -> ctypes.CDLL:
    """The library with its prototypes; raises LibslirpMissing when it is not installed."""
    global _lib
    if _lib is not None:
        return _lib
    name = ctypes.util.find_library("slirp") or "libslirp.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError as e:
        raise LibslirpMissing(f"cannot load libslirp ({e}); apt-get install libslirp0") from None
    lib.slirp_new.argtypes = [POINTER(SlirpConfig), POINTER(SlirpCb), c_void_p]
    lib.slirp_new.restype = c_void_p
    lib.slirp_cleanup.argtypes = [c_void_p]
    lib.slirp_cleanup.restype = None
    lib.slirp_input.argtypes = [c_void_p, c_char_p, c_int]
    lib.slirp_input.restype = None
    lib.slirp_pollfds_fill.argtypes = [c_void_p, POINTER(c_uint32), AddPollCb, c_void_p]
    lib.slirp_pollfds_fill.restype = None
    lib.slirp_pollfds_poll.argtypes = [c_void_p, c_int, GetREventsCb, c_void_p]
    lib.slirp_pollfds_poll.restype = None
    lib.slirp_add_hostfwd.argtypes = [c_void_p, c_int, InAddr, c_int, InAddr, c_int]
    lib.slirp_add_hostfwd.restype = c_int
    lib.slirp_version_string.argtypes = []
    lib.slirp_version_string.restype = c_char_p
    _lib = lib
    return lib


def version() -> str:
    return load().slirp_version_string().decode()
