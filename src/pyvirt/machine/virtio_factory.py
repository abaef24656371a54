"""Build virtio device models from the machine's description of them."""

from __future__ import annotations

from pyvirt.hw.virtio.blk import VirtioBlk
from pyvirt.hw.virtio.console import VirtioConsole
from pyvirt.hw.virtio.device import VirtioDevice
from pyvirt.hw.virtio.net import DEFAULT_MAC, VirtioNet
from pyvirt.hw.virtio.rng import VirtioRng
from pyvirt.memory import GuestMemory

from .host import HostResources, VirtioConfig


def create_virtio(cfg: VirtioConfig, mem: GuestMemory, host: HostResources) -> VirtioDevice:
    if cfg.kind == "blk":
        assert cfg.drive is not None
        return VirtioBlk(
            mem,
            host.images[cfg.drive],
            loop=host.loop,
            executor=host.executor,
            serial=cfg.serial,
            discard=cfg.discard,
            write_zeroes=cfg.write_zeroes,
            stats=host.block_stats.get(cfg.drive),
        )
    if cfg.kind == "rng":
        return VirtioRng(mem, max_bytes=cfg.max_bytes, period_ms=cfg.period_ms)
    if cfg.kind == "console":
        backend = host.chardevs.get(cfg.chardev) if cfg.chardev else None
        console = VirtioConsole(mem, backend.write if backend else _discard)
        if backend is not None:
            backend.set_receiver(console.receive)
        return console
    if cfg.kind == "net":
        assert cfg.netdev is not None
        return VirtioNet(mem, host.netdevs[cfg.netdev], mac=cfg.mac or DEFAULT_MAC)
    raise ValueError(f"no virtio device model for '{cfg.kind}'")


def close_virtio(device: VirtioDevice) -> None:
    """Release what a device model holds (in-flight I/O, host fds, its backend)."""
    with device.lock:
        device.reset()
    if isinstance(device, VirtioNet):
        device.detach()
    close = getattr(device, "close", None)
    if close is not None:
        close()


def _discard(data: bytes) -> None:
    pass
