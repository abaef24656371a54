"""Exit reasons of KVM_RUN and a readable description of each exit."""

from __future__ import annotations

import enum

from .structs import Run


class ExitReason(enum.IntEnum):
    UNKNOWN = 0
    EXCEPTION = 1
    IO = 2
    HYPERCALL = 3
    DEBUG = 4
    HLT = 5
    MMIO = 6
    IRQ_WINDOW_OPEN = 7
    SHUTDOWN = 8
    FAIL_ENTRY = 9
    INTR = 10
    SET_TPR = 11
    TPR_ACCESS = 12
    S390_SIEIC = 13
    S390_RESET = 14
    DCR = 15
    NMI = 16
    INTERNAL_ERROR = 17
    OSI = 18
    PAPR_HCALL = 19
    S390_UCONTROL = 20
    WATCHDOG = 21
    S390_TSCH = 22
    EPR = 23
    SYSTEM_EVENT = 24
    S390_STSI = 25
    IOAPIC_EOI = 26
    HYPERV = 27
    ARM_NISV = 28
    X86_RDMSR = 29
    X86_WRMSR = 30
    DIRTY_RING_FULL = 31
    AP_RESET_HOLD = 32
    X86_BUS_LOCK = 33
    XEN = 34
    RISCV_SBI = 35
    RISCV_CSR = 36
    NOTIFY = 37
    LOONGARCH_IOCSR = 38
    MEMORY_FAULT = 39
    TDX = 40


class InternalError(enum.IntEnum):
    EMULATION = 1
    SIMUL_EX = 2
    DELIVERY_EV = 3
    UNEXPECTED_EXIT_REASON = 4


class SystemEvent(enum.IntEnum):
    SHUTDOWN = 1
    RESET = 2
    CRASH = 3
    WAKEUP = 4
    SUSPEND = 5
    SEV_TERM = 6


IO_IN, IO_OUT = 0, 1
EMULATION_FLAG_INSTRUCTION_BYTES = 1


def reason_name(code: int) -> str:
    try:
        return f"KVM_EXIT_{ExitReason(code).name}"
    except ValueError:
        return f"unknown exit reason {code}"


def _enum_name(cls: type[enum.IntEnum], value: int) -> str:
    try:
        return cls(value).name
    except ValueError:
        return str(value)


def describe(run: Run) -> str:
    """One line naming the exit and its payload, for error reports and debug logs."""
    code = run.exit_reason
    e = run.exit
    name = reason_name(code)
    detail = ""
    if code == ExitReason.IO:
        d = "out" if e.io.direction == IO_OUT else "in"
        detail = f"{d} port={e.io.port:#x} size={e.io.size} count={e.io.count}"
    elif code == ExitReason.MMIO:
        m = e.mmio
        op = "write" if m.is_write else "read"
        data = bytes(m.data[: m.len]).hex() if m.is_write else ""
        detail = f"{op} addr={m.phys_addr:#x} len={m.len} {data}".rstrip()
    elif code == ExitReason.UNKNOWN:
        detail = f"hardware_exit_reason={e.hw.hardware_exit_reason:#x}"
    elif code == ExitReason.FAIL_ENTRY:
        f = e.fail_entry
        detail = f"hardware_entry_failure_reason={f.hardware_entry_failure_reason:#x} cpu={f.cpu}"
    elif code == ExitReason.EXCEPTION:
        detail = f"exception={e.ex.exception} error_code={e.ex.error_code:#x}"
    elif code == ExitReason.DEBUG:
        detail = f"exception={e.debug.exception} pc={e.debug.pc:#x} dr6={e.debug.dr6:#x}"
    elif code == ExitReason.HYPERCALL:
        detail = f"nr={e.hypercall.nr:#x}"
    elif code == ExitReason.TPR_ACCESS:
        detail = f"rip={e.tpr_access.rip:#x} write={e.tpr_access.is_write}"
    elif code == ExitReason.INTERNAL_ERROR:
        detail = _describe_internal(run)
    elif code == ExitReason.SYSTEM_EVENT:
        se = e.system_event
        detail = f"type={_enum_name(SystemEvent, se.type)} ndata={se.ndata}"
    elif code == ExitReason.IOAPIC_EOI:
        detail = f"vector={e.eoi.vector:#x}"
    elif code in (ExitReason.X86_RDMSR, ExitReason.X86_WRMSR):
        detail = f"msr={e.msr.index:#x} data={e.msr.data:#x} reason={e.msr.reason}"
    elif code == ExitReason.NOTIFY:
        detail = f"flags={e.notify.flags:#x}"
    elif code == ExitReason.MEMORY_FAULT:
        mf = e.memory_fault
        detail = f"gpa={mf.gpa:#x} size={mf.size:#x} flags={mf.flags:#x}"
    return f"{name} {detail}".rstrip()


def _describe_internal(run: Run) -> str:
    internal = run.exit.internal
    text = f"suberror={_enum_name(InternalError, internal.suberror)}"
    if internal.suberror == InternalError.EMULATION:
        ef = run.exit.emulation_failure
        if ef.flags & EMULATION_FLAG_INSTRUCTION_BYTES:
            insn = bytes(ef.insn_bytes[: min(ef.insn_size, 15)])
            return f"{text} instruction bytes={insn.hex(' ')}"
    ndata = min(internal.ndata, 16)
    if ndata:
        text += " data=" + ",".join(f"{internal.data[i]:#x}" for i in range(ndata))
    return text
