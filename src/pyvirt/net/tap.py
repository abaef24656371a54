"""-netdev tap: a host tap interface (/dev/net/tun, IFF_TAP | IFF_NO_PI); needs root.

As in QEMU, `ifname=` names the interface (created, or attached to when it
exists and is a tap), and the interface is handed to `script` (default
/etc/qemu-ifup) once open and to `downscript` when the backend closes.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import struct
import subprocess
from collections.abc import Sequence

from pyvirt.net.backend import MAX_FRAME, Buffer, NetBackend, OutputQueue
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.netdev_options import TapNetdev

log = logging.getLogger(__name__)

TUN_DEVICE = "/dev/net/tun"
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
_IFREQ = struct.Struct("16sH22x")
_NEEDS_ROOT = " (the tap backend needs root or CAP_NET_ADMIN)"
FRAMES_PER_WAKEUP = 64  # frames read per readable event before the loop runs others


def _run_script(script: str, ifname: str, what: str) -> None:
    try:
        proc = subprocess.run([script, ifname], stdin=subprocess.DEVNULL, check=False)
    except OSError as e:
        raise VmmError(f"-netdev tap: could not run {what} '{script}': {e.strerror}") from None
    if proc.returncode != 0:
        raise VmmError(f"-netdev tap: network {what} {script} failed with status {proc.returncode}")


class TapBackend(NetBackend):
    kind = "tap"

    def __init__(self, spec: TapNetdev) -> None:
        super().__init__(spec.id)
        self.spec = spec
        self.fd, self.ifname = self._open(spec.ifname or "")
        self.reading = False
        self.output = OutputQueue(self, self.fd, self._writev, self._write_error)
        if spec.script is not None:
            try:
                _run_script(spec.script, self.ifname, "script")
            except VmmError:
                os.close(self.fd)
                raise

    @staticmethod
    def _open(name: str) -> tuple[int, str]:
        try:
            fd = os.open(TUN_DEVICE, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            hint = _NEEDS_ROOT if e.errno in (errno.EACCES, errno.EPERM) else ""
            raise VmmError(f"-netdev tap: cannot open {TUN_DEVICE}: {e.strerror}{hint}") from None
        ifreq = bytearray(_IFREQ.pack(name.encode(), IFF_TAP | IFF_NO_PI))
        try:
            fcntl.ioctl(fd, TUNSETIFF, ifreq)
        except OSError as e:
            os.close(fd)
            hint = ""
            if e.errno == errno.EPERM:
                hint = _NEEDS_ROOT
            elif e.errno in (errno.EINVAL, errno.EBUSY):
                hint = f" ('{name}' exists and is not a tap, or is in use)"
            raise VmmError(
                f"-netdev tap: could not configure {TUN_DEVICE} ({name or 'tap%d'}): "
                f"{e.strerror}{hint}"
            ) from None
        ifname = _IFREQ.unpack(ifreq)[0].rstrip(b"\0").decode()
        return fd, ifname

    def _set_reading(self, on: bool) -> None:
        if self.loop is None or self.fd < 0 or on == self.reading:
            return
        if on:
            self.loop.add_reader(self.fd, self._readable)
        else:
            self.loop.remove_reader(self.fd)
        self.reading = on

    def _readable(self) -> None:
        for _ in range(FRAMES_PER_WAKEUP):
            if self.paused or self.fd < 0:
                return
            try:
                frame = os.read(self.fd, MAX_FRAME)
            except BlockingIOError:
                return
            except OSError as e:
                log.warning("netdev %s: reading %s: %s", self.id, self.ifname, e)
                return
            if frame:
                self.deliver(frame)

    def _writev(self, parts: Sequence[Buffer]) -> int:
        return os.writev(self.fd, parts)

    def _write_error(self, error: OSError) -> None:
        # e.g. EIO while the interface is down: the frame is lost, as on a real link
        self.stats.tx_drop += 1
        log.debug("netdev %s: writing to %s: %s", self.id, self.ifname, error)

    def send(self, parts: Sequence[Buffer]) -> bool:
        if self.fd < 0:
            return True
        return self.output.send(parts)

    def close(self) -> None:
        super().close()
        if self.fd < 0:
            return
        self._set_reading(False)
        self.output.clear()
        os.close(self.fd)
        self.fd = -1
        if self.spec.downscript is not None:
            try:
                _run_script(self.spec.downscript, self.ifname, "downscript")
            except VmmError as e:
                log.warning("%s", e)
