"""ctypes mirrors of the x86-64 KVM API structures (<linux/kvm.h>, <asm/kvm.h>).

Sizes are checked by the unit tests against the kernel ABI.
"""

from __future__ import annotations

import ctypes
from ctypes import c_char, c_int32, c_uint8, c_uint16, c_uint32, c_uint64

KVM_NR_INTERRUPTS = 256


class Regs(ctypes.Structure):
    """struct kvm_regs: general-purpose registers."""

    _fields_ = [
        (name, c_uint64)
        for name in (
            "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
            "rip", "rflags",
        )
    ]  # fmt: skip


class Segment(ctypes.Structure):
    """struct kvm_segment: a segment register with its hidden descriptor cache."""

    _fields_ = [
        ("base", c_uint64),
        ("limit", c_uint32),
        ("selector", c_uint16),
        ("type", c_uint8),
        ("present", c_uint8),
        ("dpl", c_uint8),
        ("db", c_uint8),
        ("s", c_uint8),
        ("l", c_uint8),
        ("g", c_uint8),
        ("avl", c_uint8),
        ("unusable", c_uint8),
        ("padding", c_uint8),
    ]


class DTable(ctypes.Structure):
    """struct kvm_dtable: GDTR or IDTR."""

    _fields_ = [("base", c_uint64), ("limit", c_uint16), ("padding", c_uint16 * 3)]


class Sregs(ctypes.Structure):
    """struct kvm_sregs: segments, descriptor tables, control registers, EFER."""

    _fields_ = [
        ("cs", Segment),
        ("ds", Segment),
        ("es", Segment),
        ("fs", Segment),
        ("gs", Segment),
        ("ss", Segment),
        ("tr", Segment),
        ("ldt", Segment),
        ("gdt", DTable),
        ("idt", DTable),
        ("cr0", c_uint64),
        ("cr2", c_uint64),
        ("cr3", c_uint64),
        ("cr4", c_uint64),
        ("cr8", c_uint64),
        ("efer", c_uint64),
        ("apic_base", c_uint64),
        ("interrupt_bitmap", c_uint64 * ((KVM_NR_INTERRUPTS + 63) // 64)),
    ]


class Fpu(ctypes.Structure):
    """struct kvm_fpu: x87 and SSE state in FXSAVE layout."""

    _fields_ = [
        ("fpr", (c_uint8 * 16) * 8),
        ("fcw", c_uint16),
        ("fsw", c_uint16),
        ("ftwx", c_uint8),
        ("pad1", c_uint8),
        ("last_opcode", c_uint16),
        ("last_ip", c_uint64),
        ("last_dp", c_uint64),
        ("xmm", (c_uint8 * 16) * 16),
        ("mxcsr", c_uint32),
        ("pad2", c_uint32),
    ]


class MsrEntry(ctypes.Structure):
    _fields_ = [("index", c_uint32), ("reserved", c_uint32), ("data", c_uint64)]


class MsrsHeader(ctypes.Structure):
    """struct kvm_msrs without its flexible array; see msrs_type()."""

    _fields_ = [("nmsrs", c_uint32), ("pad", c_uint32)]


class MsrListHeader(ctypes.Structure):
    _fields_ = [("nmsrs", c_uint32)]


class CpuidEntry2(ctypes.Structure):
    """struct kvm_cpuid_entry2: one CPUID leaf/subleaf."""

    _fields_ = [
        ("function", c_uint32),
        ("index", c_uint32),
        ("flags", c_uint32),
        ("eax", c_uint32),
        ("ebx", c_uint32),
        ("ecx", c_uint32),
        ("edx", c_uint32),
        ("padding", c_uint32 * 3),
    ]


class Cpuid2Header(ctypes.Structure):
    """struct kvm_cpuid2 without its flexible array; see cpuid2_type()."""

    _fields_ = [("nent", c_uint32), ("padding", c_uint32)]


class LapicState(ctypes.Structure):
    """struct kvm_lapic_state: the 1 KiB local APIC register page."""

    _fields_ = [("regs", c_char * 1024)]


class MpState(ctypes.Structure):
    _fields_ = [("mp_state", c_uint32)]


class UserspaceMemoryRegion(ctypes.Structure):
    _fields_ = [
        ("slot", c_uint32),
        ("flags", c_uint32),
        ("guest_phys_addr", c_uint64),
        ("memory_size", c_uint64),
        ("userspace_addr", c_uint64),
    ]


class IrqLevel(ctypes.Structure):
    """struct kvm_irq_level; `irq` doubles as `status` for KVM_IRQ_LINE_STATUS."""

    _fields_ = [("irq", c_int32), ("level", c_uint32)]


class PitConfig(ctypes.Structure):
    _fields_ = [("flags", c_uint32), ("pad", c_uint32 * 15)]


class ClockData(ctypes.Structure):
    """struct kvm_clock_data: the VM's kvmclock, in nanoseconds."""

    _fields_ = [
        ("clock", c_uint64),
        ("flags", c_uint32),
        ("pad0", c_uint32),
        ("realtime", c_uint64),
        ("host_tsc", c_uint64),
        ("pad", c_uint32 * 4),
    ]


class Irqchip(ctypes.Structure):
    """struct kvm_irqchip: one PIC (master 0, slave 1) or the IOAPIC (2), as an opaque state."""

    _fields_ = [("chip_id", c_uint32), ("pad", c_uint32), ("chip", c_char * 512)]


# Opaque state blobs: saved and restored whole, never interpreted (but the PIT's load times).
PIT_STATE2_SIZE = 112
PIT_CHANNEL_SIZE = 24
PIT_COUNT_LOAD_TIME = 16  # s64 ktime (ns) inside each kvm_pit_channel_state
VCPU_EVENTS_SIZE = 64
DEBUGREGS_SIZE = 128
XCRS_SIZE = 392
XSAVE_SIZE = 4096  # struct kvm_xsave; KVM_CAP_XSAVE2 may ask for more


class IrqRoutingIrqchip(ctypes.Structure):
    _fields_ = [("irqchip", c_uint32), ("pin", c_uint32)]


class IrqRoutingMsi(ctypes.Structure):
    """struct kvm_irq_routing_msi; `devid` (the union with pad) stays 0 on x86."""

    _fields_ = [
        ("address_lo", c_uint32),
        ("address_hi", c_uint32),
        ("data", c_uint32),
        ("devid", c_uint32),
    ]


class IrqRoutingUnion(ctypes.Union):
    _fields_ = [("irqchip", IrqRoutingIrqchip), ("msi", IrqRoutingMsi), ("pad", c_uint32 * 8)]


class IrqRoutingEntry(ctypes.Structure):
    """struct kvm_irq_routing_entry: what one GSI does (an irqchip pin or an MSI message)."""

    _fields_ = [
        ("gsi", c_uint32),
        ("type", c_uint32),
        ("flags", c_uint32),
        ("pad", c_uint32),
        ("u", IrqRoutingUnion),
    ]


class IrqRoutingHeader(ctypes.Structure):
    """struct kvm_irq_routing without its flexible array; see irq_routing_type()."""

    _fields_ = [("nr", c_uint32), ("flags", c_uint32)]


class Irqfd(ctypes.Structure):
    _fields_ = [
        ("fd", c_uint32),
        ("gsi", c_uint32),
        ("flags", c_uint32),
        ("resamplefd", c_uint32),
        ("pad", c_uint8 * 16),
    ]


class Ioeventfd(ctypes.Structure):
    _fields_ = [
        ("datamatch", c_uint64),
        ("addr", c_uint64),
        ("len", c_uint32),
        ("fd", c_int32),
        ("flags", c_uint32),
        ("pad", c_uint8 * 36),
    ]


class Msi(ctypes.Structure):
    """struct kvm_msi, for KVM_SIGNAL_MSI."""

    _fields_ = [
        ("address_lo", c_uint32),
        ("address_hi", c_uint32),
        ("data", c_uint32),
        ("flags", c_uint32),
        ("devid", c_uint32),
        ("pad", c_uint8 * 12),
    ]


# --- the kvm_run page -------------------------------------------------------


class ExitHw(ctypes.Structure):
    _fields_ = [("hardware_exit_reason", c_uint64)]


class ExitFailEntry(ctypes.Structure):
    _fields_ = [("hardware_entry_failure_reason", c_uint64), ("cpu", c_uint32)]


class ExitException(ctypes.Structure):
    _fields_ = [("exception", c_uint32), ("error_code", c_uint32)]


class ExitIo(ctypes.Structure):
    _fields_ = [
        ("direction", c_uint8),
        ("size", c_uint8),
        ("port", c_uint16),
        ("count", c_uint32),
        ("data_offset", c_uint64),
    ]


class ExitDebug(ctypes.Structure):
    """struct kvm_debug_exit_arch (x86)."""

    _fields_ = [
        ("exception", c_uint32),
        ("pad", c_uint32),
        ("pc", c_uint64),
        ("dr6", c_uint64),
        ("dr7", c_uint64),
    ]


class ExitMmio(ctypes.Structure):
    _fields_ = [
        ("phys_addr", c_uint64),
        ("data", c_uint8 * 8),
        ("len", c_uint32),
        ("is_write", c_uint8),
    ]


class ExitHypercall(ctypes.Structure):
    _fields_ = [
        ("nr", c_uint64),
        ("args", c_uint64 * 6),
        ("ret", c_uint64),
        ("longmode", c_uint32),
        ("pad", c_uint32),
    ]


class ExitTprAccess(ctypes.Structure):
    _fields_ = [("rip", c_uint64), ("is_write", c_uint32), ("pad", c_uint32)]


class ExitInternal(ctypes.Structure):
    _fields_ = [("suberror", c_uint32), ("ndata", c_uint32), ("data", c_uint64 * 16)]


class ExitEmulationFailure(ctypes.Structure):
    _fields_ = [
        ("suberror", c_uint32),
        ("ndata", c_uint32),
        ("flags", c_uint64),
        ("insn_size", c_uint8),
        ("insn_bytes", c_uint8 * 15),
    ]


class ExitSystemEvent(ctypes.Structure):
    _fields_ = [("type", c_uint32), ("ndata", c_uint32), ("data", c_uint64 * 16)]


class ExitEoi(ctypes.Structure):
    _fields_ = [("vector", c_uint8)]


class ExitMsr(ctypes.Structure):
    _fields_ = [
        ("error", c_uint8),
        ("pad", c_uint8 * 7),
        ("reason", c_uint32),
        ("index", c_uint32),
        ("data", c_uint64),
    ]


class ExitNotify(ctypes.Structure):
    _fields_ = [("flags", c_uint32)]


class ExitMemoryFault(ctypes.Structure):
    _fields_ = [("flags", c_uint64), ("gpa", c_uint64), ("size", c_uint64)]


class ExitUnion(ctypes.Union):
    _fields_ = [
        ("hw", ExitHw),
        ("fail_entry", ExitFailEntry),
        ("ex", ExitException),
        ("io", ExitIo),
        ("debug", ExitDebug),
        ("mmio", ExitMmio),
        ("hypercall", ExitHypercall),
        ("tpr_access", ExitTprAccess),
        ("internal", ExitInternal),
        ("emulation_failure", ExitEmulationFailure),
        ("system_event", ExitSystemEvent),
        ("eoi", ExitEoi),
        ("msr", ExitMsr),
        ("notify", ExitNotify),
        ("memory_fault", ExitMemoryFault),
        ("raw", c_uint8 * 256),
    ]


class Run(ctypes.Structure):
    """struct kvm_run: the page shared with the kernel, mmapped from a vCPU fd."""

    _fields_ = [
        ("request_interrupt_window", c_uint8),
        ("immediate_exit", c_uint8),
        ("padding1", c_uint8 * 6),
        ("exit_reason", c_uint32),
        ("ready_for_interrupt_injection", c_uint8),
        ("if_flag", c_uint8),
        ("flags", c_uint16),
        ("cr8", c_uint64),
        ("apic_base", c_uint64),
        ("exit", ExitUnion),
        ("kvm_valid_regs", c_uint64),
        ("kvm_dirty_regs", c_uint64),
    ]


def msrs_type(n: int) -> type[ctypes.Structure]:
    """struct kvm_msrs with room for n entries."""
    return type(
        f"Msrs{n}",
        (ctypes.Structure,),
        {"_fields_": [("nmsrs", c_uint32), ("pad", c_uint32), ("entries", MsrEntry * n)]},
    )


def msr_list_type(n: int) -> type[ctypes.Structure]:
    """struct kvm_msr_list with room for n indices."""
    return type(
        f"MsrList{n}",
        (ctypes.Structure,),
        {"_fields_": [("nmsrs", c_uint32), ("indices", c_uint32 * n)]},
    )


def cpuid2_type(n: int) -> type[ctypes.Structure]:
    """struct kvm_cpuid2 with room for n entries."""
    return type(
        f"Cpuid2_{n}",
        (ctypes.Structure,),
        {"_fields_": [("nent", c_uint32), ("padding", c_uint32), ("entries", CpuidEntry2 * n)]},
    )


def irq_routing_type(n: int) -> type[ctypes.Structure]:
    """struct kvm_irq_routing with room for n entries."""
    return type(
        f"IrqRouting{n}",
        (ctypes.Structure,),
        {"_fields_": [("nr", c_uint32), ("flags", c_uint32), ("entries", IrqRoutingEntry * n)]},
    )
