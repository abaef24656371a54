"""Stand-in domain XML for the test driver: pyvirt.domain refuses type='test' domains.

Reads only what the test driver needs and writes the document back with the
fields it owns (uuid, id, sizes) filled in.
"""

from __future__ import annotations

import uuid as uuidlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from pyvirt.domain.ids import new_uuid, parse_uuid
from pyvirt.domain.units import scaled_bytes
from pyvirt.domain.xmlout import Element
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError


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
    return scaled_bytes(elem.text, elem.get("unit"), default_unit, what, ErrorDomain.DOMAIN)


def _set_child(root: ET.Element, tag: str, text: str, index: int, **attrs: str) -> None:
    elem = root.find(tag)
    if elem is None:
        elem = ET.Element(tag)
        root.insert(index, elem)
    elem.text = text
    elem.attrib.update(attrs)


def to_text(root: ET.Element) -> str:
    """In libvirt's layout (single quotes, two-space indents), as virsh users see it."""

    def convert(elem: ET.Element) -> Element:
        text = elem.text.strip() if elem.text and elem.text.strip() else None
        return Element(elem.tag, dict(elem.attrib), [convert(c) for c in elem], text)

    return convert(root).to_string()


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
    uuid_text = root.findtext("uuid")
    if not vcpu_text.isdigit() or int(vcpu_text) < 1:
        raise xml_error(f"invalid vcpu count '{vcpu_text}'")
    return DomainDef(
        root=root,
        name=name.strip(),
        uuid=(parse_uuid(uuid_text) if uuid_text else new_uuid()).bytes,
        memory_kib=memory // 1024,
        current_memory_kib=min(current, memory) // 1024,
        vcpus=int(vcpu_text),
        os_type=(root.findtext("os/type") or "hvm").strip(),
    )
