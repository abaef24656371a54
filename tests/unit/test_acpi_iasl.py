"""Our ACPI tables through ACPICA's own tools (Debian's acpica-tools): iasl and acpiexec.

iasl -d must decode every table without warnings (it warns on bad checksums
and lengths), recompiling its disassembly must give back our bytes, iasl's
data-table compiler must produce our exact RSDP (both checksums) from the
field values alone, and acpiexec (ACPICA's interpreter, the code Linux
runs) must load the tables, accept the FADT without "Firmware Warning"s and
evaluate \\_S5 to the sleep type our PM device powers off on. With the PC's PCI
host bridge, iasl decodes the MCFG we meant, and acpiexec evaluates the bridge's
_CRS, _PRT and _OSC to what Linux will see.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from pyvirt.hw.acpi_pm import SLP_TYP_S5
from pyvirt.machine.x86 import aml, pc_pci
from pyvirt.machine.x86.acpi import AcpiConfig, AcpiTables, VirtioMmioResources, build_acpi_tables
from pyvirt.machine.x86.pc_interrupts import pci_intx_gsi

IASL = shutil.which("iasl")
ACPIEXEC = shutil.which("acpiexec")
pytestmark = pytest.mark.skipif(IASL is None, reason="iasl (Debian acpica-tools) is not installed")

SDTS = ["FACS", "DSDT", "FACP", "APIC", "MCFG", "RSDT", "XSDT"]
# The PC's PCI host bridge for 256 MiB of RAM and 40 physical address bits.
PCI_HOST = pc_pci.acpi_host(pc_pci.windows(256 << 20, 40))
FIELD = re.compile(
    r"^\[(?P<hex>[0-9A-F]+)h (?P<off>\d+)\s+(?P<len>\d+)\]\s+(?P<label>.*?) : (?P<value>.*)$"
)
DECODED_FLAG = re.compile(r"^\s+(?P<label>.*?) : (?P<value>[01])$")
VIRTIO_MMIO = (VirtioMmioResources(0xFEB00000, 0x200, 5), VirtioMmioResources(0xFEB00200, 0x200, 6))


def run(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    return out


class Built(NamedTuple):
    tables: AcpiTables
    workdir: Path  # holds <signature>.dat for every table
    num_cpus: int
    pci: bool
    virtio_mmio: tuple[VirtioMmioResources, ...]


@pytest.fixture(
    scope="module", params=[(1, False), (1, True), (4, True)], ids=["1cpu", "1cpu-pci", "4cpu-pci"]
)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    num_cpus, pci = request.param
    virtio = VIRTIO_MMIO if num_cpus > 1 else ()  # one configuration also has virtio-mmio
    config = AcpiConfig(num_cpus=num_cpus, pci=PCI_HOST if pci else None, virtio_mmio=virtio)
    tables = build_acpi_tables(config)
    workdir = tmp_path_factory.mktemp(f"acpi{num_cpus}{'pci' if pci else ''}")
    for sig in tables.tables:
        (workdir / f"{sig.lower()}.dat").write_bytes(tables.table(sig))
    return Built(tables, workdir, num_cpus, pci, virtio)


def tables_of(built: Built, sig: str) -> None:
    if sig not in built.tables.tables:
        pytest.skip(f"no {sig} in this configuration")


def disassemble(workdir: Path, sig: str) -> str:
    """iasl -d on one table: asserts a clean run and returns the .dsl text."""
    out = run([str(IASL), "-d", f"{sig.lower()}.dat"], workdir)
    assert "Warning" not in out and "Error" not in out, out
    dsl = (workdir / f"{sig.lower()}.dsl").read_text()
    assert "Incorrect checksum" not in dsl
    return dsl


def spec_fields(dsl: str) -> dict[tuple[int, str], str]:
    """(offset, label) -> value, from the bracketed lines of a data table disassembly."""
    fields = {}
    for line in dsl.splitlines():
        if m := FIELD.match(line):
            fields[int(m["off"]), m["label"]] = m["value"].strip()
    return fields


def decoded_flags(dsl: str) -> dict[str, int]:
    return {
        m["label"]: int(m["value"]) for line in dsl.splitlines() if (m := DECODED_FLAG.match(line))
    }


@pytest.mark.parametrize("sig", SDTS)
def test_iasl_disassembles_every_table_cleanly(built: Built, sig: str) -> None:
    tables_of(built, sig)
    workdir = built.workdir
    dsl = disassemble(workdir, sig)
    if sig == "DSDT":
        assert "Name (\\_S5, Package (0x04)" in dsl
        assert 'EisaId ("PNP0501")' in dsl
        assert "ACPI0007" in dsl
        assert ('EisaId ("PNP0A08")' in dsl) == built.pci


@pytest.mark.parametrize("sig", SDTS)
def test_recompiled_disassembly_gives_back_our_bytes(built: Built, sig: str) -> None:
    tables_of(built, sig)
    tables, workdir = built.tables, built.workdir
    disassemble(workdir, sig)
    prefix = f"recompiled_{sig.lower()}"
    # -on: keep \_S5 as written instead of shortening root-relative names.
    out = run([str(IASL), "-on", "-p", prefix, f"{sig.lower()}.dsl"], workdir)
    assert "0 Errors, 0 Warnings" in out, out
    ours, theirs = tables.table(sig), (workdir / f"{prefix}.aml").read_bytes()
    assert len(ours) == len(theirs)
    if sig == "FACS":  # no header: nothing of iasl's own goes in
        assert ours == theirs
        return
    # iasl writes its own Creator ID/Revision (bytes 28-35), hence its own checksum (byte 9).
    mask = {9, *range(28, 36)}
    assert [b for i, b in enumerate(ours) if i not in mask] == [
        b for i, b in enumerate(theirs) if i not in mask
    ]


def test_iasl_compiles_our_exact_rsdp(built: Built) -> None:
    tables, workdir = built.tables, built.workdir
    source = f"""
[0008]                          Signature : "RSD PTR "
[0001]                           Checksum : 00
[0006]                             Oem ID : "PYVIRT"
[0001]                           Revision : 02
[0004]                       RSDT Address : {tables.tables["RSDT"]:08X}
[0004]                             Length : 00000024
[0008]                       XSDT Address : {tables.tables["XSDT"]:016X}
[0001]                  Extended Checksum : 00
[0003]                           Reserved : 000000
"""
    (workdir / "rsdp_source.asl").write_text(source)
    out = run([str(IASL), "rsdp_source.asl"], workdir)
    assert "0 Errors, 0 Warnings" in out, out
    assert (workdir / "rsdp_source.aml").read_bytes() == tables.table("RSDP")


def test_iasl_reads_the_fadt_fields_we_meant(built: Built) -> None:
    tables, workdir = built.tables, built.workdir
    dsl = disassemble(workdir, "FACP")
    fields = spec_fields(dsl)
    assert fields[36, "FACS Address"] == f"{tables.tables['FACS']:08X}"
    assert fields[40, "DSDT Address"] == f"{tables.tables['DSDT']:08X}"
    assert fields[46, "SCI Interrupt"] == "0009"
    assert fields[56, "PM1A Event Block Address"] == "00000600"
    assert fields[64, "PM1A Control Block Address"] == "00000604"
    assert fields[76, "PM Timer Block Address"] == "00000608"
    assert fields[88, "PM1 Event Block Length"] == "04"
    assert fields[89, "PM1 Control Block Length"] == "02"
    assert fields[91, "PM Timer Block Length"] == "04"
    assert fields[116, "Space ID"] == "01 [SystemIO]"
    assert fields[120, "Address"] == "0000000000000CF9"
    assert fields[128, "Value to cause reset"] == "06"
    assert fields[152, "Address"] == "0000000000000600"  # X_PM1a_EVT_BLK
    assert fields[176, "Address"] == "0000000000000604"  # X_PM1a_CNT_BLK
    assert fields[212, "Address"] == "0000000000000608"  # X_PM_TMR_BLK
    flags = decoded_flags(dsl)
    assert flags["32-bit PM Timer (V1)"] == 1
    assert flags["Reset Register Supported (V2)"] == 1
    assert flags["Hardware Reduced (V5)"] == 0
    assert flags["Control Method Power Button (V1)"] == 0


def test_iasl_reads_the_madt_we_meant(built: Built) -> None:
    dsl = disassemble(built.workdir, "APIC")
    assert dsl.count("[Processor Local APIC]") == built.num_cpus
    assert dsl.count("[I/O APIC]") == 1
    assert dsl.count("[Interrupt Source Override]") == 2
    assert dsl.count("[Local APIC NMI]") == 1
    fields = spec_fields(dsl)
    assert fields[36, "Local Apic Address"] == "FEE00000"


@pytest.mark.skipif(ACPIEXEC is None, reason="acpiexec (Debian acpica-tools) is not installed")
def test_acpica_loads_the_tables_and_evaluates_s5(built: Built) -> None:
    out = run(
        [str(ACPIEXEC), "-b", "evaluate \\_S5", "dsdt.dat", "facp.dat", "apic.dat"], built.workdir
    )
    # acpiexec's built-in interface tests poke GPEs and PM2_CNT, which this machine has not:
    # their "Unexpected AE_..." lines are about acpiexec's expectations, not our tables.
    complaints = [
        line
        for line in out.splitlines()
        if re.search(r"Warning|Error|Exception", line) and not line.startswith("Unexpected")
    ]
    assert complaints == []
    assert "from AcpiGetSleepTypeData" not in out  # acpiexec probes \_S0-\_S5 too
    devices = re.search(r"Table \[DSDT: PYVIRTVM\].* with\s+(\d+) Devices", out)
    assert devices, out
    # processors, COM1, RTC (and the PCI host bridge and its motherboard resources)
    assert int(devices[1]) == built.num_cpus + 2 + 2 * built.pci + len(built.virtio_mmio)
    m = re.search(r"Evaluation of \\_S5 returned.*?\n(.*?)\n\n", out, re.S)
    assert m, out
    values = [int(v, 16) for v in re.findall(r"\[Integer\] = ([0-9A-F]+)", m[1])]
    assert values == [SLP_TYP_S5, SLP_TYP_S5, 0, 0]


def test_iasl_reads_the_mcfg_we_meant(built: Built) -> None:
    tables_of(built, "MCFG")
    fields = spec_fields(disassemble(built.workdir, "MCFG"))
    assert fields[44, "Base Address"] == "00000000E0000000"
    assert fields[52, "Segment Group Number"] == "0000"
    assert fields[54, "Start Bus Number"] == "00"
    assert fields[55, "End Bus Number"] == "FF"


def acpiexec(built: Built, *commands: str) -> str:
    """Run `commands` in acpiexec over our DSDT; asserts it complained about nothing."""
    if ACPIEXEC is None:
        pytest.skip("acpiexec (Debian acpica-tools) is not installed")
    if not built.pci:
        pytest.skip("no PCI host bridge in this configuration")
    out = run([str(ACPIEXEC), "-b", ";".join(commands), "dsdt.dat"], built.workdir)
    assert not re.search(r"Warning|Error|Exception", out), out
    return out


def returned(out: str, path: str) -> str:
    m = re.search(rf"Evaluation of {re.escape(path)} returned.*?\n(.*?)(?:\n\n|\Z)", out, re.S)
    assert m, out
    return m[1]


def buffer_bytes(dump: str) -> bytes:
    """The bytes of a Buffer in acpiexec's hex dump."""
    return bytes.fromhex("".join(re.findall(r"^\s+[0-9A-F]{4}: ((?:[0-9A-F]{2} )+)", dump, re.M)))


def test_acpica_evaluates_the_pci_routing_table(built: Built) -> None:
    prt = returned(acpiexec(built, "evaluate \\_SB.PCI0._PRT"), "\\_SB.PCI0._PRT")
    assert "Contains 128 Elements" in prt
    values = [int(v, 16) for v in re.findall(r"\[Integer\] = ([0-9A-F]+)", prt)]
    entries = [tuple(values[i : i + 4]) for i in range(0, len(values), 4)]
    assert entries == [
        ((slot << 16) | 0xFFFF, pin, 0, pci_intx_gsi(slot, pin))
        for slot in range(32)
        for pin in range(4)
    ]
    assert {gsi for *_, gsi in entries} == set(range(16, 24))


def test_acpica_evaluates_the_virtio_mmio_resources(built: Built) -> None:
    if not built.virtio_mmio:
        pytest.skip("no virtio-mmio devices in this configuration")
    for index, res in enumerate(built.virtio_mmio):
        path = f"\\_SB.VR{index:02X}"
        hid = returned(acpiexec(built, f"evaluate {path}._HID"), f"{path}._HID")
        assert "LNRO0005" in hid
        crs = returned(acpiexec(built, f"evaluate {path}._CRS"), f"{path}._CRS")
        data = bytes.fromhex(
            "".join(re.findall(r"^\s+[0-9A-F]{4}: ((?:[0-9A-F]{2} )+)", crs, re.M))
        )
        expected = aml.memory32_fixed(res.base, res.size) + aml.extended_interrupt(res.gsi)
        assert data == expected + b"\x79\x00"


def test_acpica_evaluates_the_bridge_windows(built: Built) -> None:
    crs = returned(acpiexec(built, "evaluate \\_SB.PCI0._CRS"), "\\_SB.PCI0._CRS")
    data = buffer_bytes(crs)
    assert PCI_HOST.mem64 is not None
    expected = [
        aml.word_bus_number(0, 0xFF),
        aml.io_port(0xCF8, 8),
        aml.word_io(0, 0xCF7),
        aml.word_io(0xD00, 0xFFFF),
        aml.dword_memory(PCI_HOST.mem32[0], PCI_HOST.mem32[1] - 1),
        aml.qword_memory(PCI_HOST.mem64[0], PCI_HOST.mem64[1] - 1),
    ]
    assert data == b"".join(expected) + b"\x79\x00"


UUID_BYTES = "(5b4ddb33f71f1c4096577441c03dd766)"  # ToUUID ("33DB4D5B-...") in memory order
CAPS = "(000000001f0000001d000000)"  # CDW1 = 0, support = 0x1F, control asked = 0x1D


@pytest.mark.parametrize(
    ("uuid", "revision", "cdw1"),
    [(UUID_BYTES, 1, 0), ("(00112233445566778899aabbccddeeff)", 1, 4), (UUID_BYTES, 2, 8)],
    ids=["granted", "unknown-uuid", "unknown-revision"],
)
def test_acpica_evaluates_osc(built: Built, uuid: str, revision: int, cdw1: int) -> None:
    out = acpiexec(built, f"evaluate \\_SB.PCI0._OSC {uuid} {revision} 3 {CAPS}")
    result = returned(out, "\\_SB.PCI0._OSC")
    words = re.search(r"0000: ((?:[0-9A-F]{2} ){12})", result)
    assert words, result
    got = bytes.fromhex(words[1])
    assert got == bytes([cdw1, 0, 0, 0, 0x1F, 0, 0, 0, 0x1D, 0, 0, 0])  # control as asked
