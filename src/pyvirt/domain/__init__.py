"""libvirt domain XML <-> typed objects (DomainDef), and the QEMU command line for a domain."""

from .model import DomainDef, LiveState
from .parse import parse_domain

__all__ = ["DomainDef", "LiveState", "parse_domain"]
