"""Snapshot handlers: a domain's snapshots, create (name + description), revert, delete.

What the connection's driver refuses comes back as its own message (errors_middleware)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from pyvirt.client import virConnect, virDomainSnapshot

from .appkeys import connection, json_body
from .errors import ApiError


def summary(snap: virDomainSnapshot) -> dict[str, Any]:
    doc = ET.fromstring(snap.getXMLDesc(0))
    return {
        "name": snap.getName(),
        "description": doc.findtext("description") or "",
        "state": doc.findtext("state") or "",
        "created": int(doc.findtext("creationTime") or 0),
        "parent": doc.findtext("parent/name"),
        "current": bool(snap.isCurrent(0)),
    }


async def list_snapshots(request: web.Request) -> web.Response:
    name = request.match_info["name"]

    def read(v: virConnect) -> list[dict[str, Any]]:
        snaps = v.lookupByName(name).listAllSnapshots(0)
        return sorted((summary(s) for s in snaps), key=lambda s: (s["created"], s["name"]))

    return web.json_response(await connection(request).run(read))


def snapshot_xml(body: dict[str, Any]) -> str:
    name, description = body.get("name", ""), body.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ApiError(400, "name and description must be text")
    if "/" in name or name != name.strip():
        raise ApiError(400, "a snapshot name has no '/' and no surrounding spaces", "name")
    parts = [f"<name>{escape(name)}</name>" if name else ""]
    parts.append(f"<description>{escape(description)}</description>" if description else "")
    return f"<domainsnapshot>{''.join(parts)}</domainsnapshot>"


async def create_snapshot(request: web.Request) -> web.Response:
    name, xml = request.match_info["name"], snapshot_xml(await json_body(request))
    result = await connection(request).run(
        lambda v: summary(v.lookupByName(name).snapshotCreateXML(xml, 0))
    )
    return web.json_response(result, status=201)


async def revert_snapshot(request: web.Request) -> web.Response:
    name, snap = request.match_info["name"], request.match_info["snap"]

    def revert(v: virConnect) -> dict[str, Any]:
        dom = v.lookupByName(name)
        target = dom.snapshotLookupByName(snap)
        dom.revertToSnapshot(target, 0)
        return summary(target)

    return web.json_response(await connection(request).run(revert))


async def delete_snapshot(request: web.Request) -> web.Response:
    name, snap = request.match_info["name"], request.match_info["snap"]

    def delete(v: virConnect) -> dict[str, Any]:
        v.lookupByName(name).snapshotLookupByName(snap).delete(0)
        return {"deleted": snap}

    return web.json_response(await connection(request).run(delete))


def routes(domain_path: str) -> list[web.RouteDef]:
    s = domain_path + "/snapshots"
    return [
        web.get(s, list_snapshots),
        web.post(s, create_snapshot),
        web.post(s + "/{snap}/revert", revert_snapshot),
        web.delete(s + "/{snap}", delete_snapshot),
    ]
