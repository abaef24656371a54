"""Directory storage pools and their volumes, as the Driver's pool_* and vol_* calls.

Pool definitions live in <state_dir>/storage/NAME.xml; flag files in
storage/autostart/ and storage/active/ remember autostart and which pools were
started, so a restarted daemon keeps them. A volume is a file in the pool's
directory; its key is its path.
"""

from __future__ import annotations

import contextlib
import os
import uuid as uuidlib
from pathlib import Path

from pyvirt.block.driver import BlockError
from pyvirt.block.open import open_image
from pyvirt.block.qcow2 import Qcow2Image, create_qcow2
from pyvirt.block.raw import create_raw
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

from ..drivers.base import PoolInfo, PoolRef, VolInfo, VolRef
from ..drivers.files import remove, set_flag, write_atomically
from .xml import PoolDef, PoolSizes, VolumeDef, parse_pool, parse_volume, pool_xml, volume_xml

POOL_INACTIVE, POOL_RUNNING = 0, 2  # virStoragePoolState
VOL_FILE = 0  # virStorageVolType


class DirPools:
    """Mixed into a driver that sets `_storage_dir` before use."""

    _storage_dir: Path

    def _pools(self) -> dict[str, PoolDef]:
        pools = {}
        for path in sorted(self._storage_dir.glob("*.xml")):
            pool = parse_pool(path.read_text())
            pools[pool.name] = pool
        return pools

    def _flag(self, kind: str, name: str) -> Path:
        return self._storage_dir / kind / name

    def _pool(self, ref: PoolRef) -> PoolDef:
        pool = self._pools().get(ref.name)
        if pool is None or pool.uuid.bytes != ref.uuid:
            raise _no_pool(f"no storage pool with matching uuid '{uuidlib.UUID(bytes=ref.uuid)}'")
        return pool

    def _active_pool(self, ref: PoolRef) -> PoolDef:
        pool = self._pool(ref)
        if not self._flag("active", pool.name).exists():
            raise _invalid(f"storage pool '{pool.name}' is not active")
        return pool

    # --- pools

    async def list_pools(self, flags: int) -> list[PoolRef]:
        active_only, inactive_only = flags & 2, flags & 1  # VIR_CONNECT_LIST_STORAGE_POOLS_*
        refs = []
        for pool in self._pools().values():
            active = self._flag("active", pool.name).exists()
            if (active_only and not active) or (inactive_only and active):
                continue
            refs.append(PoolRef(pool.name, pool.uuid.bytes))
        return refs

    async def pool_lookup_by_name(self, name: str) -> PoolRef:
        pool = self._pools().get(name)
        if pool is None:
            raise _no_pool(f"no storage pool with matching name '{name}'")
        return PoolRef(pool.name, pool.uuid.bytes)

    async def pool_lookup_by_uuid(self, uuid: bytes) -> PoolRef:
        for pool in self._pools().values():
            if pool.uuid.bytes == uuid:
                return PoolRef(pool.name, uuid)
        raise _no_pool(f"no storage pool with matching uuid '{uuidlib.UUID(bytes=uuid)}'")

    async def pool_define_xml(self, xml: str, flags: int) -> PoolRef:
        pool = parse_pool(xml)
        for other in self._pools().values():
            if (other.name == pool.name) != (other.uuid == pool.uuid):
                raise VirtError.of(
                    ErrorCode.OPERATION_FAILED,
                    f"pool '{other.name}' already exists with uuid {other.uuid}",
                    ErrorDomain.STORAGE,
                )
        write_atomically(self._storage_dir / f"{pool.name}.xml", pool_xml(pool, _sizes(None)))
        return PoolRef(pool.name, pool.uuid.bytes)

    async def pool_create(self, ref: PoolRef, flags: int) -> None:
        pool = self._pool(ref)
        if self._flag("active", pool.name).exists():
            raise _invalid(f"storage pool '{pool.name}' is already active")
        Path(pool.path).mkdir(parents=True, exist_ok=True)
        set_flag(self._flag("active", pool.name), True)

    async def pool_destroy(self, ref: PoolRef) -> None:
        set_flag(self._flag("active", self._active_pool(ref).name), False)

    async def pool_undefine(self, ref: PoolRef) -> None:
        pool = self._pool(ref)
        if self._flag("active", pool.name).exists():
            raise _invalid(f"storage pool '{pool.name}' is still active")
        set_flag(self._flag("autostart", pool.name), False)
        remove(self._storage_dir / f"{pool.name}.xml")

    async def pool_info(self, ref: PoolRef) -> PoolInfo:
        pool = self._pool(ref)
        if not self._flag("active", pool.name).exists():
            return PoolInfo(POOL_INACTIVE, 0, 0, 0)
        sizes = _sizes(pool.path)
        return PoolInfo(POOL_RUNNING, sizes.capacity, sizes.allocation, sizes.available)

    async def pool_xml_desc(self, ref: PoolRef, flags: int) -> str:
        pool = self._pool(ref)
        active = self._flag("active", pool.name).exists()
        return pool_xml(pool, _sizes(pool.path if active else None))

    async def pool_get_autostart(self, ref: PoolRef) -> bool:
        return self._flag("autostart", self._pool(ref).name).exists()

    async def pool_set_autostart(self, ref: PoolRef, autostart: bool) -> None:
        set_flag(self._flag("autostart", self._pool(ref).name), autostart)

    async def pool_refresh(self, ref: PoolRef, flags: int) -> None:
        self._active_pool(ref)  # volumes are read from the directory on every call

    async def start_autostart_pools(self) -> None:
        for pool in self._pools().values():
            if self._flag("autostart", pool.name).exists():
                Path(pool.path).mkdir(parents=True, exist_ok=True)
                set_flag(self._flag("active", pool.name), True)

    # --- volumes

    async def list_volumes(self, ref: PoolRef) -> list[VolRef]:
        pool = self._active_pool(ref)
        return [
            VolRef(pool.name, entry.name, entry.path)
            for entry in sorted(os.scandir(pool.path), key=lambda e: e.name)
            if entry.is_file() and not entry.name.startswith(".")
        ]

    async def vol_lookup_by_name(self, ref: PoolRef, name: str) -> VolRef:
        return self._lookup_vol(ref, name)

    def _lookup_vol(self, ref: PoolRef, name: str) -> VolRef:
        pool = self._active_pool(ref)
        path = os.path.join(pool.path, name)
        if "/" in name or not os.path.isfile(path):
            raise _no_vol(f"no storage vol with matching name '{name}'")
        return VolRef(pool.name, name, path)

    async def vol_lookup_by_path(self, path: str) -> VolRef:
        for name, pool in self._pools().items():
            if os.path.dirname(path) == pool.path and self._flag("active", name).exists():
                with contextlib.suppress(VirtError):
                    return self._lookup_vol(PoolRef(name, pool.uuid.bytes), os.path.basename(path))
        raise _no_vol(f"no storage vol with matching path '{path}'")

    async def vol_create_xml(self, ref: PoolRef, xml: str, flags: int) -> VolRef:
        pool = self._active_pool(ref)
        vol = parse_volume(xml)
        path = os.path.join(pool.path, vol.name)
        if os.path.lexists(path):
            raise VirtError(
                ErrorCode.STORAGE_VOL_EXIST,
                f"storage volume already exists: '{vol.name}'",
                ErrorDomain.STORAGE,
            )
        try:
            _create(path, vol)
        except (BlockError, OSError) as err:
            remove(Path(path))
            raise VirtError.of(
                ErrorCode.OPERATION_FAILED,
                f"cannot create volume '{vol.name}': {err}",
                ErrorDomain.STORAGE,
            ) from None
        return VolRef(pool.name, vol.name, path)

    async def vol_delete(self, vol: VolRef, flags: int) -> None:
        os.unlink(self._vol_path(vol))

    async def vol_info(self, vol: VolRef) -> VolInfo:
        path = self._vol_path(vol)
        desc = _describe(path)
        return VolInfo(VOL_FILE, desc[1], os.stat(path).st_blocks * 512)

    async def vol_xml_desc(self, vol: VolRef, flags: int) -> str:
        path = self._vol_path(vol)
        desc, capacity = _describe(path)
        return volume_xml(desc, path, capacity, os.stat(path).st_blocks * 512)

    async def vol_path(self, vol: VolRef) -> str:
        return self._vol_path(vol)

    def _vol_path(self, vol: VolRef) -> str:
        pool = self._pools().get(vol.pool)
        if pool is None:
            raise _no_pool(f"no storage pool with matching name '{vol.pool}'")
        return self._lookup_vol(PoolRef(pool.name, pool.uuid.bytes), vol.name).key


def _create(path: str, vol: VolumeDef) -> None:
    if vol.format == "raw":
        create_raw(path, vol.capacity)
        return
    size = vol.capacity
    if vol.backing_path is not None and size == 0:
        backing = open_image(vol.backing_path, format=vol.backing_format, read_only=True)
        try:
            size = backing.length
        finally:
            backing.close()
    create_qcow2(path, size, backing_file=vol.backing_path, backing_format=vol.backing_format)


def _describe(path: str) -> tuple[VolumeDef, int]:
    """The volume at `path` as its image header tells it, and its virtual size."""
    image = open_image(path, read_only=True, backing=False)
    try:
        vol = VolumeDef(os.path.basename(path), image.length, image.format_name)
        if isinstance(image, Qcow2Image) and image.backing_file is not None:
            vol.backing_path = image.backing_file
            vol.backing_format = image.backing_format or "raw"
        return vol, image.length
    finally:
        image.close()


def _sizes(path: str | None) -> PoolSizes:
    if path is None:
        return PoolSizes(0, 0, 0)
    st = os.statvfs(path)
    capacity = st.f_blocks * st.f_frsize
    available = st.f_bavail * st.f_frsize
    return PoolSizes(capacity, capacity - st.f_bfree * st.f_frsize, available)


def _no_pool(detail: str) -> VirtError:
    return VirtError.of(ErrorCode.NO_STORAGE_POOL, detail, ErrorDomain.STORAGE)


def _no_vol(detail: str) -> VirtError:
    return VirtError.of(ErrorCode.NO_STORAGE_VOL, detail, ErrorDomain.STORAGE)


def _invalid(detail: str) -> VirtError:
    return VirtError.of(ErrorCode.OPERATION_INVALID, detail, ErrorDomain.STORAGE)
