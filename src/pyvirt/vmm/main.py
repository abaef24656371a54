"""pyvirt-qemu: the x86-64 VMM, with a qemu-system-x86_64 compatible command line."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable

from pyvirt import __version__
from pyvirt.kvm import Kvm, KvmIoctlError, KvmUnavailable
from pyvirt.machine.x86.cpuid import CPU_MODELS, FEATURES
from pyvirt.machine.x86.loader import BootError
from pyvirt.vmm.device_options import DEVICE_TYPES
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.options import DEVICES, MACHINES, X86_64, Target, VmmConfig, parse_args
from pyvirt.vmm.runner import PROG, Vmm, write_pidfile

QEMU_COMPAT_VERSION = "7.2.0"

USAGE = f"""\
usage: {PROG} [options]

pyvirt's VMM: runs an x86-64 guest on /dev/kvm. It accepts this subset of
qemu-system-x86_64's options, with QEMU's syntax; any other option is an error.

Machine:
-machine [type=]pc[,accel=kvm]   the PC board (-machine help lists machines)
-accel kvm | -enable-kvm          hardware acceleration (the only accelerator here)
-cpu host[,+feat][,-feat]         CPUID model and features to add or mask (-cpu help)
-m [size=]SIZE                    guest RAM, MiB unless suffixed (k, M, G, T); default 128M
-smp [cpus=]N[,cores=N]           number of vCPUs, one host thread each
-name [guest=]NAME[,debug-threads=on]   (query-name)
-device isa-debug-exit[,iobase=ADDR][,iosize=1|2|4]
                                  a port whose writes end the VMM with (value << 1) | 1

Boot:
-kernel FILE    bzImage (Linux boot protocol), ELF with a PVH note, or multiboot v1 image
-initrd FILE    initial ram disk (for multiboot: "mod1 args,mod2" modules)
-append CMDLINE kernel command line
-bios FILE      firmware image mapped below 4 GiB and started at the reset vector

Display and character devices:
-nographic      no display; COM1 on stdio in raw mode; Ctrl-a h for help, Ctrl-a x quits
-display none   no display
-serial DEV     stdio, mon:stdio, file:PATH, unix:PATH[,server][,nowait], tcp:HOST:PORT[,...],
                pty, null, none, chardev:ID (one per COM port, up to 4)
-chardev BACKEND,id=ID[,...]
                stdio[,signal=on|off], file,path=P, pty, null,
                socket,path=P|host=H,port=N[,server=on][,wait=off]

Control (QMP, QEMU's machine protocol):
-qmp unix:PATH,server=on[,wait=off] | tcp:HOST:PORT,server=on[,wait=off]
-chardev socket,id=ID,path=PATH,server=on,wait=off -mon chardev=ID,mode=control
-S              start paused (QMP cont starts the guest)
-uuid UUID      the VM's UUID (query-uuid, fw_cfg)
-incoming file:PATH | exec:CMD | defer
                restore a snapshot taken with QMP migrate (defer: wait for migrate-incoming)

Other:
-nodefaults     no default devices (no default serial port)
-no-reboot      exit instead of rebooting when the guest resets
-pidfile FILE   write the VMM's process id to FILE
-version        print the version
-h, -help       print this help
"""


def _listing(action: str) -> str:
    if action == "machine-help":
        rows = [f"{name:<20} {desc} (default)" for name, desc in MACHINES.items()]
        return "Supported machines are:\n" + "\n".join(rows)
    if action == "cpu-help":
        models = "\n".join(
            f"x86 {m:<16} KVM processor with all supported host features" for m in CPU_MODELS
        )
        return f"Available CPUs:\n{models}\n\nRecognized CPUID flags:\n  " + " ".join(
            sorted(FEATURES)
        )
    if action == "device-help":
        buses = {"pci": "PCI", "mmio": "virtio-bus", None: "virtio-serial-bus"}
        rows = [f'name "{n}", bus ISA, desc "{d}"' for n, d in DEVICES.items()]
        rows += [f'name "{n}", bus {buses[t.transport]}, desc "{t.description}"'
                 for n, t in DEVICE_TYPES.items()]  # fmt: skip
        return "Supported devices:\n" + "\n".join(rows)
    return "Available display backend types:\nnone"


def setup_logging(prog: str) -> None:
    level = os.environ.get("PYVIRT_LOG", "WARNING").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.WARNING), format=f"{prog}: %(name)s: %(message)s"
    )


def run(config: VmmConfig) -> int:
    kvm = Kvm()
    kvm.require()
    if config.cpus > kvm.max_vcpus():
        raise VmmError(
            f"-smp {config.cpus}: this host's KVM supports at most {kvm.max_vcpus()} vCPUs"
        )
    return run_vmm(Vmm(config, kvm))


def run_vmm(vmm: Vmm) -> int:
    """Open what the VM needs from the host, write the pidfile, run the VM."""
    config = vmm.config
    vmm.open_host_resources()
    if config.pidfile:
        write_pidfile(config.pidfile)
    try:
        return vmm.run()
    finally:
        if config.pidfile:
            with contextlib.suppress(OSError):
                os.unlink(config.pidfile)


def cli(
    argv: list[str] | None,
    *,
    prog: str,
    target: Target,
    usage: str,
    listing: Callable[[str], str],
    run_config: Callable[[VmmConfig], int],
) -> int:
    """A pyvirt-qemu command: parse, answer -version/-help/listings, or run the VM."""
    setup_logging(prog)
    args = sys.argv[1:] if argv is None else argv
    try:
        config = parse_args(args, target)
        if config.action == "version":
            print(
                f"{prog} version {__version__} "
                f"(pyvirt; qemu-system-{target.arch} {QEMU_COMPAT_VERSION} command-line subset)"
            )
            return 0
        if config.action == "help":
            print(usage, end="")
            return 0
        if config.action != "run":
            print(listing(config.action))
            return 0
        return run_config(config)
    except (VmmError, BootError, KvmUnavailable) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    except KvmIoctlError as e:
        print(f"{prog}: KVM refused an operation: {e.strerror}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    return cli(argv, prog=PROG, target=X86_64, usage=USAGE, listing=_listing, run_config=run)
