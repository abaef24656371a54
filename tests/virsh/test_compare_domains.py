"""Domain commands: the real virsh and pyvirsh, same commands, same daemons' state, same output."""

from __future__ import annotations

import re
from pathlib import Path

from tests.virsh.conftest import Pair, Result, diff

TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"

DEMO = """<domain type='test'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>2</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/default-pool/{name}.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""


def xml_file(tmp_path: Path, name: str, uuid: str) -> str:
    path = tmp_path / f"{name}.xml"
    path.write_text(DEMO.format(name=name, uuid=uuid))
    return str(path)


def test_listing_and_info(pair: Pair) -> None:
    pair.script(
        [
            ["list"],
            ["list", "--all"],
            ["list", "--name"],
            ["list", "--uuid"],
            ["list", "--id"],
            ["list", "--name", "--uuid", "--id"],
            ["list", "--title"],
            ["list", "--all", "--state-running"],
            ["list", "--inactive"],
            ["list", "--all", "--persistent", "--no-autostart"],
            ["dominfo", "test"],
            ["dominfo", "1"],
            ["dominfo", TEST_UUID],
            ["domstate", "test"],
            ["domstate", "--reason", "test"],
            ["domstate", "--domain=test"],
            ["domid", "test"],
            ["domname", "1"],
            ["domuuid", "test"],
            ["dumpxml", "test"],
            ["dumpxml", "--inactive", "test"],
        ]
    )
    pair.same("-q", "list", "--all")
    pair.same("-q", "list", "--inactive")


def test_errors(pair: Pair) -> None:
    for args in [
        ["dominfo", "nope"],
        ["start", "nope"],
        ["undefine", "nope"],
        ["dominfo"],
        ["list", "--bogus"],
        ["domstate", "test", "extra"],
        ["domstate", "--reason=yes", "test"],
        ["frobnicate"],
        ["-r", "destroy", "test"],
        ["start", "test"],
        ["define", "/nonexistent.xml"],
    ]:
        assert pair.same(*args).status == 1, args


def test_usage_errors_add_the_synopsis(pair: Pair) -> None:
    """Beyond virsh: after virsh's own message, the command's synopsis."""
    for args, synopsis in [
        (["list", "--bogus"], "usage: list [--inactive] [--all]"),
        (["dominfo"], "usage: dominfo <domain>"),
    ]:
        out = pair.ours_run(*args)
        assert out.status == 1
        assert out.stderr.splitlines()[-1].startswith(synopsis), out.stderr


def test_life_cycle(pair: Pair, tmp_path: Path) -> None:
    demo = xml_file(tmp_path, "demo", "11111111-2222-3333-4444-555555555555")
    pair.script(
        [
            ["define", demo],
            ["list", "--all"],
            ["start", "demo"],
            ["start", "demo"],
            ["suspend", "demo"],
            ["list", "--state-paused"],
            ["domstate", "--reason", "demo"],
            ["resume", "demo"],
            ["domstate", "--reason", "demo"],
            ["reboot", "demo"],
            ["reset", "demo"],
            ["shutdown", "demo"],
            ["domstate", "--reason", "demo"],
            ["start", "--paused", "demo"],
            ["domstate", "--reason", "demo"],
            ["destroy", "demo"],
            ["destroy", "demo"],
            ["domstate", "--reason", "demo"],
            ["autostart", "demo"],
            ["list", "--all", "--autostart"],
            ["dominfo", "demo"],
            ["autostart", "--disable", "demo"],
            ["setmem", "demo", "32M", "--config"],
            ["setvcpus", "demo", "1", "--config"],
            ["dumpxml", "--inactive", "demo"],
            ["dominfo", "demo"],
            ["setvcpus", "demo", "4", "--config"],
            ["setmem", "test", "1000"],
            ["undefine", "demo"],
            ["list", "--all"],
        ]
    )


def test_transient_domain_from_create(pair: Pair, tmp_path: Path) -> None:
    flash = xml_file(tmp_path, "flash", "22222222-2222-3333-4444-555555555555")
    pair.script(
        [
            ["create", flash],
            ["list", "--all", "--transient"],
            ["dominfo", "flash"],
            ["destroy", "flash"],
            ["list", "--all"],
        ]
    )


def test_undefine_remove_all_storage(pair: Pair, tmp_path: Path) -> None:
    demo = xml_file(tmp_path, "demo", "11111111-2222-3333-4444-555555555555")
    pair.script(
        [
            ["vol-create-as", "default-pool", "demo.img", "1M"],
            ["define", demo],
            ["undefine", "demo", "--remove-all-storage"],
            ["vol-list", "default-pool"],
        ]
    )


def test_save_and_restore(pair: Pair, tmp_path: Path) -> None:
    """(virsh's line runs to its end before pyvirsh's starts, so they can share the file.)"""
    saved = tmp_path / "test.save"
    pair.script(
        [
            ["save", "test", str(saved)],
            ["domstate", "--reason", "test"],
            ["list", "--all"],
            ["restore", str(saved)],
            ["domstate", "--reason", "test"],
            ["dominfo", "test"],
        ]
    )
    for args in (["save", "test", "/nonexistent/dir/x"], ["restore", "/etc/hostname"]):
        assert pair.same(*args).status == 1


def test_devices_and_their_statistics(pair: Pair) -> None:
    """domblklist/domiflist and, with the test driver's clock-driven counters (digits
    masked), domblkstat/domifstat: libvirt's test driver answers only the legacy block
    statistics call, so both clients fall back to it."""
    pair.script(
        [
            ["domblklist", "test"],
            ["domblklist", "test", "--details", "--inactive"],
            ["domiflist", "test"],
            ["domblkstat", "test"],  # the sum of all disks: not in the test driver
            ["domblkstat", "test", "nosuch"],
            ["domifstat", "test", "nosuch"],
            ["domifstat", "test"],
        ]
    )
    for args in [
        ["domblkstat", "test", "vda"],
        ["domblkstat", "test", "--device", "/guest/diskimage1", "--human"],
        ["domifstat", "test", "testnet0"],
        ["domifstat", "test", "AA:BB:CC:DD:EE:FF"],
    ]:
        ref, ours = (
            Result(r.status, re.sub(r"\d{6,}", "N", r.stdout), r.stderr) for r in pair.both(*args)
        )
        assert ours == ref and ours.status == 0, diff(ref, ours)
        assert ours.stdout.count("N") >= 4
