"""-netdev user: unprivileged NAT through libslirp, the stack behind QEMU's own.

The guest sees QEMU's user network: by default 10.0.2.0/24, DHCP from
10.0.2.15, gateway 10.0.2.2, DNS 10.0.2.3 (IPv6: fec0::/64, fec0::2, fec0::3).

libslirp owns its host sockets and asks, through slirp_pollfds_fill, which
to watch for what; we mirror that interest set into the asyncio loop (readers
and writers), and when one fires or slirp's timeout passes, report the
sockets' readiness with slirp_pollfds_poll and ask again. While the guest has
no receive buffers the host sockets are not read, so TCP pushes back on the
remote end; what slirp still emits (timers, replies) waits in the bounded
queue of the base class.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import select
import time
from collections.abc import Sequence
from ipaddress import IPv6Address
from typing import Any

from pyvirt.net import libslirp as sl
from pyvirt.net.backend import MAX_FRAME, Buffer, NetBackend
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.netdev_options import HostFwd, UserNetdev

log = logging.getLogger(__name__)

IPV6_PREFIX = IPv6Address("fec0::")  # QEMU's ipv6-net default, fec0::/64
IPV6_PREFIX_LEN = 64
NO_TIMEOUT = 0xFFFFFFFF
_POLL_TO_SLIRP = (
    (select.POLLIN, sl.SLIRP_POLL_IN),
    (select.POLLOUT, sl.SLIRP_POLL_OUT),
    (select.POLLPRI, sl.SLIRP_POLL_PRI),
    (select.POLLERR, sl.SLIRP_POLL_ERR),
    (select.POLLHUP, sl.SLIRP_POLL_HUP),
)


def _slirp_to_poll(events: int) -> int:
    return sum(p for p, s in _POLL_TO_SLIRP if events & s) | select.POLLERR | select.POLLHUP


def _poll_to_slirp(revents: int) -> int:
    return sum(s for p, s in _POLL_TO_SLIRP if revents & p)


def hostfwd_text(rule: HostFwd) -> str:
    guest = rule.guest_addr or ""
    return (
        f"{'udp' if rule.udp else 'tcp'}:{rule.host_addr}:{rule.host_port}-"
        f"{guest}:{rule.guest_port}"
    )


class UserBackend(NetBackend):
    kind = "user"

    def __init__(self, spec: UserNetdev) -> None:
        super().__init__(spec.id)
        self.spec = spec
        try:
            self.lib = sl.load()
        except sl.LibslirpMissing as e:
            raise VmmError(f"-netdev user: {e}") from None
        self._keep: list[Any] = []  # C strings and callbacks slirp points to
        self._timers: dict[int, tuple[Any, int, asyncio.TimerHandle | None]] = {}
        self._next_timer = 1
        self._pollfds: list[tuple[int, int]] = []  # (fd, poll events) from the last fill
        self._revents: list[int] = []
        self._watched: dict[int, tuple[bool, bool]] = {}  # fd -> (reader, writer)
        self._wakeup: asyncio.TimerHandle | None = None
        self._in_cycle = False
        self._add_poll = sl.AddPollCb(self._on_add_poll)
        self._get_revents = sl.GetREventsCb(self._on_get_revents)
        self._callbacks = self._make_callbacks()
        self._config = self._make_config(spec)
        self.slirp = self.lib.slirp_new(
            ctypes.byref(self._config), ctypes.byref(self._callbacks), None
        )
        if not self.slirp:
            raise VmmError(f"-netdev user,id={spec.id}: libslirp refused the configuration")
        for rule in spec.hostfwd:
            self._add_hostfwd(rule)

    # --- configuration --------------------------------------------------------------------

    def _cstr(self, text: str | None) -> bytes | None:
        if text is None:
            return None
        data = text.encode()
        self._keep.append(data)
        return data

    def _make_config(self, spec: UserNetdev) -> sl.SlirpConfig:
        cfg = sl.SlirpConfig()
        cfg.version = sl.CONFIG_VERSION
        cfg.restricted = int(spec.restrict)
        cfg.in_enabled = spec.ipv4
        cfg.vnetwork = sl.InAddr.of(spec.net.network_address)
        cfg.vnetmask = sl.InAddr.of(spec.net.netmask)
        cfg.vhost = sl.InAddr.of(spec.host)
        cfg.in6_enabled = spec.ipv6
        cfg.vprefix_addr6 = sl.In6Addr.of(IPV6_PREFIX)
        cfg.vprefix_len = IPV6_PREFIX_LEN
        cfg.vhost6 = sl.In6Addr.of(IPV6_PREFIX + 2)
        cfg.vnameserver6 = sl.In6Addr.of(IPV6_PREFIX + 3)
        cfg.vhostname = self._cstr(spec.hostname)
        cfg.vdhcp_start = sl.InAddr.of(spec.dhcpstart)
        cfg.vnameserver = sl.InAddr.of(spec.dns)
        if spec.dnssearch:
            names = (ctypes.c_char_p * (len(spec.dnssearch) + 1))(
                *(self._cstr(n) for n in spec.dnssearch), None
            )
            self._keep.append(names)
            cfg.vdnssearch = ctypes.cast(names, ctypes.POINTER(ctypes.c_char_p))
        cfg.vdomainname = self._cstr(spec.domainname)
        cfg.if_mtu = 0  # libslirp's defaults (1500)
        cfg.if_mru = 0
        return cfg

    def _make_callbacks(self) -> sl.SlirpCb:
        cb = sl.SlirpCb()
        cb.send_packet = sl.SendPacketCb(self._on_send_packet)
        cb.guest_error = sl.GuestErrorCb(self._on_guest_error)
        cb.clock_get_ns = sl.ClockGetNsCb(lambda _opaque: time.monotonic_ns())
        cb.timer_new = sl.TimerNewCb(self._on_timer_new)
        cb.timer_free = sl.TimerFreeCb(self._on_timer_free)
        cb.timer_mod = sl.TimerModCb(self._on_timer_mod)
        cb.register_poll_fd = sl.PollFdCb(lambda _fd, _opaque: None)
        cb.unregister_poll_fd = sl.PollFdCb(self._on_unregister_poll_fd)
        cb.notify = sl.NotifyCb(lambda _opaque: self._schedule(0))
        # init_completed and timer_new_opaque stay NULL: libslirp then uses timer_new
        return cb

    def _add_hostfwd(self, rule: HostFwd) -> None:
        guest = sl.InAddr.of(rule.guest_addr) if rule.guest_addr else sl.InAddr(0)
        status = self.lib.slirp_add_hostfwd(
            self.slirp, int(rule.udp), sl.InAddr.of(rule.host_addr), rule.host_port,
            guest, rule.guest_port,
        )  # fmt: skip
        if status < 0:
            self.lib.slirp_cleanup(self.slirp)
            self.slirp = None
            raise VmmError(
                f"-netdev user,id={self.id}: could not set up host forwarding rule "
                f"'{hostfwd_text(rule)}' (is the host port in use?)"
            )

    # --- libslirp's callbacks (never raise into C) -------------------------------------------

    def _on_send_packet(self, buf: int, length: int, _opaque: int) -> int:
        if 0 < length <= MAX_FRAME and not self.closed:
            try:
                self.deliver(ctypes.string_at(buf, length))
            except Exception:
                log.exception("netdev %s: delivering a frame to the guest", self.id)
        return length

    def _on_guest_error(self, msg: bytes, _opaque: int) -> None:
        log.warning("netdev %s: guest error: %s", self.id, msg.decode(errors="replace"))

    def _on_timer_new(self, cb: int, cb_opaque: int, _opaque: int) -> int:
        handle = self._next_timer
        self._next_timer += 1
        self._timers[handle] = (sl.TimerCb(cb), cb_opaque or 0, None)
        return handle

    def _on_timer_free(self, handle: int, _opaque: int) -> None:
        entry = self._timers.pop(handle or 0, None)
        if entry is not None and entry[2] is not None:
            entry[2].cancel()

    def _on_timer_mod(self, handle: int, expire_ms: int, _opaque: int) -> None:
        entry = self._timers.get(handle or 0)
        if entry is None or self.loop is None:
            return
        func, cb_opaque, pending = entry
        if pending is not None:
            pending.cancel()
        delay = max(0.0, expire_ms / 1000 - time.monotonic_ns() / 1e9)
        timer = self.loop.call_later(delay, self._fire_timer, handle)
        self._timers[handle] = (func, cb_opaque, timer)

    def _fire_timer(self, handle: int) -> None:
        entry = self._timers.get(handle)
        if entry is None or self.slirp is None:
            return
        func, cb_opaque, _ = entry
        self._timers[handle] = (func, cb_opaque, None)
        func(cb_opaque)
        self._schedule(0)

    def _on_unregister_poll_fd(self, fd: int, _opaque: int) -> None:
        """slirp is about to close fd: forget it before its number is reused."""
        self._watch(fd, False, False)

    def _on_add_poll(self, fd: int, events: int, _opaque: int) -> int:
        self._pollfds.append((fd, _slirp_to_poll(events)))
        return len(self._pollfds) - 1

    def _on_get_revents(self, index: int, _opaque: int) -> int:
        if 0 <= index < len(self._revents):
            return self._revents[index]
        return 0

    # --- the poll cycle ----------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        super().start(loop)
        self._cycle()

    def _schedule(self, delay: float) -> None:
        if self.loop is None or self.slirp is None:
            return
        if self._wakeup is not None:
            if self._wakeup.when() <= self.loop.time() + delay:
                return
            self._wakeup.cancel()
        self._wakeup = self.loop.call_later(delay, self._cycle)

    def _cycle(self) -> None:
        """Report which host sockets are ready, let slirp act, and ask what to watch next."""
        if self.slirp is None or self._in_cycle:
            return
        self._in_cycle = True
        try:
            if self._wakeup is not None:
                self._wakeup.cancel()
                self._wakeup = None
            self._revents = self._ready(self._pollfds)
            self.lib.slirp_pollfds_poll(self.slirp, 0, self._get_revents, None)
            self._pollfds = []
            timeout = ctypes.c_uint32(NO_TIMEOUT)
            self.lib.slirp_pollfds_fill(self.slirp, ctypes.byref(timeout), self._add_poll, None)
            self._sync_watches()
        finally:
            self._in_cycle = False
        if timeout.value != NO_TIMEOUT:
            self._schedule(timeout.value / 1000)

    def _ready(self, pollfds: list[tuple[int, int]]) -> list[int]:
        if not pollfds:
            return []
        poller = select.poll()
        wanted: dict[int, int] = {}
        for fd, events in pollfds:
            wanted[fd] = wanted.get(fd, 0) | events
        for fd, events in wanted.items():
            poller.register(fd, events)
        ready = dict(poller.poll(0))
        return [_poll_to_slirp(ready.get(fd, 0) & (events | select.POLLERR | select.POLLHUP
                                                   | select.POLLNVAL))
                for fd, events in pollfds]  # fmt: skip

    def _sync_watches(self) -> None:
        wanted: dict[int, tuple[bool, bool]] = {}
        for fd, events in self._pollfds:
            read, write = wanted.get(fd, (False, False))
            read |= bool(events & (select.POLLIN | select.POLLPRI)) and not self.paused
            write |= bool(events & select.POLLOUT)
            wanted[fd] = (read, write)
        for fd in list(self._watched):
            if fd not in wanted:
                self._watch(fd, False, False)
        for fd, (read, write) in wanted.items():
            self._watch(fd, read, write)

    def _watch(self, fd: int, read: bool, write: bool) -> None:
        if self.loop is None:
            return
        old_read, old_write = self._watched.get(fd, (False, False))
        try:
            if read != old_read:
                if read:
                    self.loop.add_reader(fd, self._cycle)
                else:
                    self.loop.remove_reader(fd)
            if write != old_write:
                if write:
                    self.loop.add_writer(fd, self._cycle)
                else:
                    self.loop.remove_writer(fd)
        except OSError as e:  # closed behind our back: the next fill will not list it
            log.debug("netdev %s: watching fd %d: %s", self.id, fd, e)
            read = write = False
        if read or write:
            self._watched[fd] = (read, write)
        else:
            self._watched.pop(fd, None)

    def _set_reading(self, on: bool) -> None:
        if self.loop is None or self.slirp is None:
            return
        if on:
            self._schedule(0)  # a fresh fill decides what to watch
        else:
            for fd, (_, write) in list(self._watched.items()):
                self._watch(fd, False, write)

    # --- frames from the guest ---------------------------------------------------------------

    def send(self, parts: Sequence[Buffer]) -> bool:
        if self.slirp is None:
            return True
        frame = b"".join(parts)
        if len(frame) > MAX_FRAME:
            self.stats.tx_drop += 1
            return True
        self.lib.slirp_input(self.slirp, frame, len(frame))
        self._schedule(0)  # slirp may have opened sockets to watch
        return True

    def close(self) -> None:
        super().close()
        for fd in list(self._watched):
            self._watch(fd, False, False)
        for _, _, timer in self._timers.values():
            if timer is not None:
                timer.cancel()
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
        if self.slirp is not None:
            self.lib.slirp_cleanup(self.slirp)
            self.slirp = None
        self._timers.clear()
