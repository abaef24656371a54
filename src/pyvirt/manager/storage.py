"""Storage handlers: directory pools and their volumes (list, create, delete, start, stop)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from lxml import etree

from pyvirt.client import virConnect, virStoragePool
from pyvirt.domain.xmlout import E

from . import forms
from .appkeys import connection, json_body

POOL_STATES = {0: "inactive", 1: "building", 2: "running", 3: "degraded", 4: "inaccessible"}
POOL_RUNNING = 2
MAX_VOLUME_MIB = 1 << 24  # 16 TiB


def volume_format(vol_xml: str) -> str:
    node = etree.fromstring(vol_xml.encode()).find("target/format")
    return "raw" if node is None else node.get("type", "raw")


def _pool_summary(pool: virStoragePool) -> dict[str, Any]:
    state, capacity, allocation, available = pool.info()
    volumes = []
    if state == POOL_RUNNING:
        for vol in pool.listAllVolumes(0):
            _, vol_capacity, vol_allocation = vol.info()
            volumes.append(
                {
                    "name": vol.name(),
                    "path": vol.path(),
                    "capacity": vol_capacity,
                    "allocation": vol_allocation,
                    "format": volume_format(vol.XMLDesc(0)),
                }
            )
    return {
        "name": pool.name(),
        "state": POOL_STATES.get(state, "unknown"),
        "active": state == POOL_RUNNING,
        "path": etree.fromstring(pool.XMLDesc(0).encode()).findtext("target/path", ""),
        "capacity": capacity,
        "allocation": allocation,
        "available": available,
        "volumes": volumes,
    }


async def list_pools(request: web.Request) -> web.Response:
    pools = await connection(request).run(
        lambda v: [_pool_summary(p) for p in v.listAllStoragePools(0)]
    )
    return web.json_response(pools)


async def create_pool(request: web.Request) -> web.Response:
    body = await json_body(request)
    name = forms.name(body)
    path = forms.absolute_path(body, "path", "Directory", required=True)
    xml = E("pool", E("name", text=name), E("target", E("path", text=path)), type_="dir")

    def define(v: virConnect) -> dict[str, Any]:
        pool = v.storagePoolDefineXML(xml.to_string(), 0)
        pool.create(0)
        pool.setAutostart(1)
        return _pool_summary(pool)

    return web.json_response(await connection(request).run(define), status=201)


async def pool_action(request: web.Request) -> web.Response:
    name, action = request.match_info["pool"], request.match_info["action"]

    def act(v: virConnect) -> dict[str, Any]:
        pool = v.storagePoolLookupByName(name)
        if action == "start":
            pool.create(0)
        else:
            pool.destroy()
        return _pool_summary(pool)

    return web.json_response(await connection(request).run(act))


async def delete_pool(request: web.Request) -> web.Response:
    """Stop (if running) and undefine; the directory and its files stay."""
    name = request.match_info["pool"]

    def delete(v: virConnect) -> None:
        pool = v.storagePoolLookupByName(name)
        if pool.isActive():
            pool.destroy()
        pool.undefine()

    await connection(request).run(delete)
    return web.json_response({})


async def create_volume(request: web.Request) -> web.Response:
    body = await json_body(request)
    name = forms.name(body)
    capacity = forms.integer(body, "capacity_mib", "Capacity (MiB)", 1, MAX_VOLUME_MIB)
    fmt = forms.choice(body, "format", "Format", ("qcow2", "raw"))
    xml = E(
        "volume",
        E("name", text=name),
        E("capacity", text=str(capacity), unit="MiB"),
        E("target", E("format", type_=fmt)),
    ).to_string()
    pool_name = request.match_info["pool"]

    def create(v: virConnect) -> dict[str, str]:
        vol = v.storagePoolLookupByName(pool_name).createXML(xml, 0)
        return {"name": vol.name(), "path": vol.path()}

    return web.json_response(await connection(request).run(create), status=201)


async def delete_volume(request: web.Request) -> web.Response:
    pool_name, vol_name = request.match_info["pool"], request.match_info["vol"]
    await connection(request).run(
        lambda v: v.storagePoolLookupByName(pool_name).storageVolLookupByName(vol_name).delete(0)
    )
    return web.json_response({})
