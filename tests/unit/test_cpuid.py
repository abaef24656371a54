"""-cpu parsing with QEMU's rules, feature masking, and the per-vCPU topology leaves
(Intel SDM vol. 2A, CPUID)."""

from __future__ import annotations

import pytest

from pyvirt.kvm.structs import CpuidEntry2
from pyvirt.machine.x86.cpuid import (
    FEATURES,
    CpuModelError,
    CpuSpec,
    Topology,
    apply_features,
    for_vcpu,
    parse_cpu_option,
    with_topology_leaves,
)

ALL = 0xFFFFFFFF
SIGNIFICANT_INDEX = 1


def on(spec: CpuSpec) -> set[str]:
    return spec.enable


def off(spec: CpuSpec) -> set[str]:
    return spec.disable


# --- parsing ---------------------------------------------------------------------------------


def test_models() -> None:
    assert parse_cpu_option("host") == CpuSpec("host", set(), set())
    assert parse_cpu_option("max").model == "max"


@pytest.mark.parametrize("model", ["qemu64", "Skylake-Client", "", "HOST"])
def test_unknown_model(model: str) -> None:
    with pytest.raises(CpuModelError, match=f"unable to find CPU model '{model}'"):
        parse_cpu_option(f"{model},+avx")


@pytest.mark.parametrize(
    ("text", "enabled", "disabled"),
    [
        ("host,+avx,-xsave", {"avx"}, {"xsave"}),
        ("host,avx=on,xsave=off", {"avx"}, {"xsave"}),
        ("host,avx=true,xsave=no", {"avx"}, {"xsave"}),
        ("host,x2apic", {"x2apic"}, set()),  # a bare name means name=on
        ("host,-xsave,-popcnt,-smap", set(), {"xsave", "popcnt", "smap"}),
    ],
)
def test_feature_switches(text: str, enabled: set[str], disabled: set[str]) -> None:
    spec = parse_cpu_option(text)
    assert (on(spec), off(spec)) == (enabled, disabled)


@pytest.mark.parametrize(
    ("text", "feature", "state"),
    [
        # QEMU applies feat=on|off first (the last one wins), then every +feat, then
        # every -feat, whatever their order on the command line.
        ("host,avx=off,avx=on", "avx", True),
        ("host,-avx,+avx", "avx", False),
        ("host,+avx,-avx", "avx", False),
        ("host,+avx,avx=off", "avx", True),
        ("host,-avx,avx=on", "avx", False),
    ],
)
def test_qemu_precedence(text: str, feature: str, state: bool) -> None:
    spec = parse_cpu_option(text)
    assert (feature in on(spec), feature in off(spec)) == (state, not state)


@pytest.mark.parametrize(
    ("a", "b"),
    [("sse4.1", "sse4_1"), ("sse4.1", "sse4-1"), ("pni", "sse3"), ("lahf-lm", "lahf_lm"),
     ("nx", "xd"), ("lm", "i64")],
)  # fmt: skip
def test_aliases_name_the_same_feature(a: str, b: str) -> None:
    # "+a,-b" must end with the feature off, as for one name.
    spec = parse_cpu_option(f"host,+{a},-{b}")
    assert on(spec) == set()
    assert len(off(spec)) == 1
    entries = [CpuidEntry2(function=f, index=0, eax=ALL, ebx=ALL, ecx=ALL, edx=ALL)
               for f in (1, 0x80000001)]  # fmt: skip
    via_a = apply_features(entries, CpuSpec(disable={a}))
    via_b = apply_features(entries, CpuSpec(disable={b}))
    assert [bytes(e) for e in via_a] == [bytes(e) for e in via_b]


def test_underscores_in_key_value_form() -> None:
    # QEMU turns "_" into "-" in feat=on|off names: tsc_deadline=off is tsc-deadline=off.
    spec = parse_cpu_option("host,tsc_deadline=off,kvm_pv_eoi=on")
    assert [bool(s) for s in (on(spec), off(spec))] == [True, True]


def test_empty_items_are_ignored() -> None:
    assert parse_cpu_option("host,,+avx,") == parse_cpu_option("host,+avx")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("host,+bogus", "unknown CPU feature 'bogus'"),
        ("host,-avx9000", "unknown CPU feature 'avx9000'"),
        ("host,bogus=on", "unknown CPU feature 'bogus'"),
        ("host,avx=maybe", "invalid value 'maybe' for CPU feature 'avx'"),
    ],
)
def test_bad_features(text: str, message: str) -> None:
    with pytest.raises(CpuModelError) as info:
        parse_cpu_option(text)
    assert str(info.value) == message


def test_feature_names_are_qemus() -> None:
    for name in (
        "fpu",
        "sse2",
        "avx2",
        "avx512f",
        "x2apic",
        "tsc-deadline",
        "hypervisor",
        "xsaveopt",
        "syscall",
        "nx",
        "lm",
        "kvmclock",
        "kvm-pv-unhalt",
        "pdpe1gb",
    ):
        assert name in FEATURES  # fmt: skip


# --- masking ---------------------------------------------------------------------------------


def host_leaves() -> list[CpuidEntry2]:
    """A host that supports everything: every register of every leaf all ones."""

    def leaf(function: int, index: int = 0, flags: int = 0) -> CpuidEntry2:
        return CpuidEntry2(function=function, index=index, flags=flags,
                           eax=ALL, ebx=ALL, ecx=ALL, edx=ALL)  # fmt: skip

    return [leaf(0), leaf(1), leaf(7, 0, SIGNIFICANT_INDEX), leaf(0xD, 0, SIGNIFICANT_INDEX),
            leaf(0xD, 1, SIGNIFICANT_INDEX), leaf(0x80000001)]  # fmt: skip


def get(entries: list[CpuidEntry2], function: int, index: int = 0) -> CpuidEntry2:
    (entry,) = [e for e in entries if e.function == function and e.index == index]
    return entry


def cleared(value: int) -> set[int]:
    return {bit for bit in range(32) if not value >> bit & 1}


def test_disabling_xsave_takes_its_dependents_along() -> None:
    out = apply_features(host_leaves(), CpuSpec(disable={"xsave"}))
    leaf1, leaf7 = get(out, 1), get(out, 7)
    assert cleared(leaf1.ecx) == {26, 28, 12, 29}  # xsave, avx, fma, f16c
    assert leaf1.edx == ALL
    # avx2, mpx, and all the avx512 bits
    assert cleared(leaf7.ebx) == {5, 14, 16, 17, 21, 26, 27, 28, 30, 31}
    assert {1, 3, 6, 9, 10, 11, 12, 14} <= cleared(leaf7.ecx)  # vbmi, pku, vaes, ...
    assert 24 in cleared(leaf7.edx)  # amx-tile
    assert not [e for e in out if e.function == 0xD]  # no XSAVE state leaf at all


def test_disabling_avx_keeps_xsave() -> None:
    out = apply_features(host_leaves(), CpuSpec(disable={"avx"}))
    assert cleared(get(out, 1).ecx) == {28, 12, 29}
    assert get(out, 0xD, 1).eax == ALL


def test_disabling_apic() -> None:
    out = apply_features(host_leaves(), CpuSpec(disable={"apic"}))
    assert cleared(get(out, 1).edx) == {9}
    assert cleared(get(out, 1).ecx) == {21, 24}  # x2apic, tsc-deadline


def test_subleaf_features() -> None:
    out = apply_features(host_leaves(), CpuSpec(disable={"xsaveopt", "fsgsbase", "nx"}))
    assert cleared(get(out, 0xD, 1).eax) == {0}
    assert get(out, 0xD, 0).eax == ALL
    assert cleared(get(out, 7).ebx) == {0}
    assert cleared(get(out, 0x80000001).edx) == {20}


def test_enabling_sets_the_bit() -> None:
    entries = [CpuidEntry2(function=1)]
    out = apply_features(entries, CpuSpec(enable={"x2apic", "hypervisor"}))
    assert get(out, 1).ecx == (1 << 21) | (1 << 31)


def test_enabling_a_feature_of_a_missing_leaf_adds_the_leaf() -> None:
    out = apply_features([CpuidEntry2(function=1)], CpuSpec(enable={"kvmclock"}))
    assert get(out, 0x40000001).eax == 1


def test_disabling_a_feature_of_a_missing_leaf_is_a_no_op() -> None:
    out = apply_features([CpuidEntry2(function=1, ecx=ALL)], CpuSpec(disable={"kvmclock"}))
    assert [(e.function, e.ecx) for e in out] == [(1, ALL)]


def test_masking_does_not_modify_its_input() -> None:
    entries = host_leaves()
    before = [bytes(e) for e in entries]
    apply_features(entries, CpuSpec(disable={"xsave"}, enable={"x2apic"}))
    assert [bytes(e) for e in entries] == before


def test_explicit_enable_after_a_dependent_disable() -> None:
    out = apply_features(host_leaves(), CpuSpec(disable={"xsave"}, enable={"avx"}))
    assert 28 not in cleared(get(out, 1).ecx)


# --- topology --------------------------------------------------------------------------------


def topo_leaves() -> list[CpuidEntry2]:
    leaf1 = CpuidEntry2(function=1, ebx=0x00010800 | 0xAB, ecx=ALL, edx=0)  # clflush 8, brand
    cache = CpuidEntry2(function=4, index=0, flags=1, eax=0x121 | (7 << 26) | (3 << 14))
    no_cache = CpuidEntry2(function=4, index=4, flags=1, eax=0)
    ext = CpuidEntry2(function=0x80000008, ecx=0x7007)
    return with_topology_leaves([leaf1, cache, no_cache, ext,
                                 CpuidEntry2(function=0xB, index=0, flags=1, ebx=99)])  # fmt: skip


@pytest.mark.parametrize(("cores", "bits"), [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (64, 6)])
def test_core_bits(cores: int, bits: int) -> None:
    assert Topology(cores).core_bits == bits


@pytest.mark.parametrize("cores", [1, 2, 3, 4, 8])
def test_leaf_1_apic_id_and_logical_count(cores: int) -> None:
    for vcpu in range(cores):
        leaf1 = get(for_vcpu(topo_leaves(), vcpu, Topology(cores)), 1)
        assert leaf1.ebx >> 24 == vcpu  # initial APIC ID
        logical = (leaf1.ebx >> 16) & 0xFF
        assert logical >= cores and logical & (logical - 1) == 0  # addressable IDs: 2^n
        assert leaf1.ebx & 0xFFFF == 0x08AB  # CLFLUSH size and brand index untouched
        assert bool(leaf1.edx & (1 << 28)) == (cores > 1)  # HTT
        assert not leaf1.ecx & (1 << 27)  # OSXSAVE comes from the guest's CR4, not from us


def test_leaf_b_subleaves() -> None:
    cores = 3
    for vcpu in range(cores):
        out = for_vcpu(topo_leaves(), vcpu, Topology(cores))
        smt, core, end = get(out, 0xB, 0), get(out, 0xB, 1), get(out, 0xB, 2)
        for sub in (smt, core, end):
            assert sub.edx == vcpu  # x2APIC ID
            assert sub.flags & SIGNIFICANT_INDEX
        # SMT level: one thread per core, shift 0
        assert (smt.eax & 0x1F, smt.ebx & 0xFFFF, (smt.ecx >> 8) & 0xFF, smt.ecx & 0xFF) == (
            0, 1, 1, 0)  # fmt: skip
        # core level: all cores of the package; the shift leaves the package ID (0)
        shift = core.eax & 0x1F
        assert vcpu >> shift == 0 and (cores - 1) >> shift == 0
        assert (core.ebx & 0xFFFF, (core.ecx >> 8) & 0xFF, core.ecx & 0xFF) == (cores, 2, 1)
        # terminating subleaf: level type 0 (invalid)
        assert ((end.ecx >> 8) & 0xFF, end.ebx & 0xFFFF, end.ecx & 0xFF) == (0, 0, 2)


def test_with_topology_leaves_replaces_the_hosts() -> None:
    leaves = [e for e in topo_leaves() if e.function == 0xB]
    assert sorted(e.index for e in leaves) == [0, 1, 2]


def test_leaf_4_cores_per_package() -> None:
    out = for_vcpu(topo_leaves(), 0, Topology(3))
    cache = get(out, 4, 0)
    assert cache.eax >> 26 == 3  # addressable core IDs - 1
    assert cache.eax & 0x03FFFFFF == 0x121 | (3 << 14)
    assert get(out, 4, 4).eax == 0  # the "no more caches" subleaf stays


def test_leaf_80000008_core_count() -> None:
    out = for_vcpu(topo_leaves(), 1, Topology(4))
    assert get(out, 0x80000008).ecx == 0x7003
