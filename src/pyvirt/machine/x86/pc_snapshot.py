"""A PC's whole state for snapshots, but its RAM: vCPUs, in-kernel irqchip, PIT and clock,
and every device model, plus the signature of the configuration it belongs to.

The machine must be paused with its virtio devices suspended and drained. A restore
goes into a machine freshly built from the same configuration (the signature must
match): devices first, driving their interrupt lines as saved, then the irqchip and
the vCPUs, whose saved state overwrites whatever those lines did to the fresh ones;
only then may new host input raise interrupts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyvirt.hw.state import State, StateError, Stateful, get, load_child
from pyvirt.kvm import Vcpu

from . import kvm_state
from .pc import PcMachine


def signature(machine: PcMachine) -> State:
    """What a snapshot needs of the machine it is restored into, in the user's terms."""
    c = machine.config
    cpu = c.cpu
    return {
        "machine type": "pc",
        "RAM size (-m)": c.ram_size,
        "vCPUs (-smp)": c.cpus,
        "CPU model (-cpu)": cpu.model if cpu else "host",
        "CPU features enabled (-cpu +feat)": sorted(cpu.enable) if cpu else [],
        "CPU features disabled (-cpu -feat)": sorted(cpu.disable) if cpu else [],
        "serial ports (-serial)": [f"{port:#x}" for port, _ in machine.com_ports],
        "debug exit ports (-device isa-debug-exit)": [list(d) for d in c.debug_exits],
        "PCI devices (-device)": {str(slot): dev.name for slot, dev in _pci(machine).items()},
        "virtio-mmio devices (-device)": [t.device.name for _, _, t in machine.virtio_mmio],
    }


def check_signature(machine: PcMachine, saved: object) -> None:
    """Refuse a snapshot of another configuration, naming the first difference."""
    if not isinstance(saved, dict):
        raise StateError("the snapshot does not describe its machine")
    for key, value in signature(machine).items():
        if saved.get(key) != value:
            raise StateError(
                f"the snapshot needs {key} = {_show(key, saved.get(key))}, "
                f"this VM has {_show(key, value)}"
            )


def _show(key: str, value: object) -> str:
    if key.startswith("RAM") and isinstance(value, int):
        return f"{value >> 20} MiB"
    return repr(value)


def _pci(machine: PcMachine) -> dict[int, Any]:
    return dict(machine.pci.devices()) if machine.pci is not None else {}


def _devices(machine: PcMachine) -> dict[str, Stateful]:
    parts: dict[str, Stateful] = {
        "rtc": machine.rtc, "i8042": machine.i8042, "acpi-pm": machine.acpi_pm,
        "fw_cfg": machine.fw_cfg,
    }  # fmt: skip
    for (port, _), uart in zip(machine.com_ports, machine.serials, strict=True):
        parts[f"serial@{port:#x}"] = uart
    for slot, device in _pci(machine).items():
        parts[f"pci slot {slot}"] = device
    for base, _, transport in machine.virtio_mmio:
        parts[f"virtio-mmio@{base:#x}"] = transport
    return parts


def save(machine: PcMachine) -> State:
    msrs = machine.vcpus[0].readable_msrs(machine.kvm.msr_index_list()) if machine.vcpus else []
    return {
        "devices": {name: dev.save_state() for name, dev in _devices(machine).items()},
        "kvm": kvm_state.save_vm(machine.vm),
        "vcpus": [kvm_state.save_vcpu(vcpu, msrs) for vcpu in machine.vcpus],
    }


def load(machine: PcMachine, state: Mapping[str, Any]) -> None:
    devices = get(state, "devices", dict)
    for name, device in _devices(machine).items():
        load_child(name, device, devices)
    try:
        kvm_state.load_vm(machine.vm, get(state, "kvm", dict))
    except StateError as e:
        raise StateError(f"kvm: {e}") from None
    vcpus = get(state, "vcpus", list)
    if len(vcpus) != len(machine.vcpus):
        raise StateError(f"{len(vcpus)} vCPUs saved, the VM has {len(machine.vcpus)}")
    for vcpu, saved in zip(machine.vcpus, vcpus, strict=True):
        _load_vcpu(vcpu, saved)
    for uart in machine.serials:
        uart.take_host_input()


def _load_vcpu(vcpu: Vcpu, saved: object) -> None:
    try:
        if not isinstance(saved, dict):
            raise StateError("not an object")
        kvm_state.load_vcpu(vcpu, saved)
    except StateError as e:
        raise StateError(f"vCPU {vcpu.id}: {e}") from None
