"""pyvirt-qemu-riscv64: the RISC-V VMM on the software CPU, with a qemu-system-riscv64
compatible command line."""

from __future__ import annotations

from pyvirt.vmm.device_options import DEVICE_TYPES
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.main import cli, run_vmm
from pyvirt.vmm.options import RISCV64, VmmConfig
from pyvirt.vmm.riscv_runner import PROG, RiscvVmm

USAGE = f"""\
usage: {PROG} [options]

pyvirt's RISC-V VMM: runs a 64-bit RISC-V guest (RV64IMAC, Sv39) on pyvirt's
software CPU. It accepts this subset of qemu-system-riscv64's options, with
QEMU's syntax; any other option is an error.

Machine:
-machine [type=]virt[,accel=tcg] QEMU's virt board (-machine help lists machines)
-accel tcg                       the software CPU (the only accelerator here)
-m [size=]SIZE                   guest RAM at 0x80000000, MiB unless suffixed; default 128M
-smp [cpus=]N                    number of harts, one host thread each
-name [guest=]NAME

Boot:
-bios default|none|FILE  firmware at 0x80000000 (default: OpenSBI fw_dynamic);
                         none: run the -kernel ELF at its entry in M-mode
-kernel FILE             kernel (Image or ELF), at 0x80200000 after the firmware
-initrd FILE             initial ram disk, in the device tree's /chosen
-append CMDLINE          kernel command line (/chosen bootargs)

Devices (virtio-mmio, 8 slots from 0x10001000, PLIC sources 1-8):
-drive file=IMG,if=virtio|none,format=raw|qcow2,...   -blockdev ...
-device virtio-blk-device,drive=ID   -netdev ...,id=ID -device virtio-net-device,netdev=ID
-device virtio-rng-device   -device virtio-serial-device -device virtconsole,chardev=ID

Display and character devices:
-nographic      no display; the UART on stdio in raw mode; Ctrl-a h for help, Ctrl-a x quits
-display none   no display
-serial DEV     stdio, mon:stdio, file:PATH, unix:PATH[,server][,nowait], tcp:HOST:PORT[,...],
                pty, null, none, chardev:ID (the one UART at 0x10000000)
-chardev BACKEND,id=ID[,...]

Control (QMP):
-qmp unix:PATH,server=on[,wait=off] | tcp:HOST:PORT,server=on[,wait=off]
-chardev socket,id=ID,...,server=on -mon chardev=ID,mode=control
-S              start paused (QMP cont starts the guest)
-uuid UUID

Other:
-nodefaults     no default devices
-no-reboot      exit instead of rebooting when the guest resets
-pidfile FILE   write the VMM's process id to FILE
-version        print the version
-h, -help       print this help
"""


def _listing(action: str) -> str:
    if action == "machine-help":
        rows = [f"{name:<20} {desc} (default)" for name, desc in RISCV64.machines.items()]
        return "Supported machines are:\n" + "\n".join(rows)
    if action == "device-help":
        buses = {"mmio": "virtio-bus", None: "virtio-serial-bus"}
        rows = [f'name "{n}", bus {buses[t.transport]}, desc "{t.description}"'
                for n, t in DEVICE_TYPES.items() if t.transport != "pci"]  # fmt: skip
        return "Supported devices:\n" + "\n".join(rows)
    if action == "cpu-help":
        return "Available CPUs:\n  rv64"
    return "Available display backend types:\nnone"


def _run(config: VmmConfig) -> int:
    if len(config.serials) > 1:
        raise VmmError("-serial: the virt machine has one UART")
    return run_vmm(RiscvVmm(config))


def main(argv: list[str] | None = None) -> int:
    return cli(argv, prog=PROG, target=RISCV64, usage=USAGE, listing=_listing, run_config=_run)
