"""Python bindings for the KVM API: the only place in pyvirt that knows ioctls."""

from .exits import ExitReason, describe
from .numbers import Cap, MpStateValue
from .system import Kvm, KvmIoctlError, KvmUnavailable, Vcpu, Vm

__all__ = [
    "Cap",
    "ExitReason",
    "Kvm",
    "KvmIoctlError",
    "KvmUnavailable",
    "MpStateValue",
    "Vcpu",
    "Vm",
    "describe",
]
