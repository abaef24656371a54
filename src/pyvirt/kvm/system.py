"""Typed wrappers around the /dev/kvm, VM and vCPU file descriptors.

All ioctls go through libc via ctypes: a ctypes call releases the GIL, so a
vCPU thread blocked in KVM_RUN does not stop the rest of the VMM, and an
interrupted KVM_RUN comes back to us as EINTR instead of being retried.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import struct
from collections.abc import Iterable, Mapping, Sequence

from . import numbers as n
from . import structs as s
from .exits import ExitReason

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
_libc.ioctl.restype = ctypes.c_int

DEFAULT_DEVICE = "/dev/kvm"


class KvmUnavailable(RuntimeError):
    """/dev/kvm is missing or unusable; the message says what to do."""


class KvmIoctlError(OSError):
    """An ioctl failed; the message names it."""


def _ioctl(fd: int, request: int, arg: int = 0, name: str = "ioctl") -> int:
    ret = _libc.ioctl(fd, request, arg)
    if ret < 0:
        err = ctypes.get_errno()
        raise KvmIoctlError(err, f"{name}: {os.strerror(err)}")
    return ret


def _addr(obj: ctypes.Structure | ctypes.Array) -> int:
    return ctypes.addressof(obj)


def open_device(path: str = DEFAULT_DEVICE) -> int:
    """Open the KVM device, turning the usual failures into advice."""
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KvmUnavailable(
            f"{path} does not exist: this host has no KVM; enable virtualization (VT-x/AMD-V) "
            "in the firmware and load kvm_intel or kvm_amd (modprobe kvm_intel)"
        ) from None
    except PermissionError:
        raise KvmUnavailable(
            f"permission denied opening {path}: run as root or add your user to the 'kvm' group "
            "(usermod -aG kvm $USER) and log in again"
        ) from None
    except OSError as e:
        raise KvmUnavailable(f"cannot open {path}: {e.strerror}") from None


class Kvm:
    """The /dev/kvm system fd: capabilities, supported CPUID, VM creation."""

    def __init__(self, path: str = DEFAULT_DEVICE) -> None:
        self.path = path
        self.fd = open_device(path)
        try:
            version = _ioctl(self.fd, n.GET_API_VERSION, name="KVM_GET_API_VERSION")
        except OSError as e:
            os.close(self.fd)
            raise KvmUnavailable(f"{path} is not a KVM device: {e.strerror}") from None
        if version != n.KVM_API_VERSION:
            os.close(self.fd)
            raise KvmUnavailable(
                f"{path} speaks KVM API version {version}, pyvirt needs {n.KVM_API_VERSION}"
            )
        self.vcpu_mmap_size = _ioctl(self.fd, n.GET_VCPU_MMAP_SIZE, name="KVM_GET_VCPU_MMAP_SIZE")

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def check_extension(self, cap: int) -> int:
        return _ioctl(self.fd, n.CHECK_EXTENSION, int(cap), name="KVM_CHECK_EXTENSION")

    def require(self, caps: Iterable[n.Cap] = n.REQUIRED_CAPS) -> None:
        missing = [f"KVM_CAP_{c.name}" for c in caps if self.check_extension(c) <= 0]
        if missing:
            raise KvmUnavailable(
                f"{self.path} lacks capabilities pyvirt needs: {', '.join(missing)}; "
                "use a newer host kernel"
            )

    def max_vcpus(self) -> int:
        return self.check_extension(n.Cap.MAX_VCPUS) or self.check_extension(n.Cap.NR_VCPUS) or 4

    def supported_cpuid(self) -> list[s.CpuidEntry2]:
        """KVM_GET_SUPPORTED_CPUID, growing the buffer until the kernel is satisfied."""
        count = 64
        while True:
            buf = s.cpuid2_type(count)()
            buf.nent = count
            try:
                _ioctl(self.fd, n.GET_SUPPORTED_CPUID, _addr(buf), name="KVM_GET_SUPPORTED_CPUID")
            except OSError as e:
                if e.errno == errno.E2BIG and count < 4096:
                    count *= 2
                    continue
                raise
            return [_copy(buf.entries[i]) for i in range(buf.nent)]

    def msr_index_list(self) -> list[int]:
        header = s.MsrListHeader(0)
        try:
            _ioctl(self.fd, n.GET_MSR_INDEX_LIST, _addr(header), name="KVM_GET_MSR_INDEX_LIST")
        except OSError as e:
            if e.errno != errno.E2BIG:
                raise
        buf = s.msr_list_type(header.nmsrs)()
        buf.nmsrs = header.nmsrs
        _ioctl(self.fd, n.GET_MSR_INDEX_LIST, _addr(buf), name="KVM_GET_MSR_INDEX_LIST")
        return list(buf.indices[: buf.nmsrs])

    def create_vm(self) -> Vm:
        fd = _ioctl(self.fd, n.CREATE_VM, 0, name="KVM_CREATE_VM")
        return Vm(self, fd)


def _copy(entry: s.CpuidEntry2) -> s.CpuidEntry2:
    return s.CpuidEntry2.from_buffer_copy(entry)


class Vm:
    """A VM fd: memory slots, the in-kernel irqchip and PIT, interrupt lines, vCPUs."""

    def __init__(self, kvm: Kvm, fd: int) -> None:
        self.kvm = kvm
        self.fd = fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def check_extension(self, cap: int) -> int:
        return _ioctl(self.fd, n.CHECK_EXTENSION, int(cap), name="KVM_CHECK_EXTENSION")

    def set_user_memory_region(
        self, slot: int, guest_phys_addr: int, size: int, host_addr: int, flags: int = 0
    ) -> None:
        region = s.UserspaceMemoryRegion(slot, flags, guest_phys_addr, size, host_addr)
        _ioctl(self.fd, n.SET_USER_MEMORY_REGION, _addr(region), name="KVM_SET_USER_MEMORY_REGION")

    def set_tss_addr(self, addr: int) -> None:
        _ioctl(self.fd, n.SET_TSS_ADDR, addr, name="KVM_SET_TSS_ADDR")

    def set_identity_map_addr(self, addr: int) -> None:
        value = ctypes.c_uint64(addr)
        _ioctl(self.fd, n.SET_IDENTITY_MAP_ADDR, _addr(value), name="KVM_SET_IDENTITY_MAP_ADDR")

    def create_irqchip(self) -> None:
        """In-kernel PIC pair, IOAPIC and per-vCPU local APICs."""
        _ioctl(self.fd, n.CREATE_IRQCHIP, name="KVM_CREATE_IRQCHIP")

    def create_pit2(self, flags: int = n.PIT_SPEAKER_DUMMY) -> None:
        config = s.PitConfig(flags)
        _ioctl(self.fd, n.CREATE_PIT2, _addr(config), name="KVM_CREATE_PIT2")

    def irq_line(self, irq: int, level: bool) -> None:
        """Drive a GSI (PIC and IOAPIC input) high or low."""
        req = s.IrqLevel(irq, int(level))
        _ioctl(self.fd, n.IRQ_LINE, _addr(req), name="KVM_IRQ_LINE")

    # --- state (snapshots, pause) ----------------------------------------------

    def get_clock(self) -> int:
        """The guest's kvmclock in nanoseconds (KVM_GET_CLOCK)."""
        data = s.ClockData()
        _ioctl(self.fd, n.GET_CLOCK, _addr(data), name="KVM_GET_CLOCK")
        return data.clock

    def set_clock(self, clock_ns: int) -> None:
        data = s.ClockData(clock=clock_ns)
        _ioctl(self.fd, n.SET_CLOCK, _addr(data), name="KVM_SET_CLOCK")

    def get_irqchip(self, chip_id: int) -> bytes:
        chip = s.Irqchip(chip_id=chip_id)
        _ioctl(self.fd, n.GET_IRQCHIP, _addr(chip), name="KVM_GET_IRQCHIP")
        return bytes(chip)[8:]

    def set_irqchip(self, chip_id: int, state: bytes) -> None:
        size = ctypes.sizeof(s.Irqchip) - s.Irqchip.chip.offset
        header = struct.pack("<II", chip_id, 0)
        chip = s.Irqchip.from_buffer_copy(header + _exact(state, size, "irqchip state"))
        _ioctl(self.fd, n.SET_IRQCHIP, _addr(chip), name="KVM_SET_IRQCHIP")

    def get_pit2(self) -> bytes:
        return _get_blob(self.fd, n.GET_PIT2, s.PIT_STATE2_SIZE, "KVM_GET_PIT2")

    def set_pit2(self, state: bytes) -> None:
        _set_blob(self.fd, n.SET_PIT2, state, s.PIT_STATE2_SIZE, "KVM_SET_PIT2")

    def create_vcpu(self, vcpu_id: int) -> Vcpu:
        fd = _ioctl(self.fd, n.CREATE_VCPU, vcpu_id, name="KVM_CREATE_VCPU")
        return Vcpu(self, vcpu_id, fd)

    # --- interrupt routing and eventfds ----------------------------------------

    def set_gsi_routing(self, entries: Sequence[s.IrqRoutingEntry]) -> None:
        """Replace the whole GSI routing table (the default one included) with `entries`."""
        buf = s.irq_routing_type(len(entries))()
        buf.nr = len(entries)
        for i, entry in enumerate(entries):
            buf.entries[i] = entry
        _ioctl(self.fd, n.SET_GSI_ROUTING, _addr(buf), name="KVM_SET_GSI_ROUTING")

    def irqfd(self, fd: int, gsi: int, *, deassign: bool = False) -> None:
        """Make a write to eventfd `fd` raise `gsi` (edge: an MSI, or a pulse on a pin)."""
        req = s.Irqfd(fd=fd, gsi=gsi, flags=n.IRQFD_FLAG_DEASSIGN if deassign else 0)
        _ioctl(self.fd, n.IRQFD, _addr(req), name="KVM_IRQFD")

    def ioeventfd(
        self,
        fd: int,
        addr: int,
        length: int,
        *,
        datamatch: int | None = None,
        pio: bool = False,
        deassign: bool = False,
    ) -> None:
        """Turn guest writes of `length` bytes at `addr` (MMIO, or a port with `pio`) into
        signals on eventfd `fd`, handled in the kernel without an exit to us. Length 0
        matches writes of any length (KVM_CAP_IOEVENTFD_ANY_LENGTH, MMIO only); with
        `datamatch`, only writes of that value match."""
        flags = n.IOEVENTFD_FLAG_PIO if pio else 0
        if datamatch is not None:
            flags |= n.IOEVENTFD_FLAG_DATAMATCH
        if deassign:
            flags |= n.IOEVENTFD_FLAG_DEASSIGN
        req = s.Ioeventfd(datamatch=datamatch or 0, addr=addr, len=length, fd=fd, flags=flags)
        _ioctl(self.fd, n.IOEVENTFD, _addr(req), name="KVM_IOEVENTFD")

    def signal_msi(self, address: int, data: int) -> bool:
        """Inject one MSI message directly; False when no local APIC accepted it.

        KVM returns the APIC delivery result as the ioctl's value: -1 (seen as
        EPERM) when the message addresses no vCPU, 0 when it was coalesced.
        """
        msi = s.Msi(address_lo=address & 0xFFFFFFFF, address_hi=address >> 32, data=data)
        try:
            return _ioctl(self.fd, n.SIGNAL_MSI, _addr(msi), name="KVM_SIGNAL_MSI") > 0
        except KvmIoctlError as e:
            if e.errno == errno.EPERM:
                return False
            raise


def _exact(data: bytes, size: int, what: str) -> bytes:
    if len(data) != size:
        raise ValueError(f"{what} is {len(data)} bytes, KVM expects {size}")
    return data


def _get_blob(fd: int, request: int, size: int, name: str, buf_size: int | None = None) -> bytes:
    buf = ctypes.create_string_buffer(buf_size or size)
    _ioctl(fd, request, _addr(buf), name=name)
    return buf.raw


def _set_blob(fd: int, request: int, data: bytes, size: int, name: str) -> None:
    buf = ctypes.create_string_buffer(_exact(data, size, name), size)
    _ioctl(fd, request, _addr(buf), name=name)


_EXIT_REASON = struct.Struct("<I")
_EXIT_REASON_OFFSET = s.Run.exit_reason.offset
_EXIT_UNION_OFFSET = s.Run.exit.offset
_IO_EXIT = struct.Struct("<BBHIQ")


class Vcpu:
    """A vCPU fd with its mmapped kvm_run page."""

    def __init__(self, vm: Vm, vcpu_id: int, fd: int) -> None:
        self.vm = vm
        self.id = vcpu_id
        self.fd = fd
        self.page = mmap.mmap(
            fd, vm.kvm.vcpu_mmap_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE
        )
        self.run_page = s.Run.from_buffer(self.page)

    def close(self) -> None:
        if self.fd >= 0:
            del self.run_page
            self.page.close()
            os.close(self.fd)
            self.fd = -1

    # --- running ---------------------------------------------------------

    def run(self) -> int:
        """Enter the guest until the next exit; returns the exit reason.

        A signal or immediate_exit makes this return ExitReason.INTR.
        """
        if _libc.ioctl(self.fd, n.RUN, 0) < 0:
            err = ctypes.get_errno()
            if err in (errno.EINTR, errno.EAGAIN):
                return ExitReason.INTR
            raise KvmIoctlError(err, f"KVM_RUN: {os.strerror(err)}")
        return _EXIT_REASON.unpack_from(self.page, _EXIT_REASON_OFFSET)[0]

    def io_exit(self) -> tuple[int, int, int, int, int]:
        """The current KVM_EXIT_IO as (direction, size, port, count, data_offset).

        Read straight from the page with struct: this is the hottest path of
        the VMM, and it is several times cheaper than ctypes field access.
        """
        return _IO_EXIT.unpack_from(self.page, _EXIT_UNION_OFFSET)

    @property
    def immediate_exit(self) -> bool:
        return bool(self.run_page.immediate_exit)

    @immediate_exit.setter
    def immediate_exit(self, value: bool) -> None:
        self.run_page.immediate_exit = int(value)

    def io_data(self) -> memoryview:
        """The data bytes of the current KVM_EXIT_IO, inside the run page."""
        io = self.run_page.exit.io
        start = io.data_offset
        return memoryview(self.page)[start : start + io.size * io.count]

    # --- state ------------------------------------------------------------

    def _get(self, request: int, ctype: type, name: str):
        value = ctype()
        _ioctl(self.fd, request, _addr(value), name=name)
        return value

    def get_regs(self) -> s.Regs:
        return self._get(n.GET_REGS, s.Regs, "KVM_GET_REGS")

    def set_regs(self, regs: s.Regs) -> None:
        _ioctl(self.fd, n.SET_REGS, _addr(regs), name="KVM_SET_REGS")

    def get_sregs(self) -> s.Sregs:
        return self._get(n.GET_SREGS, s.Sregs, "KVM_GET_SREGS")

    def set_sregs(self, sregs: s.Sregs) -> None:
        _ioctl(self.fd, n.SET_SREGS, _addr(sregs), name="KVM_SET_SREGS")

    def get_fpu(self) -> s.Fpu:
        return self._get(n.GET_FPU, s.Fpu, "KVM_GET_FPU")

    def set_fpu(self, fpu: s.Fpu) -> None:
        _ioctl(self.fd, n.SET_FPU, _addr(fpu), name="KVM_SET_FPU")

    def get_lapic(self) -> s.LapicState:
        return self._get(n.GET_LAPIC, s.LapicState, "KVM_GET_LAPIC")

    def set_lapic(self, state: s.LapicState) -> None:
        _ioctl(self.fd, n.SET_LAPIC, _addr(state), name="KVM_SET_LAPIC")

    def get_mp_state(self) -> n.MpStateValue:
        state = self._get(n.GET_MP_STATE, s.MpState, "KVM_GET_MP_STATE")
        return n.MpStateValue(state.mp_state)

    def set_mp_state(self, state: n.MpStateValue) -> None:
        value = s.MpState(int(state))
        _ioctl(self.fd, n.SET_MP_STATE, _addr(value), name="KVM_SET_MP_STATE")

    def get_msrs(self, indices: Iterable[int]) -> dict[int, int]:
        wanted = list(indices)
        buf = s.msrs_type(len(wanted))()
        buf.nmsrs = len(wanted)
        for i, index in enumerate(wanted):
            buf.entries[i].index = index
        got = _ioctl(self.fd, n.GET_MSRS, _addr(buf), name="KVM_GET_MSRS")
        return {buf.entries[i].index: buf.entries[i].data for i in range(got)}

    def set_msrs(self, values: Mapping[int, int]) -> None:
        buf = s.msrs_type(len(values))()
        buf.nmsrs = len(values)
        for i, (index, data) in enumerate(values.items()):
            buf.entries[i].index = index
            buf.entries[i].data = data
        done = _ioctl(self.fd, n.SET_MSRS, _addr(buf), name="KVM_SET_MSRS")
        if done != len(values):
            bad = buf.entries[done].index
            raise KvmIoctlError(errno.EINVAL, f"KVM_SET_MSRS: MSR {bad:#x} was refused")

    def set_cpuid(self, entries: list[s.CpuidEntry2]) -> None:
        buf = s.cpuid2_type(len(entries))()
        buf.nent = len(entries)
        for i, entry in enumerate(entries):
            buf.entries[i] = entry
        _ioctl(self.fd, n.SET_CPUID2, _addr(buf), name="KVM_SET_CPUID2")

    def get_cpuid(self, capacity: int = 256) -> list[s.CpuidEntry2]:
        buf = s.cpuid2_type(capacity)()
        buf.nent = capacity
        _ioctl(self.fd, n.GET_CPUID2, _addr(buf), name="KVM_GET_CPUID2")
        return [_copy(buf.entries[i]) for i in range(buf.nent)]

    # --- opaque state for snapshots ---------------------------------------------

    def get_vcpu_events(self) -> bytes:
        return _get_blob(self.fd, n.GET_VCPU_EVENTS, s.VCPU_EVENTS_SIZE, "KVM_GET_VCPU_EVENTS")

    def set_vcpu_events(self, state: bytes) -> None:
        _set_blob(self.fd, n.SET_VCPU_EVENTS, state, s.VCPU_EVENTS_SIZE, "KVM_SET_VCPU_EVENTS")

    def get_debugregs(self) -> bytes:
        return _get_blob(self.fd, n.GET_DEBUGREGS, s.DEBUGREGS_SIZE, "KVM_GET_DEBUGREGS")

    def set_debugregs(self, state: bytes) -> None:
        _set_blob(self.fd, n.SET_DEBUGREGS, state, s.DEBUGREGS_SIZE, "KVM_SET_DEBUGREGS")

    def get_xcrs(self) -> bytes:
        return _get_blob(self.fd, n.GET_XCRS, s.XCRS_SIZE, "KVM_GET_XCRS")

    def set_xcrs(self, state: bytes) -> None:
        _set_blob(self.fd, n.SET_XCRS, state, s.XCRS_SIZE, "KVM_SET_XCRS")

    def xsave_size(self) -> int:
        """Bytes of XSAVE state: 4 KiB, or more when KVM_CAP_XSAVE2 says so (AMX)."""
        return max(s.XSAVE_SIZE, self.vm.check_extension(n.Cap.XSAVE2))

    def get_xsave(self) -> bytes:
        size = self.xsave_size()
        if size > s.XSAVE_SIZE:
            return _get_blob(self.fd, n.GET_XSAVE2, size, "KVM_GET_XSAVE2", size)
        return _get_blob(self.fd, n.GET_XSAVE, size, "KVM_GET_XSAVE")

    def set_xsave(self, state: bytes) -> None:
        """KVM_SET_XSAVE reads as many bytes as KVM_CAP_XSAVE2 says, whatever its number's size."""
        size = self.xsave_size()
        buf = ctypes.create_string_buffer(_exact(state, size, "XSAVE state"), size)
        _ioctl(self.fd, n.SET_XSAVE, _addr(buf), name="KVM_SET_XSAVE")

    def readable_msrs(self, indices: Iterable[int]) -> list[int]:
        """The MSRs of `indices` this vCPU lets KVM_GET_MSRS read (one probe each)."""
        return [index for index in indices if self.get_msrs([index])]
