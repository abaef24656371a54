"""What a machine borrows from the VMM process and keeps across reboots.

Chardevs, open disk images and network backends belong to the VMM: a guest
reboot builds a new machine, but the disks stay open and the console stays
connected.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyvirt.block.accounting import BlockAccounting
from pyvirt.block.driver import BlockDriver


class CharBackend(Protocol):
    """The host end of a character device (a VMM chardev)."""

    def write(self, data: bytes) -> None: ...

    def set_receiver(self, receiver: Callable[[bytes], None] | None) -> None: ...


@dataclass
class HostResources:
    loop: asyncio.AbstractEventLoop
    executor: concurrent.futures.Executor
    chardevs: Mapping[str, CharBackend] = field(default_factory=dict)
    images: Mapping[str, BlockDriver] = field(default_factory=dict)
    block_stats: Mapping[str, BlockAccounting] = field(default_factory=dict)  # by drive, as images
    netdevs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VirtioConfig:
    """One virtio device of the machine, in the machine's terms."""

    kind: str  # blk, net, console, rng
    transport: str  # pci or mmio
    slot: int | None = None  # PCI slot; None: the next free one
    drive: str | None = None  # blk: key into HostResources.images
    netdev: str | None = None  # net: key into HostResources.netdevs
    chardev: str | None = None  # console: key into HostResources.chardevs (None: no port)
    serial: str = ""  # blk: what GET_ID answers
    mac: bytes | None = None  # net; None: QEMU's default 52:54:00:12:34:56
    discard: bool = True
    write_zeroes: bool = True
    max_bytes: int | None = None  # rng rate limit, per period_ms
    period_ms: int = 1000
