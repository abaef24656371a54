"""The guest's CPUID: the host's supported leaves, feature flags from -cpu, per-vCPU topology.

Feature names are QEMU's, so `-cpu host,-xsave,+x2apic` means the same thing here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyvirt.kvm.structs import CpuidEntry2

EAX, EBX, ECX, EDX = "eax", "ebx", "ecx", "edx"

# name -> (leaf, subleaf, register, bit)
_FEATURE_BITS: dict[str, tuple[int, int, str, int]] = {}
# every name and alias -> the feature's first name, so that aliases are one feature
_CANONICAL: dict[str, str] = {}


def _define(leaf: int, subleaf: int, reg: str, names: dict[int, str]) -> None:
    for bit, name in names.items():
        aliases = name.split("|")
        for alias in aliases:
            _FEATURE_BITS[alias] = (leaf, subleaf, reg, bit)
            _CANONICAL[alias] = aliases[0]


_define(1, 0, EDX, {
    0: "fpu", 1: "vme", 2: "de", 3: "pse", 4: "tsc", 5: "msr", 6: "pae", 7: "mce", 8: "cx8",
    9: "apic", 11: "sep", 12: "mtrr", 13: "pge", 14: "mca", 15: "cmov", 16: "pat",
    17: "pse36", 18: "pn", 19: "clflush", 21: "ds", 22: "acpi", 23: "mmx", 24: "fxsr",
    25: "sse", 26: "sse2", 27: "ss", 28: "ht", 29: "tm", 31: "pbe",
})  # fmt: skip
_define(1, 0, ECX, {
    0: "pni|sse3", 1: "pclmulqdq|pclmuldq", 2: "dtes64", 3: "monitor", 4: "ds-cpl|ds_cpl",
    5: "vmx", 6: "smx", 7: "est", 8: "tm2", 9: "ssse3", 10: "cid", 12: "fma",
    13: "cx16", 14: "xtpr", 15: "pdcm", 17: "pcid", 18: "dca", 19: "sse4.1|sse4-1|sse4_1",
    20: "sse4.2|sse4-2|sse4_2", 21: "x2apic", 22: "movbe", 23: "popcnt",
    24: "tsc-deadline", 25: "aes", 26: "xsave", 28: "avx", 29: "f16c", 30: "rdrand",
    31: "hypervisor",
})  # fmt: skip
_define(7, 0, EBX, {
    0: "fsgsbase", 1: "tsc-adjust|tsc_adjust", 2: "sgx", 3: "bmi1", 4: "hle", 5: "avx2",
    7: "smep", 8: "bmi2", 9: "erms", 10: "invpcid", 11: "rtm", 14: "mpx", 16: "avx512f",
    17: "avx512dq", 18: "rdseed", 19: "adx", 20: "smap", 21: "avx512ifma",
    23: "clflushopt", 24: "clwb", 26: "avx512pf", 27: "avx512er", 28: "avx512cd",
    29: "sha-ni", 30: "avx512bw", 31: "avx512vl",
})  # fmt: skip
_define(7, 0, ECX, {
    1: "avx512vbmi", 2: "umip", 3: "pku", 5: "waitpkg", 6: "avx512vbmi2", 8: "gfni",
    9: "vaes", 10: "vpclmulqdq", 11: "avx512vnni", 12: "avx512bitalg",
    14: "avx512-vpopcntdq", 16: "la57", 22: "rdpid", 25: "cldemote", 27: "movdiri",
    28: "movdir64b",
})  # fmt: skip
_define(7, 0, EDX, {
    2: "avx512-4vnniw", 3: "avx512-4fmaps", 4: "fsrm", 10: "md-clear", 14: "serialize",
    16: "tsx-ldtrk", 18: "pconfig", 19: "arch-lbr", 22: "amx-bf16", 23: "avx512-fp16",
    24: "amx-tile", 25: "amx-int8", 26: "spec-ctrl", 27: "stibp",
    29: "arch-capabilities", 30: "core-capability", 31: "ssbd",
})  # fmt: skip
_define(0xD, 1, EAX, {0: "xsaveopt", 1: "xsavec", 2: "xgetbv1", 3: "xsaves"})
_define(0x80000001, 0, ECX, {
    0: "lahf-lm|lahf_lm", 1: "cmp-legacy|cmp_legacy", 2: "svm", 3: "extapic",
    4: "cr8legacy", 5: "abm", 6: "sse4a", 7: "misalignsse", 8: "3dnowprefetch",
    9: "osvw", 10: "ibs", 11: "xop", 12: "skinit", 13: "wdt", 15: "lwp", 16: "fma4",
    17: "tce", 19: "nodeid-msr", 21: "tbm", 22: "topoext", 23: "perfctr-core",
    24: "perfctr-nb",
})  # fmt: skip
_define(0x80000001, 0, EDX, {
    11: "syscall", 20: "nx|xd", 22: "mmxext", 25: "fxsr-opt|ffxsr", 26: "pdpe1gb",
    27: "rdtscp", 29: "lm|i64", 30: "3dnowext", 31: "3dnow",
})  # fmt: skip
_define(0x40000001, 0, EAX, {
    0: "kvmclock", 1: "kvm-nopiodelay", 2: "kvm-mmu", 4: "kvm-asyncpf", 5: "kvm-steal-time",
    6: "kvm-pv-eoi", 7: "kvm-pv-unhalt", 9: "kvm-pv-tlb-flush", 10: "kvm-asyncpf-vmexit",
    11: "kvm-pv-ipi", 12: "kvm-poll-control", 13: "kvm-pv-sched-yield",
    14: "kvm-asyncpf-int", 15: "kvm-msi-ext-dest-id", 24: "kvmclock-stable-bit",
})  # fmt: skip

FEATURES: frozenset[str] = frozenset(_FEATURE_BITS)

# Turning a feature off turns these off too (they cannot work without it).
_DEPENDENTS: dict[str, tuple[str, ...]] = {
    "xsave": ("avx", "fma", "f16c", "xsaveopt", "xsavec", "xgetbv1", "xsaves", "avx2",
              "avx512f", "pku", "amx-tile", "mpx"),
    "avx": ("avx2", "fma", "f16c", "vaes", "vpclmulqdq", "avx512f"),
    "avx512f": ("avx512dq", "avx512ifma", "avx512pf", "avx512er", "avx512cd", "avx512bw",
                "avx512vl", "avx512vbmi", "avx512vbmi2", "avx512vnni", "avx512bitalg",
                "avx512-vpopcntdq", "avx512-4vnniw", "avx512-4fmaps", "avx512-fp16"),
    "sse2": ("sse3",),
    "apic": ("x2apic", "tsc-deadline"),
}  # fmt: skip

# by canonical names, as parse_cpu_option produces them ("sse3" is "pni")
_DEPENDENTS = {
    _CANONICAL[name]: tuple(_CANONICAL[d] for d in deps) for name, deps in _DEPENDENTS.items()
}

CPU_MODELS = ("host", "max")

_HTT_BIT = 28
_OSXSAVE_BIT = 27


class CpuModelError(ValueError):
    """A -cpu argument names a model or feature we do not know."""


@dataclass
class CpuSpec:
    """What -cpu asked for: the model and explicit feature switches."""

    model: str = "host"
    enable: set[str] = field(default_factory=set)
    disable: set[str] = field(default_factory=set)


def _feature(name: str) -> str:
    """The canonical name of a feature; QEMU also accepts "_" for "-" (tsc_deadline)."""
    canonical = _CANONICAL.get(name) or _CANONICAL.get(name.replace("_", "-"))
    if canonical is None:
        raise CpuModelError(f"unknown CPU feature '{name}'")
    return canonical


def parse_cpu_option(text: str) -> CpuSpec:
    """Parse QEMU's `-cpu MODEL[,+feat][,-feat][,feat=on|off]`.

    As in QEMU, feat=on|off items apply first (the last one wins), then every +feat,
    then every -feat, whatever their order: "-avx,+avx" leaves AVX off.
    """
    model, *items = text.split(",")
    if model not in CPU_MODELS:
        raise CpuModelError(f"unable to find CPU model '{model}' (supported: host, max)")
    switches: dict[str, bool] = {}
    plus: list[str] = []
    minus: list[str] = []
    for item in items:
        if not item:
            continue
        if item.startswith(("+", "-")):
            (plus if item[0] == "+" else minus).append(_feature(item[1:]))
            continue
        name, has_value, value = item.partition("=")
        if not has_value:
            value = "on"
        if value not in ("on", "off", "true", "false", "yes", "no"):
            raise CpuModelError(f"invalid value '{value}' for CPU feature '{name}'")
        switches[_feature(name)] = value in ("on", "true", "yes")
    switches.update(dict.fromkeys(plus, True))
    switches.update(dict.fromkeys(minus, False))
    spec = CpuSpec(model)
    spec.enable = {name for name, on in switches.items() if on}
    spec.disable = {name for name, on in switches.items() if not on}
    return spec


def _closure(names: set[str]) -> set[str]:
    out, todo = set(), [_CANONICAL.get(n, n) for n in names]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(_DEPENDENTS.get(name, ()))
    return out


def _find(entries: list[CpuidEntry2], leaf: int, subleaf: int) -> CpuidEntry2 | None:
    for entry in entries:
        if entry.function == leaf and entry.index == subleaf:
            return entry
    for entry in entries:  # leaves without KVM_CPUID_FLAG_SIGNIFCANT_INDEX
        if entry.function == leaf and not entry.flags & 1:
            return entry
    return None


def apply_features(entries: list[CpuidEntry2], spec: CpuSpec) -> list[CpuidEntry2]:
    """Copy of the supported leaves with the requested features masked or added."""
    out = [CpuidEntry2.from_buffer_copy(e) for e in entries]
    disabled = _closure(spec.disable)
    for name, on in [(n, False) for n in disabled] + [(n, True) for n in spec.enable]:
        leaf, subleaf, reg, bit = _FEATURE_BITS[name]
        entry = _find(out, leaf, subleaf)
        if entry is None:
            if not on:
                continue
            entry = CpuidEntry2(function=leaf, index=subleaf, flags=1 if subleaf else 0)
            out.append(entry)
        value = getattr(entry, reg)
        setattr(entry, reg, value | (1 << bit) if on else value & ~(1 << bit))
    if "xsave" in disabled:
        out = [e for e in out if e.function != 0xD]
    return out


@dataclass(frozen=True)
class Topology:
    """One socket of `cores` single-threaded cores; the APIC ID is the vCPU index."""

    cores: int

    @property
    def core_bits(self) -> int:
        return max(0, (self.cores - 1).bit_length())


def for_vcpu(entries: list[CpuidEntry2], vcpu: int, topo: Topology) -> list[CpuidEntry2]:
    """The CPUID table of one vCPU: its APIC ID and the package topology filled in."""
    out = [CpuidEntry2.from_buffer_copy(e) for e in entries]
    for entry in out:
        leaf = entry.function
        if leaf == 1:
            logical = 1 << topo.core_bits
            entry.ebx = (entry.ebx & 0x0000FFFF) | (logical << 16) | (vcpu << 24)
            if topo.cores > 1:
                entry.edx |= 1 << _HTT_BIT
            else:
                entry.edx &= ~(1 << _HTT_BIT)
            entry.ecx &= ~(1 << _OSXSAVE_BIT)  # KVM sets it from the guest's CR4
        elif leaf == 4 and entry.eax & 0x1F:
            entry.eax = (entry.eax & 0x03FFFFFF) | (((1 << topo.core_bits) - 1) << 26)
        elif leaf in (0xB, 0x1F):
            _extended_topology(entry, vcpu, topo)
        elif leaf == 0x80000008:
            entry.ecx = (entry.ecx & ~0xFF) | (topo.cores - 1)
    return out


def _extended_topology(entry: CpuidEntry2, vcpu: int, topo: Topology) -> None:
    level = entry.index
    entry.edx = vcpu
    if level == 0:  # SMT level: one thread per core
        entry.eax, entry.ebx, entry.ecx = 0, 1, (1 << 8) | level
    elif level == 1:  # core level
        entry.eax, entry.ebx, entry.ecx = topo.core_bits, topo.cores, (2 << 8) | level
    else:
        entry.eax, entry.ebx, entry.ecx = 0, 0, level


def with_topology_leaves(entries: list[CpuidEntry2]) -> list[CpuidEntry2]:
    """Make sure leaf 0xB has its SMT, core and terminating subleaves."""
    out = [e for e in entries if e.function != 0xB]
    out.extend(CpuidEntry2(function=0xB, index=i, flags=1) for i in range(3))
    return out
