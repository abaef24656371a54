"""Domain XML both ways: written from the create wizard, read for the details page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from pyvirt.domain.xmlout import E, Element

from . import forms
from .errors import ApiError

MAX_MEMORY_MIB = 1 << 20
MAX_VCPUS = 255


@dataclass(frozen=True)
class NewDomain:
    name: str
    memory_mib: int
    vcpus: int
    kernel: str  # "" boots from the disk
    initrd: str
    cmdline: str
    disk: str  # a volume's path, or ""
    network: str  # "user" or "none"


def read_wizard(body: dict[str, Any]) -> NewDomain:
    boot = forms.choice(body, "boot", "Boot", ("kernel", "disk"))
    kernel = boot == "kernel"
    disk = forms.absolute_path(body, "disk", "Disk volume", required=not kernel)
    return NewDomain(
        name=forms.name(body),
        memory_mib=forms.integer(body, "memory_mib", "Memory (MiB)", 16, MAX_MEMORY_MIB),
        vcpus=forms.integer(body, "vcpus", "vCPUs", 1, MAX_VCPUS),
        kernel=forms.absolute_path(body, "kernel", "Kernel", required=kernel) if kernel else "",
        initrd=forms.absolute_path(body, "initrd", "Initrd", required=False) if kernel else "",
        cmdline=forms.text(body, "cmdline", "Command line", required=False) if kernel else "",
        disk=disk,
        network=forms.choice(body, "network", "Network", ("user", "none")),
    )


def wizard_xml(new: NewDomain, domain_type: str, disk_format: str) -> str:
    os_boot: list[Element | None]
    if new.kernel:
        os_boot = [
            E("kernel", text=new.kernel),
            E("initrd", text=new.initrd) if new.initrd else None,
            E("cmdline", text=new.cmdline) if new.cmdline else None,
        ]
    else:
        os_boot = [E("boot", dev="hd")]
    disk = None
    if new.disk:
        disk = E(
            "disk",
            E("driver", name="qemu", type_=disk_format),
            E("source", file=new.disk),
            E("target", dev="vda", bus="virtio"),
            type_="file",
            device="disk",
        )
    interface = None
    if new.network == "user":
        interface = E("interface", E("model", type_="virtio"), type_="user")
    return E(
        "domain",
        E("name", text=new.name),
        E("memory", text=str(new.memory_mib), unit="MiB"),
        E("vcpu", text=str(new.vcpus)),
        E("os", E("type", text="hvm"), *os_boot),
        E("features", E("acpi"), E("apic")),
        E("cpu", mode="host-passthrough"),
        E("devices", disk, interface, E("console", type_="pty")),
        type_=domain_type,
    ).to_string()


def _parse(xml: str) -> etree._Element:
    try:
        return etree.fromstring(xml.encode())
    except etree.XMLSyntaxError as e:
        raise ApiError(400, f"XML error: {e}") from None


def xml_name(xml: str) -> str:
    return _parse(xml).findtext("name", "")


def _attr(node: etree._Element, path: str, attr: str) -> str:
    child = node.find(path)
    return "" if child is None else child.get(attr, "")


def describe(xml: str) -> dict[str, Any]:
    """The details page's overview, disks and interfaces."""
    root = _parse(xml)
    disks = [
        {
            "target": _attr(d, "target", "dev"),
            "bus": _attr(d, "target", "bus"),
            "device": d.get("device", "disk"),
            "source": _attr(d, "source", "file"),
            "format": _attr(d, "driver", "type"),
        }
        for d in root.iterfind("devices/disk")
    ]
    interfaces = [
        {
            "type": i.get("type", ""),
            "mac": _attr(i, "mac", "address"),
            "model": _attr(i, "model", "type"),
            "source": _attr(i, "source", "network") or _attr(i, "source", "bridge"),
        }
        for i in root.iterfind("devices/interface")
    ]
    return {
        "type": root.get("type", ""),
        "os": {
            "kernel": root.findtext("os/kernel", ""),
            "initrd": root.findtext("os/initrd", ""),
            "cmdline": root.findtext("os/cmdline", ""),
        },
        "disks": disks,
        "interfaces": interfaces,
    }
