"""The FDT builder and the virt device tree, decoded by dtc and compared with QEMU's."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from pyvirt.machine.riscv import devicetree
from pyvirt.machine.riscv.fdt import FDT_MAGIC, DeviceTree, cells, strings

DTC = shutil.which("dtc")
QEMU = shutil.which("qemu-system-riscv64")
needs_dtc = pytest.mark.skipif(DTC is None, reason="dtc is not installed (device-tree-compiler)")


def to_dts(blob: bytes, tmp_path: Path) -> str:
    path = tmp_path / "tree.dtb"
    path.write_bytes(blob)
    assert DTC is not None
    return subprocess.run([DTC, "-I", "dtb", "-O", "dts", str(path)], check=True,
                          capture_output=True, text=True).stdout  # fmt: skip


def nodes(dts: str) -> dict[str, dict[str, str]]:
    """node path -> {property: value as dtc prints it}, from dtc's output."""
    found: dict[str, dict[str, str]] = {}
    path: list[str] = []
    for raw in dts.splitlines():
        line = raw.strip()
        if line.endswith("{"):
            path.append(line[:-1].strip())
            found["/".join(path)] = {}
        elif line == "};":
            path.pop()
        elif line.endswith(";") and path:
            name, _, value = line[:-1].partition(" = ")
            found["/".join(path)][name] = value
    return found


def test_header_and_layout() -> None:
    tree = DeviceTree()
    tree.root.set("model", "m").add("child@1").set("reg", cells(1, 2))
    blob = tree.to_dtb(pad_to=4096)
    magic, total, off_struct, off_strings, off_rsv, version = struct.unpack_from(">6I", blob)
    assert (magic, total, version, len(blob)) == (FDT_MAGIC, 4096, 17, 4096)
    assert off_rsv == 40 and off_struct == 56 and off_strings > off_struct
    assert blob[off_strings:].startswith(b"model\0reg\0")


@needs_dtc
def test_values_round_trip_through_dtc(tmp_path: Path) -> None:
    tree = DeviceTree()
    node = tree.root.add("n@10")
    node.set("flag").set("one", 7).set("text", "hi").set("list", strings("a", "b"))
    other = tree.root.add("other")
    node.set("link", other.phandle())
    props = nodes(to_dts(tree.to_dtb(), tmp_path))["//n@10"]
    assert props == {"flag": "", "one": "<0x07>", "text": '"hi"', "list": '"a\\0b"',
                     "link": "<0x01>"}  # fmt: skip


@needs_dtc
@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv64 is not installed")
def test_virt_tree_matches_qemu(tmp_path: Path) -> None:
    """Every node we generate carries QEMU's properties (ISA string and MMU aside)."""
    ram, initrd, bootargs = 256 << 20, (0x88200000, 0x88300000), "console=ttyS0 quiet"
    qemu_dtb = tmp_path / "qemu.dtb"
    fake_initrd = tmp_path / "initrd"
    fake_initrd.write_bytes(bytes(0x100000))
    fake_kernel = tmp_path / "Image"
    fake_kernel.write_bytes(bytes(4096))
    subprocess.run([QEMU, "-machine", f"virt,dumpdtb={qemu_dtb}", "-m", "256M", "-nographic",
                    "-kernel", str(fake_kernel), "-initrd", str(fake_initrd),
                    "-append", bootargs], check=True, capture_output=True)  # fmt: skip
    theirs = nodes(to_dts(qemu_dtb.read_bytes(), tmp_path))
    config = devicetree.DeviceTreeConfig(ram, 1, bootargs, initrd)
    ours = nodes(to_dts(devicetree.build(config).to_dtb(), tmp_path))
    ours_chosen, theirs_chosen = ours.pop("//chosen"), theirs["//chosen"]
    assert ours_chosen["bootargs"] == theirs_chosen["bootargs"]
    assert ours_chosen["stdout-path"] == theirs_chosen["stdout-path"]
    assert ours_chosen["linux,initrd-start"] == "<0x00 0x88200000>"
    assert ours_chosen["linux,initrd-end"] == "<0x00 0x88300000>"
    cpu = ours["//cpus/cpu@0"]
    assert (cpu.pop("riscv,isa"), cpu.pop("mmu-type")) == ('"rv64imac_zicsr_zifencei"',
                                                           '"riscv,sv39"')  # fmt: skip
    assert len(ours) == 23  # /, memory, 6 under cpus, poweroff, reboot, soc and 13 in it
    for path, props in ours.items():
        assert path in theirs, path
        for name, value in props.items():
            assert theirs[path].get(name) == value, f"{path} {name}"
