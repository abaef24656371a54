"""virtio-net (virtio 1.x, 5.1): one receive and one transmit queue on a NetBackend.

Offered: MAC, STATUS (link up) and MRG_RXBUF, besides the transport-common
features. No checksum or segmentation offloads, so every frame is a plain
Ethernet frame behind the 12-byte virtio_net_hdr.

Receive: the backend hands frames to `receive()`, which copies each into as
many receive chains as it needs (one without MRG_RXBUF) and says False when
the guest has not made enough buffers available: the backend then holds the
frame and pauses until the driver kicks the receive queue.
Transmit: a kick pops chains, strips the header and passes the frame to the
backend as views of guest memory; a backend that reports itself full stops
transmission until it calls `tx_ready()`.

Queue work (kicks, receive, tx_ready) runs on the VMM's main loop, as the
backend does; only status and config accesses come from vCPU threads.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from pyvirt.memory import GuestMemory
from pyvirt.net.backend import MAX_FRAME, NetBackend

from .device import ID_NET, VirtioDevice
from .queue import DescriptorChain, VirtQueue, VirtQueueError, split_views

F_MAC = 1 << 5
F_MRG_RXBUF = 1 << 15
F_STATUS = 1 << 16
S_LINK_UP = 1

RX, TX = 0, 1
QUEUE_SIZE = 256
# flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers
HDR = struct.Struct("<BBHHHHH")
HDR_LEN = HDR.size  # 12: VERSION_1 always has num_buffers
ETH_HLEN = 14
DEFAULT_MAC = bytes.fromhex("525400123456")


class VirtioNet(VirtioDevice):
    device_id = ID_NET
    name = "virtio-net"

    def __init__(
        self,
        mem: GuestMemory,
        backend: NetBackend,
        mac: bytes = DEFAULT_MAC,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        if len(mac) != 6 or mac[0] & 1:
            raise ValueError(f"{mac.hex(':')} is not a unicast MAC address")
        super().__init__(mem, [queue_size, queue_size], F_MAC | F_STATUS | F_MRG_RXBUF)
        self.backend = backend
        self.mac = bytes(mac)
        self.link_up = True
        self.tx_blocked = False  # the backend is full: wait for tx_ready()
        self.stats = backend.stats  # counted here, kept by the netdev across reboots
        self._update_config()
        backend.attach(self)

    def detach(self) -> None:
        """Unplug from the backend (the machine is going away)."""
        if self.backend.peer is self:
            self.backend.attach(None)

    # --- configuration ----------------------------------------------------------------

    def _update_config(self) -> None:
        status = S_LINK_UP if self.link_up else 0
        self.config = bytearray(self.mac + struct.pack("<HH", status, 1))  # 1 queue pair

    def set_link(self, up: bool) -> None:
        """Link status as the guest sees it (QMP set_link)."""
        with self.lock:
            self.link_up = up
            self._update_config()
            self.config_changed()

    def load_state(self, state: Mapping[str, Any]) -> None:
        super().load_state(state)
        self.link_up = bool(struct.unpack_from("<H", self.config, 6)[0] & S_LINK_UP)

    # --- life cycle (vCPU threads) --------------------------------------------------------

    def activate(self) -> None:
        loop = self.backend.loop
        if loop is not None:
            loop.call_soon_threadsafe(self._rx_ready)

    def on_reset(self) -> None:
        self.tx_blocked = False

    # --- queues (main loop) -----------------------------------------------------------------

    def queue_notify(self, index: int) -> None:
        if index == RX:
            self.backend.resume()
        elif index == TX:
            self._transmit()

    def _rx_ready(self) -> None:
        with self.lock:
            if self.running:
                self.backend.resume()

    def tx_ready(self) -> None:
        with self.lock:
            self.tx_blocked = False
        self.kick(TX)

    # --- receive --------------------------------------------------------------------------

    def receive(self, frame: bytes) -> bool:
        """A frame for the guest; False when it has no room (the backend holds it)."""
        with self.lock:
            if not self.running or not self.queues[RX].ready:
                return False
            if not self.link_up:
                return True  # a cable with no carrier: the frame is lost
            try:
                return self._fill_rx(frame)
            except VirtQueueError as e:
                self.fail(f"queue {RX}: {e}")
                return False

    def _take_rx_chains(self, queue: VirtQueue, need: int) -> list[DescriptorChain] | None:
        """Pop chains until `need` bytes fit (one chain without MRG_RXBUF), or None if too few."""
        mergeable = self.has_feature(F_MRG_RXBUF)
        chains: list[DescriptorChain] = []
        room = 0
        try:
            while room < need and (mergeable or not chains):
                chain = queue.pop()
                if chain is None:
                    for _ in chains:
                        queue.undo_pop()
                    return None
                chains.append(chain)
                if chain.readable or not chain.writable_len:
                    raise VirtQueueError(f"receive chain {chain.head} is read-only or empty")
                if len(chains) == 1 and chain.writable_len < HDR_LEN:
                    raise VirtQueueError(f"receive chain {chain.head} is shorter than the header")
                room += chain.writable_len
        except VirtQueueError:
            for chain in chains:
                chain.release()
            raise
        return chains

    def _fill_rx(self, frame: bytes) -> bool:
        queue = self.queues[RX]
        need = HDR_LEN + len(frame)
        chains = self._take_rx_chains(queue, need)
        if chains is None:
            return False
        if sum(c.writable_len for c in chains) < need:  # one buffer, without MRG_RXBUF
            chains[0].release()
            queue.undo_pop()
            self.stats.rx_drop += 1  # larger than the guest's buffers, as QEMU drops it
            return True
        view = memoryview(frame)
        pos = 0
        lengths = []
        for i, chain in enumerate(chains):
            offset = 0
            if i == 0:
                chain.write(HDR.pack(0, 0, 0, 0, 0, 0, len(chains)))
                offset = HDR_LEN
            count = min(chain.writable_len - offset, len(view) - pos)
            chain.write(view[pos : pos + count], offset)
            pos += count
            lengths.append(offset + count)
        for chain, length in zip(chains, lengths, strict=True):
            queue.push(chain, length)
        self.stats.rx_packets += 1
        self.stats.rx_bytes += len(frame)
        self.used(RX)
        return True

    # --- transmit ---------------------------------------------------------------------------

    def _transmit(self) -> None:
        queue = self.queues[TX]
        sent = False
        while not self.tx_blocked and (chain := queue.pop()) is not None:
            if chain.writable or chain.readable_len < HDR_LEN:
                chain.release()
                raise VirtQueueError(
                    f"transmit chain {chain.head} is not a header and a frame, device-readable"
                )
            length = chain.readable_len - HDR_LEN
            if ETH_HLEN <= length <= MAX_FRAME:
                _, parts = split_views(chain.readable, HDR_LEN)
                self.tx_blocked = not self.backend.send(parts)
                for part in parts:
                    part.release()
                self.stats.tx_packets += 1
                self.stats.tx_bytes += length
            else:
                self.stats.tx_drop += 1
            queue.push(chain, 0)
            sent = True
        if sent:
            self.used(TX)
