"""Directory pools and volumes: XML, life cycle, and images qemu-img finds clean."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pyvirt.drivers.base import PoolInfo
from pyvirt.drivers.vmm import VmmDriver
from pyvirt.storage.xml import parse_pool, parse_volume
from pyvirt.virterror import ErrorCode, VirtError
from tests.domain.test_domain_xml import validate

QEMU_IMG = shutil.which("qemu-img")


def qemu_img(*args: str) -> dict[str, object]:
    if QEMU_IMG is None:
        pytest.skip("qemu-img is not installed")
    out = subprocess.run([QEMU_IMG, *args, "--output=json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_pools_and_volumes(tmp_path: Path) -> None:
    images = tmp_path / "images"

    async def main() -> None:
        d = VmmDriver("qemu:///session", state_dir=tmp_path / "state", emulator="qemu")
        pool_def = (
            f"<pool type='dir'><name>images</name><target><path>{images}</path></target></pool>"
        )
        ref = await d.pool_define_xml(pool_def, 0)
        assert await d.list_pools(2) == [] and await d.list_pools(1) == [ref]
        assert (await d.pool_info(ref)).state == 0
        with pytest.raises(VirtError) as err:
            await d.list_volumes(ref)
        assert err.value.code == ErrorCode.OPERATION_INVALID
        await d.pool_create(ref, 0)
        assert images.is_dir() and await d.list_pools(2) == [ref]
        info = await d.pool_info(ref)
        assert (
            isinstance(info, PoolInfo) and info.state == 2 and 0 < info.available <= info.capacity
        )
        validate(tmp_path, await d.pool_xml_desc(ref, 0), "storagepool")

        base = await d.vol_create_xml(
            ref, "<volume><name>base.raw</name><capacity unit='MiB'>8</capacity></volume>", 0
        )
        assert base.key == str(images / "base.raw")
        overlay = await d.vol_create_xml(
            ref,
            "<volume><name>top.qcow2</name><capacity>0</capacity>"
            "<target><format type='qcow2'/></target>"
            f"<backingStore><path>{base.key}</path><format type='raw'/></backingStore></volume>",
            0,
        )
        big = await d.vol_create_xml(
            ref,
            "<volume><name>big.qcow2</name><capacity unit='G'>2</capacity>"
            "<target><format type='qcow2'/></target></volume>",
            0,
        )
        assert [v.name for v in await d.list_volumes(ref)] == ["base.raw", "big.qcow2", "top.qcow2"]
        assert (await d.vol_info(overlay)).capacity == 8 << 20
        assert (await d.vol_info(big)).capacity == 2 << 30
        assert await d.vol_path(big) == str(images / "big.qcow2")
        assert await d.vol_lookup_by_path(str(images / "top.qcow2")) == overlay
        xml = await d.vol_xml_desc(overlay, 0)
        validate(tmp_path, xml, "storagevol")
        assert f"<backingStore>\n    <path>{base.key}</path>" in xml
        info_json = qemu_img("info", overlay.key)
        assert info_json["format"] == "qcow2" and info_json["backing-filename"] == base.key
        assert qemu_img("info", base.key)["virtual-size"] == 8 << 20
        qemu_img("check", big.key)
        with pytest.raises(VirtError) as err:
            await d.vol_create_xml(
                ref, "<volume><name>big.qcow2</name><capacity>1</capacity></volume>", 0
            )
        assert err.value.code == ErrorCode.STORAGE_VOL_EXIST

        await d.vol_delete(big, 0)
        assert not Path(big.key).exists()
        with pytest.raises(VirtError) as err:
            await d.vol_lookup_by_name(ref, "big.qcow2")
        assert err.value.code == ErrorCode.NO_STORAGE_VOL

        await d.pool_set_autostart(ref, True)
        await d.pool_destroy(ref)
        again = VmmDriver("qemu:///session", state_dir=tmp_path / "state", emulator="qemu")
        assert await again.pool_lookup_by_uuid(ref.uuid) == ref
        await again.start_autostart()
        assert (await again.pool_info(ref)).state == 2
        await again.pool_destroy(ref)
        await again.pool_undefine(ref)
        assert await again.list_pools(0) == []
        assert Path(base.key).exists()  # undefining a pool keeps its files

    asyncio.run(main())


@pytest.mark.parametrize(
    ("xml", "code", "message"),
    [
        ("<pool type='logical'><name>x</name></pool>", ErrorCode.CONFIG_UNSUPPORTED,
         "pool type 'logical' is not supported"),
        ("<pool type='dir'><name>x</name></pool>", ErrorCode.XML_ERROR, "absolute <target><path>"),
        ("<pool type='dir'><name>x</name><target><path>/x</path><permissions><mode>0700</mode>"
         "</permissions></target></pool>", ErrorCode.CONFIG_UNSUPPORTED, "permissions"),
    ],
)  # fmt: skip
def test_pool_xml_refusals(xml: str, code: ErrorCode, message: str) -> None:
    with pytest.raises(VirtError) as err:
        parse_pool(xml)
    assert err.value.code == code and message in err.value.message


@pytest.mark.parametrize(
    ("xml", "code", "message"),
    [
        ("<volume><name>a</name></volume>", ErrorCode.XML_ERROR, "missing capacity"),
        ("<volume><name>a</name><capacity unit='Q'>1</capacity></volume>",
         ErrorCode.XML_ERROR, "unknown suffix 'Q'"),
        ("<volume><name>a</name><capacity>1</capacity><target><format type='vmdk'/></target>"
         "</volume>", ErrorCode.CONFIG_UNSUPPORTED, "format type 'vmdk'"),
        ("<volume><name>../a</name><capacity>1</capacity></volume>",
         ErrorCode.XML_ERROR, "invalid volume name"),
        ("<volume><name>a</name><capacity>1</capacity><backingStore><path>/b</path>"
         "</backingStore></volume>", ErrorCode.CONFIG_UNSUPPORTED, "needs a qcow2 volume"),
    ],
)  # fmt: skip
def test_volume_xml_refusals(xml: str, code: ErrorCode, message: str) -> None:
    with pytest.raises(VirtError) as err:
        parse_volume(xml)
    assert err.value.code == code and message in err.value.message
