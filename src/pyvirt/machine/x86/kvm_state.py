"""What KVM holds of a PC, saved and restored for snapshots: every vCPU's registers and
the in-kernel devices (PICs, IOAPIC, PIT) and clock.

Order on restore: registers, XSAVE, XCRs, special registers, MSRs (the TSC among
them), MP state, local APIC, then the TSC deadline (meaningful only once the APIC
is in TSC-deadline mode, and measured against the restored TSC, as QEMU's
kvm_put_tscdeadline_msr does), pending events, debug registers.
The PIT's load times are host monotonic times; they are shifted by the time the
snapshot spent on disk so that the timer's phase continues where it was.
"""

from __future__ import annotations

import ctypes
import logging
import struct
import time
from collections.abc import Iterable, Mapping
from typing import Any

from pyvirt.hw.state import State, StateError, blob, get, unblob
from pyvirt.kvm import Vcpu, Vm
from pyvirt.kvm import numbers as kn
from pyvirt.kvm import structs as ks
from pyvirt.kvm.system import KvmIoctlError

log = logging.getLogger(__name__)

IRQCHIPS = {"pic-master": kn.IRQCHIP_PIC_MASTER, "pic-slave": kn.IRQCHIP_PIC_SLAVE,
            "ioapic": kn.IRQCHIP_IOAPIC}  # fmt: skip
_S64 = struct.Struct("<q")
MSR_TSC_DEADLINE = 0x6E0


def save_vcpu(vcpu: Vcpu, msrs: Iterable[int]) -> State:
    """The vCPU's architectural state; it must be out of KVM_RUN (paused)."""
    state: State = {
        "regs": blob(bytes(vcpu.get_regs())),
        "sregs": blob(bytes(vcpu.get_sregs())),
        "msrs": [[index, value] for index, value in vcpu.get_msrs(msrs).items()],
        "mp-state": int(vcpu.get_mp_state()),
        "lapic": blob(bytes(vcpu.get_lapic())),
        "events": blob(vcpu.get_vcpu_events()),
        "debugregs": blob(vcpu.get_debugregs()),
    }
    if _has(vcpu.vm, kn.Cap.XSAVE):
        state["xsave"] = blob(vcpu.get_xsave())
    else:
        state["fpu"] = blob(bytes(vcpu.get_fpu()))
    if _has(vcpu.vm, kn.Cap.XCRS):
        state["xcrs"] = blob(vcpu.get_xcrs())
    return state


def load_vcpu(vcpu: Vcpu, state: Mapping[str, Any]) -> None:
    vcpu.set_regs(ks.Regs.from_buffer_copy(unblob(state, "regs", _size(ks.Regs))))
    if "xsave" in state:
        vcpu.set_xsave(unblob(state, "xsave", vcpu.xsave_size()))
    else:
        vcpu.set_fpu(ks.Fpu.from_buffer_copy(unblob(state, "fpu", _size(ks.Fpu))))
    if "xcrs" in state:
        vcpu.set_xcrs(unblob(state, "xcrs", ks.XCRS_SIZE))
    vcpu.set_sregs(ks.Sregs.from_buffer_copy(unblob(state, "sregs", _size(ks.Sregs))))
    msrs = _msr_entries(get(state, "msrs", list))
    _load_msrs(vcpu, [e for e in msrs if e[0] != MSR_TSC_DEADLINE])
    try:
        vcpu.set_mp_state(kn.MpStateValue(get(state, "mp-state", int)))
    except ValueError:
        raise StateError(f"'mp-state' {state['mp-state']} is not a KVM MP state") from None
    vcpu.set_lapic(ks.LapicState.from_buffer_copy(unblob(state, "lapic", _size(ks.LapicState))))
    _load_msrs(vcpu, [e for e in msrs if e[0] == MSR_TSC_DEADLINE])
    vcpu.set_vcpu_events(unblob(state, "events", ks.VCPU_EVENTS_SIZE))
    vcpu.set_debugregs(unblob(state, "debugregs", ks.DEBUGREGS_SIZE))


def _msr_entries(entries: list[Any]) -> list[tuple[int, int]]:
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 2
                and all(isinstance(v, int) and 0 <= v < 1 << 64 for v in entry)):  # fmt: skip
            raise StateError(f"'msrs' entry {entry!r} is not [index, value]")
    return [(index, value) for index, value in entries]


def _load_msrs(vcpu: Vcpu, entries: list[tuple[int, int]]) -> None:
    """One MSR at a time, so that one the host refuses does not hide the others."""
    refused = []
    for index, value in entries:
        try:
            vcpu.set_msrs({index: value})
        except KvmIoctlError:
            refused.append(f"{index:#x}")
    if refused:
        log.info("vCPU %d: KVM refused MSRs %s", vcpu.id, ", ".join(refused))


def save_vm(vm: Vm) -> State:
    return {
        "clock": vm.get_clock(),
        "irqchip": {name: blob(vm.get_irqchip(chip)) for name, chip in IRQCHIPS.items()},
        "pit": blob(vm.get_pit2()),
        "monotonic-ns": time.monotonic_ns(),
    }


def load_vm(vm: Vm, state: Mapping[str, Any]) -> None:
    chips = get(state, "irqchip", dict)
    for name, chip in IRQCHIPS.items():
        vm.set_irqchip(chip, unblob(chips, name, 512))
    pit = bytearray(unblob(state, "pit", ks.PIT_STATE2_SIZE))
    elapsed = time.monotonic_ns() - get(state, "monotonic-ns", int)
    for channel in range(3):
        at = channel * ks.PIT_CHANNEL_SIZE + ks.PIT_COUNT_LOAD_TIME
        (loaded,) = _S64.unpack_from(pit, at)
        _S64.pack_into(pit, at, loaded + elapsed)
    vm.set_pit2(bytes(pit))
    vm.set_clock(get(state, "clock", int))


def _has(vm: Vm, cap: int) -> bool:
    return vm.check_extension(cap) > 0


def _size(ctype: type) -> int:
    return ctypes.sizeof(ctype)
