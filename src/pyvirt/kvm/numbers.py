"""KVM ioctl request numbers, capabilities and flags used by pyvirt."""

from __future__ import annotations

import ctypes
import enum

from . import structs as s
from .ioctl import io, ioc_read, ioc_write, ior, iow, iowr

KVM_API_VERSION = 12

# /dev/kvm
GET_API_VERSION = io(0x00)
CREATE_VM = io(0x01)
GET_MSR_INDEX_LIST = iowr(0x02, s.MsrListHeader)
CHECK_EXTENSION = io(0x03)
GET_VCPU_MMAP_SIZE = io(0x04)
GET_SUPPORTED_CPUID = iowr(0x05, s.Cpuid2Header)

# VM fd
CREATE_VCPU = io(0x41)
SET_USER_MEMORY_REGION = iow(0x46, s.UserspaceMemoryRegion)
SET_TSS_ADDR = io(0x47)
SET_IDENTITY_MAP_ADDR = iow(0x48, ctypes.c_uint64)
CREATE_IRQCHIP = io(0x60)
IRQ_LINE = iow(0x61, s.IrqLevel)
IRQ_LINE_STATUS = iowr(0x67, s.IrqLevel)
CREATE_PIT2 = iow(0x77, s.PitConfig)
SET_GSI_ROUTING = iow(0x6A, s.IrqRoutingHeader)
IRQFD = iow(0x76, s.Irqfd)
IOEVENTFD = iow(0x79, s.Ioeventfd)
SIGNAL_MSI = iow(0xA5, s.Msi)
GET_IRQCHIP = iowr(0x62, s.Irqchip)
SET_IRQCHIP = ior(0x63, s.Irqchip)  # sic: the kernel header declares it _IOR
SET_CLOCK = iow(0x7B, s.ClockData)
GET_CLOCK = ior(0x7C, s.ClockData)
GET_PIT2 = ioc_read(0x9F, s.PIT_STATE2_SIZE)
SET_PIT2 = ioc_write(0xA0, s.PIT_STATE2_SIZE)

# vCPU fd
RUN = io(0x80)
GET_REGS = ior(0x81, s.Regs)
SET_REGS = iow(0x82, s.Regs)
GET_SREGS = ior(0x83, s.Sregs)
SET_SREGS = iow(0x84, s.Sregs)
GET_MSRS = iowr(0x88, s.MsrsHeader)
SET_MSRS = iow(0x89, s.MsrsHeader)
GET_FPU = ior(0x8C, s.Fpu)
SET_FPU = iow(0x8D, s.Fpu)
GET_LAPIC = ior(0x8E, s.LapicState)
SET_LAPIC = iow(0x8F, s.LapicState)
SET_CPUID2 = iow(0x90, s.Cpuid2Header)
GET_CPUID2 = iowr(0x91, s.Cpuid2Header)
GET_MP_STATE = ior(0x98, s.MpState)
SET_MP_STATE = iow(0x99, s.MpState)
GET_VCPU_EVENTS = ioc_read(0x9F, s.VCPU_EVENTS_SIZE)
SET_VCPU_EVENTS = ioc_write(0xA0, s.VCPU_EVENTS_SIZE)
GET_DEBUGREGS = ioc_read(0xA1, s.DEBUGREGS_SIZE)
SET_DEBUGREGS = ioc_write(0xA2, s.DEBUGREGS_SIZE)
GET_XSAVE = ioc_read(0xA4, s.XSAVE_SIZE)
SET_XSAVE = ioc_write(0xA5, s.XSAVE_SIZE)
GET_XSAVE2 = ioc_read(0xCF, s.XSAVE_SIZE)
GET_XCRS = ioc_read(0xA6, s.XCRS_SIZE)
SET_XCRS = ioc_write(0xA7, s.XCRS_SIZE)

PIT_SPEAKER_DUMMY = 1
MEM_READONLY = 1 << 1

# GSI routing (KVM_SET_GSI_ROUTING): entry types and the x86 irqchips
IRQ_ROUTING_IRQCHIP = 1
IRQ_ROUTING_MSI = 2
IRQCHIP_PIC_MASTER = 0
IRQCHIP_PIC_SLAVE = 1
IRQCHIP_IOAPIC = 2

IRQFD_FLAG_DEASSIGN = 1 << 0
IOEVENTFD_FLAG_DATAMATCH = 1 << 0
IOEVENTFD_FLAG_PIO = 1 << 1
IOEVENTFD_FLAG_DEASSIGN = 1 << 2


class Cap(enum.IntEnum):
    """Capabilities queried with KVM_CHECK_EXTENSION."""

    IRQCHIP = 0
    HLT = 1
    USER_MEMORY = 3
    SET_TSS_ADDR = 4
    EXT_CPUID = 7
    NR_VCPUS = 9
    NR_MEMSLOTS = 10
    PIT = 11
    MP_STATE = 14
    SYNC_MMU = 16
    IOMMU = 18
    SET_IDENTITY_MAP_ADDR = 37
    IRQ_INJECT_STATUS = 26
    PIT2 = 33
    IOEVENTFD = 36
    IRQFD = 32
    IRQ_ROUTING = 25
    SIGNAL_MSI = 77
    IOEVENTFD_ANY_LENGTH = 122
    MAX_VCPUS = 66
    IMMEDIATE_EXIT = 136
    READONLY_MEM = 81
    MAX_VCPU_ID = 128
    INTERNAL_ERROR_DATA = 40
    ADJUST_CLOCK = 39
    VCPU_EVENTS = 41
    DEBUGREGS = 50
    XSAVE = 55
    XCRS = 56
    XSAVE2 = 208


# Capabilities the x86 VMM cannot run without.
REQUIRED_CAPS = (
    Cap.IRQCHIP,
    Cap.USER_MEMORY,
    Cap.SET_TSS_ADDR,
    Cap.EXT_CPUID,
    Cap.PIT2,
    Cap.MP_STATE,
    Cap.IMMEDIATE_EXIT,
)


class MpStateValue(enum.IntEnum):
    RUNNABLE = 0
    UNINITIALIZED = 1
    INIT_RECEIVED = 2
    HALTED = 3
    SIPI_RECEIVED = 4
