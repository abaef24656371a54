"""pyvirt-install: virt-install's options for a VM from existing disks or a kernel, defined (or
created, --transient) through the daemon, started, and its console attached."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence

import pyvirt
from pyvirt.client import virConnect
from pyvirt.install import disks
from pyvirt.install.domain_xml import DomainSpec, NicSpec, build
from pyvirt.install.errors import InstallError
from pyvirt.install.suboptions import number, parse, split
from pyvirt.virsh.main import default_uri
from pyvirt.virterror import VirtError

USAGE = "pyvirt-install --name NAME --memory MB STORAGE INSTALL [options]"


def arguments() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyvirt-install", usage=USAGE)
    p.add_argument("--connect", metavar="URI")
    p.add_argument("-n", "--name")
    p.add_argument("--memory", metavar="MB")
    p.add_argument("--vcpus", default="1")
    p.add_argument("--disk", action="append", default=[])
    p.add_argument("--import", dest="import_", action="store_true")
    p.add_argument("--boot", action="append", default=[])
    p.add_argument("-w", "--network", action="append", default=[])
    p.add_argument("--graphics", default="none")
    p.add_argument("--console", action="append", default=[])
    p.add_argument("--noautoconsole", action="store_true")
    p.add_argument("--print-xml", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--transient", action="store_true")
    p.add_argument("--autostart", action="store_true")
    return p


def memory(text: str) -> tuple[int, int]:
    opts = parse("memory", text, "memory", {"memory", "maxmemory", "currentMemory"})
    current = int(number("memory", "memory", opts.get("memory") or opts.get("currentMemory", "")))
    return current, int(number("memory", "maxmemory", opts.get("maxmemory", str(current))))


def vcpus(text: str) -> tuple[int, int]:
    opts = parse("vcpus", text, "vcpus", {"vcpus", "maxvcpus"})
    count = int(number("vcpus", "vcpus", opts.get("vcpus", "1")))
    return count, int(number("vcpus", "maxvcpus", opts.get("maxvcpus", str(count))))


def nic(text: str) -> NicSpec | None:
    opts = parse("network", text, "type", {"type", "network", "bridge", "model", "mac"})
    kind = opts.get("type")
    if kind == "none":
        return None
    source = None
    for key in ("network", "bridge"):
        if key in opts or kind == key:
            kind, source = key, opts.get(key)
    if kind is None or kind not in ("user", "network", "bridge"):
        raise InstallError(f"--network {text}: expected user, network=NAME or bridge=NAME")
    if kind != "user" and not source:
        raise InstallError(f"--network {text}: {kind}= needs a name")
    return NicSpec(kind, source, opts.get("model", "virtio"), opts.get("mac"))


BOOT_DEVS = {"hd", "cdrom", "network", "fd"}


def boot(spec: DomainSpec, text: str) -> None:
    for item in split(text):
        if item in BOOT_DEVS:
            spec.boot_devs.append(item)
            continue
        key, eq, value = item.partition("=")
        if not eq or key not in ("kernel", "initrd", "kernel_args", "cmdline"):
            raise InstallError(f"Unknown --boot options: ['{key}']")
        if key == "kernel":
            spec.kernel = value
        elif key == "initrd":
            spec.initrd = value
        else:
            spec.cmdline = value


def domain_type(conn: virConnect) -> str:
    return "test" if conn.getType().upper() == "TEST" else "kvm"


def make_spec(args: argparse.Namespace, conn: virConnect) -> DomainSpec:
    if not args.name:
        raise InstallError("--name is required")
    if not args.memory:
        raise InstallError("--memory amount in MiB is required")
    if args.graphics != "none":
        raise InstallError(
            f"--graphics {args.graphics}: pyvirt has no display, use --graphics none"
        )
    for console in args.console:
        if parse("console", console, "type", {"type"}).get("type") != "pty":
            raise InstallError(f"--console {console}: only pty is supported")
    mem, max_mem = memory(args.memory)
    count, max_count = vcpus(args.vcpus)
    spec = DomainSpec(args.name, domain_type(conn), mem, max_mem, count, max_count)
    for text in args.boot:
        boot(spec, text)
    if not (args.import_ or spec.kernel):
        raise InstallError(
            "An install method must be specified\n(--import, --boot kernel=KERNEL,initrd=INITRD)"
        )
    no_storage = args.print_xml or args.dry_run
    for index, text in enumerate(t for t in args.disk if t != "none"):
        spec.disks.append(disks.resolve(conn, text, args.name, index, no_storage))
    nics = [nic(text) for text in args.network] if args.network else [nic("user")]
    spec.nics = [n for n in nics if n is not None]
    return spec


def install(args: argparse.Namespace, uri: str) -> int:
    conn = pyvirt.open(uri)
    try:
        spec = make_spec(args, conn)
        xml = build(spec)
        if args.print_xml:
            sys.stdout.write(xml)
            return 0
        if args.dry_run:
            print("Dry run completed successfully")
            return 0
        print("\nStarting install...")
        print("Creating domain...")
        if args.transient:
            dom = conn.createXML(xml, 0)
        else:
            dom = conn.defineXML(xml)
            if args.autostart:
                dom.setAutostart(1)
            dom.create()
    finally:
        conn.close()
    if args.noautoconsole or not sys.stdin.isatty():
        print("Domain creation completed.")
        if not args.transient:
            print("You can restart your domain by running:")
            print(f"  pyvirsh --connect {uri} start {spec.name}")
        return 0
    virsh = [sys.executable, "-m", "pyvirt.virsh", "--connect", uri, "console", spec.name]
    print(f"Running text console command: pyvirsh --connect {uri} console {spec.name}")
    return subprocess.call(virsh)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    uri = args.connect or default_uri()
    try:
        return install(args, uri)
    except InstallError as e:
        print(f"ERROR    {e}", file=sys.stderr)
    except VirtError as e:
        print(f"ERROR    {e.get_error_message()}", file=sys.stderr)
    except OSError as e:
        print(f"ERROR    Failed to connect to {uri}: {e.strerror}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
