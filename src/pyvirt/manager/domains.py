"""Domain handlers: the list, the wizard's define, life-cycle actions, details, XML, delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from pyvirt.client import virConnect, virDomain
from pyvirt.virterror import VirtError

from .appkeys import SAMPLER, connection, json_body
from .connections import domain_summary
from .domain_xml import describe, read_wizard, wizard_xml, xml_name
from .errors import ApiError
from .storage import volume_format

XML_INACTIVE = 2  # VIR_DOMAIN_XML_INACTIVE: the definition to edit, not the running state
SPARKLINE = 30  # CPU samples the list shows

ACTIONS: dict[str, Callable[[virDomain], int]] = {
    "start": lambda d: d.create(),
    "shutdown": lambda d: d.shutdown(),
    "reboot": lambda d: d.reboot(0),
    "destroy": lambda d: d.destroy(),
    "suspend": lambda d: d.suspend(),
    "resume": lambda d: d.resume(),
}


async def list_domains(request: web.Request) -> web.Response:
    conn = connection(request)
    summaries = await conn.run(lambda v: [domain_summary(d) for d in v.listAllDomains(0)])
    sampler = request.app[SAMPLER]
    for s in summaries:
        s["cpu_history"] = [x["cpu"] for x in sampler.history(conn.id, s["name"])[-SPARKLINE:]]
    return web.json_response(summaries)


async def create_domain(request: web.Request) -> web.Response:
    new = read_wizard(await json_body(request))

    def define(v: virConnect) -> dict[str, Any]:
        fmt = volume_format(v.storageVolLookupByPath(new.disk).XMLDesc(0)) if new.disk else ""
        domain_type = "test" if v.getType() == "Test" else "kvm"
        return domain_summary(v.defineXML(wizard_xml(new, domain_type, fmt)))

    return web.json_response(await connection(request).run(define), status=201)


async def domain_details(request: web.Request) -> web.Response:
    conn, name = connection(request), request.match_info["name"]

    def read(v: virConnect) -> tuple[dict[str, Any], str]:
        dom = v.lookupByName(name)
        summary = domain_summary(dom)
        return summary, dom.XMLDesc(XML_INACTIVE if summary["persistent"] else 0)

    summary, xml = await conn.run(read)
    return web.json_response(
        {
            "domain": summary,
            "xml": xml,
            "description": describe(xml),
            "stats": request.app[SAMPLER].history(conn.id, name),
        }
    )


async def domain_action(request: web.Request) -> web.Response:
    action = ACTIONS.get(request.match_info["action"])
    if action is None:
        raise ApiError(404, f"no action {request.match_info['action']}")
    name = request.match_info["name"]

    def act(v: virConnect) -> dict[str, Any]:
        dom = v.lookupByName(name)
        action(dom)
        return domain_summary(dom)

    return web.json_response(await connection(request).run(act))


async def update_xml(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    xml = (await json_body(request)).get("xml")
    if not isinstance(xml, str) or not xml.strip():
        raise ApiError(400, "the XML is empty", field="xml")
    if xml_name(xml) != name:
        raise ApiError(400, f"the <name> must stay '{name}': renaming is not supported", "xml")
    summary = await connection(request).run(lambda v: domain_summary(v.defineXML(xml)))
    return web.json_response(summary)


UNDEFINE_SNAPSHOTS_METADATA = 2  # virDomainUndefineFlagsValues


async def delete_domain(request: web.Request) -> web.Response:
    """Force off, undefine (with its snapshots' metadata, as virt-manager deletes) and,
    with ?volumes=1, delete the disks that are pool volumes."""
    name = request.match_info["name"]
    with_volumes = request.query.get("volumes") == "1"

    def delete(v: virConnect) -> dict[str, Any]:
        dom = v.lookupByName(name)
        disks = describe(dom.XMLDesc(0))["disks"] if with_volumes else []
        persistent = dom.isPersistent()
        if dom.isActive():
            dom.destroy()
        if persistent:
            dom.undefineFlags(UNDEFINE_SNAPSHOTS_METADATA)
        deleted, kept = [], []
        for disk in disks:
            if disk["device"] != "disk" or not disk["source"]:
                continue
            try:
                v.storageVolLookupByPath(disk["source"]).delete(0)
                deleted.append(disk["source"])
            except VirtError as e:
                kept.append({"path": disk["source"], "reason": e.message})
        return {"deleted_volumes": deleted, "kept_volumes": kept}

    return web.json_response(await connection(request).run(delete))
