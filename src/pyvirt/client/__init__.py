"""pyvirt's client API: libvirt-python's names over libvirt's wire protocol.

Works against pyvirtd and against a real libvirtd (unix sockets only):

    conn = pyvirt.open("test+unix:///default?socket=/run/user/0/pyvirt/libvirt-sock")
    for dom in conn.listAllDomains():
        print(dom.name(), dom.info())
"""

from __future__ import annotations

from pyvirt import uri as urimod
from pyvirt.client.objects import (
    VIR_CONNECT_RO,
    VIR_DOMAIN_EVENT_ID_LIFECYCLE,
    libvirtError,
    virConnect,
    virDomain,
    virStoragePool,
    virStorageVol,
    virStream,
)
from pyvirt.client.snapshot import virDomainSnapshot
from pyvirt.client.transport import Transport
from pyvirt.rpc.remote import Proc
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

__all__ = [
    "VIR_CONNECT_RO",
    "VIR_DOMAIN_EVENT_ID_LIFECYCLE",
    "libvirtError",
    "open",
    "openReadOnly",
    "virConnect",
    "virDomain",
    "virDomainSnapshot",
    "virStoragePool",
    "virStorageVol",
    "virStream",
]


def _connect(uri: str, readonly: bool) -> virConnect:
    parsed = urimod.parse(uri)
    path = parsed.socket
    if readonly and "socket" not in parsed.params:
        path = path.with_name("libvirt-sock-ro")
    transport = Transport(str(path))
    try:
        auth = transport.call(Proc.AUTH_LIST)["types"]
        if auth and 0 not in auth:
            raise VirtError(
                ErrorCode.AUTH_FAILED,
                "authentication failed: the daemon requires an authentication method "
                "pyvirt does not speak",
                ErrorDomain.REMOTE,
            )
        flags = VIR_CONNECT_RO if readonly else 0
        transport.call(Proc.CONNECT_OPEN, {"name": parsed.name, "flags": flags})
    except BaseException:
        transport.close()
        raise
    return virConnect(transport, uri, readonly)


def open(uri: str) -> virConnect:
    return _connect(uri, readonly=False)


def openReadOnly(uri: str) -> virConnect:
    return _connect(uri, readonly=True)
