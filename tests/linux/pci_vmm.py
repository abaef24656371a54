"""pyvirt-qemu with a test virtio entropy device on PCI, until `-device virtio-rng-pci` exists.

Run as a script with pyvirt-qemu's options. Every machine the VMM builds
(one per boot) gets a `PatternEntropy` device behind virtio-pci; it fills the
driver's buffers with a known pattern, so the guest's /dev/hwrng output
proves the whole path: enumeration, BARs, queue setup, the ioeventfd kick and
the MSI-X interrupt.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pyvirt.hw.virtio.device import ID_RNG, VirtioDevice
from pyvirt.memory import GuestMemory
from pyvirt.vmm import main as vmm_main
from pyvirt.vmm import runner

PATTERN = b"pyvirt-entropy!\n"


class PatternEntropy(VirtioDevice):
    """A virtio entropy device whose "entropy" is PATTERN, repeated."""

    device_id = ID_RNG
    name = "rng"

    def __init__(self, mem: GuestMemory) -> None:
        super().__init__(mem, [64], 0)

    def queue_notify(self, index: int) -> None:
        queue = self.queues[index]
        for chain in queue:
            length = chain.writable_len
            data = (PATTERN * (length // len(PATTERN) + 1))[:length]
            queue.push(chain, chain.write(data))
        self.used(index)


def _machine_with_entropy(*args, **kwargs) -> runner.PcMachine:
    machine = _PcMachine(*args, **kwargs)
    machine.add_virtio_pci(PatternEntropy(machine.mem))
    return machine


_PcMachine = runner.PcMachine

if __name__ == "__main__":
    runner.PcMachine = _machine_with_entropy  # type: ignore[misc]
    sys.exit(vmm_main.main())
