"""pyvirt: a hackable Linux virtualization stack written in Python."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyvirt.client import virConnect

__version__ = "0.1.0"


def open(uri: str) -> virConnect:
    """A connection to a daemon (pyvirtd or libvirtd): see pyvirt.client."""
    from pyvirt import client  # imported on use: the VMM never needs it

    return client.open(uri)


def openReadOnly(uri: str) -> virConnect:
    from pyvirt import client

    return client.openReadOnly(uri)
