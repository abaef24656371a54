"""Random operations on our qcow2 and on a bytearray model agree; qemu-img check stays clean."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyvirt.block.open import open_image
from pyvirt.block.qcow2 import Qcow2Image, create_qcow2

from .conftest import qemu_check, qemu_raw, read_all

SECTOR = 512
MAX_SECTORS = 256  # images up to 128 KiB: many clusters with small cluster sizes

offsets = st.integers(0, MAX_SECTORS - 1)
lengths = st.integers(1, 64)
operation = st.one_of(
    st.tuples(st.just("write"), offsets, lengths, st.integers(0, 255)),
    st.tuples(st.just("discard"), offsets, lengths),
    st.tuples(st.just("zero"), offsets, lengths, st.booleans()),
    st.tuples(st.just("resize"), st.integers(1, MAX_SECTORS)),
    st.tuples(
        st.just("snapshot"), st.sampled_from(["create", "apply", "delete"]), st.integers(0, 2)
    ),
    st.tuples(st.just("reopen")),
)


class Model:
    """What the disk must read: contents now, and of each snapshot."""

    def __init__(self, size: int) -> None:
        self.data = bytearray(size)
        self.snapshots: dict[str, bytearray] = {}


def clip(model: Model, sector: int, count: int) -> tuple[int, int]:
    size = len(model.data)
    start = min(sector * SECTOR, size)
    return start, min(count * SECTOR, size - start)


def apply(image: Qcow2Image, model: Model, op: tuple, cluster: int) -> Qcow2Image:  # type: ignore[type-arg]
    kind = op[0]
    if kind == "write":
        start, length = clip(model, op[1], op[2])
        data = bytes([op[3]]) * length
        image.writev(start, [memoryview(data)])
        model.data[start : start + length] = data
    elif kind == "discard":
        start, length = clip(model, op[1], op[2])
        image.discard(start, length)
        end = start + length
        first = -(-start // cluster) * cluster
        last = len(model.data) if end == len(model.data) else end // cluster * cluster
        if last > first:  # no backing file: whole discarded clusters read zeroes
            model.data[first:last] = bytes(last - first)
    elif kind == "zero":
        start, length = clip(model, op[1], op[2])
        image.write_zeroes(start, length, unmap=op[3])
        model.data[start : start + length] = bytes(length)
    elif kind == "resize":
        if model.snapshots and image.version == 2:
            return image  # QEMU cannot resize v2 images with snapshots either
        new = op[1] * SECTOR
        if new < len(model.data):
            image.write_zeroes(new, len(model.data) - new, unmap=True)
        image.resize(new)
        model.data = model.data[:new] + bytes(max(0, new - len(model.data)))
    elif kind == "snapshot":
        name = f"s{op[2]}"
        if op[1] == "create" and name not in model.snapshots:
            image.snapshot_create(name)
            model.snapshots[name] = bytearray(model.data)
        elif op[1] == "apply" and name in model.snapshots:
            image.snapshot_apply(name)
            model.data = bytearray(model.snapshots[name])
        elif op[1] == "delete" and name in model.snapshots:
            image.snapshot_delete(name)
            del model.snapshots[name]
    else:
        path = image.path
        image.close()
        reopened = open_image(path, discard=True)
        assert isinstance(reopened, Qcow2Image)
        image = reopened
    return image


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cluster_bits=st.integers(9, 16),
    compat=st.sampled_from(["0.10", "1.1"]),
    refcount_bits=st.sampled_from([16, 16, 1, 4, 64]),
    ops=st.lists(operation, min_size=1, max_size=25),
)
def test_random_operations(cluster_bits: int, compat: str, refcount_bits: int, ops: list) -> None:  # type: ignore[type-arg]
    if compat == "0.10":
        refcount_bits = 16
    cluster = 1 << cluster_bits
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.qcow2"
        size = MAX_SECTORS // 2 * SECTOR
        create_qcow2(str(path), size, cluster_size=cluster, compat=compat,
                     refcount_bits=refcount_bits)  # fmt: skip
        image = open_image(str(path), discard=True)
        assert isinstance(image, Qcow2Image)
        model = Model(size)
        for op in ops:
            if op[0] == "snapshot" and refcount_bits == 1:
                continue  # one-bit refcounts cannot share clusters
            image = apply(image, model, op, cluster)
            assert image.length == len(model.data)
        assert read_all(image) == model.data
        image.close()
        qemu_check(path)
        assert qemu_raw(path, Path(tmp)) == model.data
