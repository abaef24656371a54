"""The KVM bindings against the kernel ABI: a C program built against the system's
<linux/kvm.h> prints every size, offset, ioctl number and constant we mirror."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.kvm import exits
from pyvirt.kvm import numbers as n
from pyvirt.kvm import structs as s

# Our ctypes structure -> the C type it mirrors.
STRUCTS: dict[type[ctypes.Structure], str] = {
    s.Regs: "struct kvm_regs",
    s.Segment: "struct kvm_segment",
    s.DTable: "struct kvm_dtable",
    s.Sregs: "struct kvm_sregs",
    s.Fpu: "struct kvm_fpu",
    s.MsrEntry: "struct kvm_msr_entry",
    s.MsrsHeader: "struct kvm_msrs",
    s.MsrListHeader: "struct kvm_msr_list",
    s.CpuidEntry2: "struct kvm_cpuid_entry2",
    s.Cpuid2Header: "struct kvm_cpuid2",
    s.LapicState: "struct kvm_lapic_state",
    s.MpState: "struct kvm_mp_state",
    s.UserspaceMemoryRegion: "struct kvm_userspace_memory_region",
    s.IrqLevel: "struct kvm_irq_level",
    s.PitConfig: "struct kvm_pit_config",
    s.ExitDebug: "struct kvm_debug_exit_arch",
    s.IrqRoutingIrqchip: "struct kvm_irq_routing_irqchip",
    s.IrqRoutingMsi: "struct kvm_irq_routing_msi",
    s.IrqRoutingEntry: "struct kvm_irq_routing_entry",
    s.IrqRoutingHeader: "struct kvm_irq_routing",
    s.Irqfd: "struct kvm_irqfd",
    s.Ioeventfd: "struct kvm_ioeventfd",
    s.Msi: "struct kvm_msi",
}

# Structures whose C counterpart ends in a flexible array that ours leaves out.
FLEXIBLE = {s.MsrsHeader, s.MsrListHeader, s.Cpuid2Header, s.IrqRoutingHeader}

# Exit-union members that only newer headers have: name -> the macro that guards them.
NEWER_EXIT_MEMBERS = {"memory_fault": "KVM_EXIT_MEMORY_FAULT"}

# ioctl numbers the brief names explicitly; every other one in numbers.py is checked too.
REQUIRED_IOCTLS = (
    "RUN", "GET_REGS", "SET_REGS", "GET_SREGS", "SET_SREGS", "SET_USER_MEMORY_REGION",
    "GET_SUPPORTED_CPUID", "SET_CPUID2", "CREATE_PIT2", "IRQ_LINE", "GET_LAPIC", "GET_MSRS",
    "SET_MSRS", "GET_FPU", "GET_MP_STATE", "SET_TSS_ADDR", "SET_IDENTITY_MAP_ADDR",
    "GET_MSR_INDEX_LIST", "CREATE_VM", "CREATE_VCPU", "CHECK_EXTENSION", "GET_VCPU_MMAP_SIZE",
    "SET_GSI_ROUTING", "IRQFD", "IOEVENTFD", "SIGNAL_MSI",
)  # fmt: skip


def _fields(cls: type, prefix: str = "") -> Iterator[tuple[str, int, int]]:
    """(dotted path, offset, size) of every field, recursing into nested structs/unions."""
    for name, ctype, *_ in cls._fields_:
        desc = getattr(cls, name)
        yield prefix + name, desc.offset, desc.size
        if issubclass(ctype, ctypes.Structure | ctypes.Union):
            for sub, off, size in _fields(ctype, f"{prefix}{name}."):
                yield sub, desc.offset + off, size


def _run_member(path: str) -> str | None:
    """Our kvm_run field path as a C member designator (the exit union is anonymous in C)."""
    if not path.startswith("exit."):
        return None if path == "exit" else path
    member = path.removeprefix("exit.")
    if member == "raw":
        return "padding"
    if member.startswith("debug."):
        return "debug.arch." + member.removeprefix("debug.")
    return member


def _expected() -> dict[str, tuple[int, str | None]]:
    """key -> (our value, #ifdef guard or None); the key is also the C expression's label."""
    out: dict[str, tuple[int, str | None]] = {}

    def add(key: str, value: int, guard: str | None = None) -> None:
        out[key] = (value, guard)

    for cls, ctype in STRUCTS.items():
        if cls not in FLEXIBLE:
            add(f"sizeof|{ctype}", ctypes.sizeof(cls))
        for path, off, size in _fields(cls):
            add(f"offsetof|{ctype}|{path}", off)
            add(f"memberof|{ctype}|{path}", size)
    for path, off, size in _fields(s.Run):
        member = _run_member(path)
        if member is None:
            continue
        guard = NEWER_EXIT_MEMBERS.get(member.split(".")[0])
        add(f"offsetof|struct kvm_run|{member}", off, guard)
        if not member.startswith("debug.arch"):
            add(f"memberof|struct kvm_run|{member}", size, guard)
    add("memberof|struct kvm_run|debug.arch", ctypes.sizeof(s.ExitDebug))
    # Flexible arrays: n entries must land where the kernel reads them.
    for count in (1, 3):
        add(f"flex|struct kvm_msrs|entries|{count}", ctypes.sizeof(s.msrs_type(count)))
        add(f"flex|struct kvm_msr_list|indices|{count}", ctypes.sizeof(s.msr_list_type(count)))
        add(f"flex|struct kvm_cpuid2|entries|{count}", ctypes.sizeof(s.cpuid2_type(count)))
        add(
            f"flex|struct kvm_irq_routing|entries|{count}",
            ctypes.sizeof(s.irq_routing_type(count)),
        )

    for name, value in vars(n).items():
        if name.isupper() and isinstance(value, int) and not isinstance(value, tuple):
            add(f"const|{name if name.startswith('KVM_') else 'KVM_' + name}", value)
    for cap in n.Cap:
        add(f"const|KVM_CAP_{cap.name}", cap.value)
    for state in n.MpStateValue:
        add(f"const|KVM_MP_STATE_{state.name}", state.value)
    for reason in exits.ExitReason:
        add(f"const|KVM_EXIT_{reason.name}", reason.value, f"KVM_EXIT_{reason.name}")
    for sub in exits.InternalError:
        add(f"const|KVM_INTERNAL_ERROR_{sub.name}", sub.value)
    for event in exits.SystemEvent:
        add(f"const|KVM_SYSTEM_EVENT_{event.name}", event.value, f"KVM_SYSTEM_EVENT_{event.name}")
    add("const|KVM_EXIT_IO_IN", exits.IO_IN)
    add("const|KVM_EXIT_IO_OUT", exits.IO_OUT)
    add(
        "const|KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES",
        exits.EMULATION_FLAG_INSTRUCTION_BYTES,
    )
    add("const|KVM_NR_INTERRUPTS", s.KVM_NR_INTERRUPTS)
    return out


def _c_expr(key: str) -> str:
    kind, *rest = key.split("|")
    if kind == "sizeof":
        return f"sizeof({rest[0]})"
    if kind == "offsetof":
        return f"offsetof({rest[0]}, {rest[1]})"
    if kind == "memberof":
        return f"sizeof((({rest[0]} *)0)->{rest[1]})"
    if kind == "flex":
        ctype, member, count = rest
        return f"sizeof({ctype}) + {count} * sizeof((({ctype} *)0)->{member}[0])"
    return rest[0]


def _c_program(expected: dict[str, tuple[int, str | None]]) -> str:
    lines = [
        "#include <stdio.h>",
        "#include <stddef.h>",
        "#include <linux/kvm.h>",
        '#define P(k, v) printf("%s=%llu\\n", k, (unsigned long long)(v))',
        "int main(void) {",
    ]
    for key, (_, guard) in expected.items():
        line = f'  P("{key}", {_c_expr(key)});'
        lines += [f"#ifdef {guard}", line, "#endif"] if guard else [line]
    lines += ["  return 0;", "}", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def kernel_abi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """What <linux/kvm.h> says, for every key of _expected()."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    if not Path("/usr/include/linux/kvm.h").exists():
        pytest.skip("<linux/kvm.h> is not installed (linux-libc-dev)")
    workdir = tmp_path_factory.mktemp("kvm_abi")
    source = workdir / "abi.c"
    source.write_text(_c_program(_expected()))
    binary = workdir / "abi"
    build = subprocess.run(
        [gcc, "-std=gnu11", "-Wall", "-o", str(binary), str(source)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    output = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    return {key: int(value) for key, value in (line.split("=", 1) for line in output.splitlines())}


def test_the_c_program_saw_every_unguarded_key(kernel_abi: dict[str, int]) -> None:
    missing = [k for k, (_, guard) in _expected().items() if guard is None and k not in kernel_abi]
    assert missing == []


def _group(key: str) -> str:
    kind, *rest = key.split("|")
    if kind == "const":
        return "constants"
    return "kvm_run" if rest[0] == "struct kvm_run" else "structs"


@pytest.mark.parametrize("group", ["structs", "kvm_run", "constants"])
def test_matches_kernel_abi(group: str, kernel_abi: dict[str, int]) -> None:
    """Every size, offset, ioctl number and constant of the group, all mismatches at once."""
    checked, mismatches = 0, []
    for key, (ours, guard) in _expected().items():
        if _group(key) != group:
            continue
        if key not in kernel_abi:
            assert guard is not None, key
            continue  # only in newer headers than this system's
        checked += 1
        if ours != kernel_abi[key]:
            mismatches.append(f"{_c_expr(key)}: kernel {kernel_abi[key]:#x}, ours {ours:#x}")
    assert checked > 20
    assert mismatches == []


def test_required_ioctls_are_all_checked() -> None:
    keys = _expected()
    for name in REQUIRED_IOCTLS:
        assert f"const|KVM_{name}" in keys


def test_kvm_run_layout_essentials(kernel_abi: dict[str, int]) -> None:
    # The fields the vCPU loop touches, spelled out (the parametrized test covers the rest).
    assert s.Run.immediate_exit.offset == kernel_abi["offsetof|struct kvm_run|immediate_exit"] == 1
    assert s.Run.exit_reason.offset == kernel_abi["offsetof|struct kvm_run|exit_reason"] == 8
    assert s.Run.exit.offset == kernel_abi["offsetof|struct kvm_run|hw"] == 32
    assert ctypes.sizeof(s.ExitUnion) == kernel_abi["memberof|struct kvm_run|padding"] == 256
    assert s.Run.kvm_valid_regs.offset == kernel_abi["offsetof|struct kvm_run|kvm_valid_regs"]


def test_ioctl_numbers_well_known_values() -> None:
    # _IOC(dir, 0xAE, nr, size): dir in bits 30-31 (1 = write, 2 = read), size in 16-29.
    assert n.RUN == 0xAE80
    assert n.GET_REGS == 0x8090AE81  # sizeof(struct kvm_regs) = 0x90
    assert n.SET_REGS == 0x4090AE82
    assert n.GET_SREGS == 0x8138AE83  # sizeof(struct kvm_sregs) = 0x138
    assert n.GET_MSRS == 0xC008AE88
    assert n.SET_USER_MEMORY_REGION == 0x4020AE46
    assert n.SET_GSI_ROUTING == 0x4008AE6A  # header only: the entries follow it
    assert n.IRQFD == 0x4020AE76
    assert n.IOEVENTFD == 0x4040AE79
    assert n.SIGNAL_MSI == 0x4020AEA5
