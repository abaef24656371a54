"""Stand-in domain, pool and volume XML for the test driver until pyvirt.domain lands.

Reads only what the test driver needs and writes the document back with the
fields it owns (uuid, id, sizes) filled in.
"""

from __future__ import annotations

import uuid as uuidlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

_UNITS = {
    "b": 1,
    "bytes": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
    "t": 1024**4,
    "tib": 1024**4,
    "tb": 1000**4,
}


def xml_error(message: str, domain: ErrorDomain = ErrorDomain.DOMAIN) -> VirtError:
    return VirtError(ErrorCode.XML_ERROR, f"XML error: {message}", domain)


def parse_xml(text: str, root_tag: str, domain: ErrorDomain) -> ET.Element:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise xml_error(f"cannot parse {root_tag} XML: {e}", domain) from None
    if root.tag != root_tag:
        raise xml_error(f"expected root element <{root_tag}>, not <{root.tag}>", domain)
    return root


def scaled(elem: ET.Element | None, default_unit: str, what: str) -> int | None:
    """A sized element (<memory unit='MiB'>64</memory>) in bytes."""
    if elem is None or elem.text is None:
        return None
    unit = elem.get("unit", default_unit).lower()
    if unit not in _UNITS:
        raise VirtError(
            ErrorCode.INVALID_ARG, f"invalid argument: unknown suffix '{unit}' for {what}"
        )
    try:
        return int(elem.text.strip()) * _UNITS[unit]
    except ValueError:
        raise xml_error(f"invalid value '{elem.text.strip()}' for {what}") from None


def parse_uuid(text: str | None, domain: ErrorDomain) -> bytes:
    if text is None:
        return uuidlib.uuid4().bytes
    try:
        return uuidlib.UUID(text.strip()).bytes
    except ValueError:
        raise xml_error(f"malformed uuid element '{text.strip()}'", domain) from None


def _set_child(root: ET.Element, tag: str, text: str, index: int, **attrs: str) -> None:
    elem = root.find(tag)
    if elem is None:
        elem = ET.Element(tag)
        root.insert(index, elem)
    elem.text = text
    elem.attrib.update(attrs)


def to_text(root: ET.Element) -> str:
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


@dataclass
class DomainDef:
    root: ET.Element
    name: str
    uuid: bytes
    memory_kib: int
    current_memory_kib: int
    vcpus: int
    os_type: str

    def to_xml(self, id: int | None = None) -> str:
        root = ET.fromstring(ET.tostring(self.root))
        root.attrib.pop("id", None)
        if id is not None:
            root.set("id", str(id))
        _set_child(root, "uuid", str(uuidlib.UUID(bytes=self.uuid)), 1)
        _set_child(root, "memory", str(self.memory_kib), 2, unit="KiB")
        _set_child(root, "currentMemory", str(self.current_memory_kib), 3, unit="KiB")
        return to_text(root)


def parse_domain(text: str) -> DomainDef:
    root = parse_xml(text, "domain", ErrorDomain.DOMAIN)
    if not root.get("type"):
        raise VirtError(ErrorCode.INTERNAL_ERROR, "internal error: missing domain type attribute")
    name = root.findtext("name")
    if not name or not name.strip():
        raise xml_error("missing name information")
    memory = scaled(root.find("memory"), "KiB", "memory")
    if memory is None:
        raise xml_error("missing memory element")
    current = scaled(root.find("currentMemory"), "KiB", "currentMemory") or memory
    vcpu_text = (root.findtext("vcpu") or "1").strip()
    if not vcpu_text.isdigit() or int(vcpu_text) < 1:
        raise xml_error(f"invalid vcpu count '{vcpu_text}'")
    return DomainDef(
        root=root,
        name=name.strip(),
        uuid=parse_uuid(root.findtext("uuid"), ErrorDomain.DOMAIN),
        memory_kib=memory // 1024,
        current_memory_kib=min(current, memory) // 1024,
        vcpus=int(vcpu_text),
        os_type=(root.findtext("os/type") or "hvm").strip(),
    )


@dataclass
class PoolDef:
    name: str
    uuid: bytes
    type: str
    path: str


def parse_pool(text: str) -> PoolDef:
    root = parse_xml(text, "pool", ErrorDomain.STORAGE)
    name = (root.findtext("name") or "").strip()
    if not name:
        raise xml_error("missing pool source name element", ErrorDomain.STORAGE)
    path = (root.findtext("target/path") or "").strip()
    if not path:
        raise xml_error("missing storage pool target path", ErrorDomain.STORAGE)
    return PoolDef(
        name=name,
        uuid=parse_uuid(root.findtext("uuid"), ErrorDomain.STORAGE),
        type=root.get("type", "dir"),
        path=path,
    )


def pool_xml(pool: PoolDef, capacity: int, allocation: int) -> str:
    root = ET.Element("pool", type=pool.type)
    ET.SubElement(root, "name").text = pool.name
    ET.SubElement(root, "uuid").text = str(uuidlib.UUID(bytes=pool.uuid))
    for tag, value in (
        ("capacity", capacity),
        ("allocation", allocation),
        ("available", capacity - allocation),
    ):
        ET.SubElement(root, tag, unit="bytes").text = str(value)
    ET.SubElement(root, "source")
    ET.SubElement(ET.SubElement(root, "target"), "path").text = pool.path
    return to_text(root)


@dataclass
class VolDef:
    name: str
    capacity: int
    allocation: int
    format: str = "raw"


def parse_volume(text: str) -> VolDef:
    root = parse_xml(text, "volume", ErrorDomain.STORAGE)
    name = (root.findtext("name") or "").strip()
    if not name or "/" in name:
        raise xml_error(f"invalid volume name '{name}'", ErrorDomain.STORAGE)
    capacity = scaled(root.find("capacity"), "bytes", "capacity")
    if capacity is None:
        raise xml_error("missing capacity element", ErrorDomain.STORAGE)
    allocation = scaled(root.find("allocation"), "bytes", "allocation")
    fmt = root.find("target/format")
    return VolDef(
        name=name,
        capacity=capacity,
        allocation=capacity if allocation is None else allocation,
        format=fmt.get("type", "raw") if fmt is not None else "raw",
    )


def volume_xml(vol: VolDef, path: str) -> str:
    root = ET.Element("volume", type="file")
    ET.SubElement(root, "name").text = vol.name
    ET.SubElement(root, "key").text = path
    ET.SubElement(root, "capacity", unit="bytes").text = str(vol.capacity)
    ET.SubElement(root, "allocation", unit="bytes").text = str(vol.allocation)
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "path").text = path
    ET.SubElement(target, "format", type=vol.format)
    return to_text(root)
