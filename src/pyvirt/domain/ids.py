"""UUIDs and MAC addresses: parsed strictly, generated when the XML leaves them out."""

from __future__ import annotations

import os
import re
import uuid

from pyvirt.virterror import ErrorDomain

from .errors import xml_error

MAC_RE = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")
QEMU_OUI = (0x52, 0x54, 0x00)  # the prefix libvirt gives QEMU/KVM guests


def parse_uuid(text: str, domain: ErrorDomain = ErrorDomain.DOMAIN) -> uuid.UUID:
    """libvirt accepts the 32 hex digits with dashes anywhere and blanks around them."""
    digits = text.strip().replace("-", "")
    if len(digits) != 32 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise xml_error(f"malformed uuid element '{text}'", domain)
    return uuid.UUID(hex=digits)


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()


def parse_mac(text: str) -> str:
    """A unicast MAC address in libvirt's lower-case, zero-padded form."""
    if not MAC_RE.match(text.strip()):
        raise xml_error(f"unable to parse mac address '{text}'")
    octets = [int(part, 16) for part in text.strip().split(":")]
    if octets[0] & 1:
        raise xml_error(f"expected unicast mac address, found multicast '{text}'")
    return format_mac(octets)


def new_mac() -> str:
    return format_mac([*QEMU_OUI, *os.urandom(3)])


def format_mac(octets: list[int] | tuple[int, ...]) -> str:
    return ":".join(f"{b:02x}" for b in octets)
