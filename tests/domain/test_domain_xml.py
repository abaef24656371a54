"""Domain XML: round trips of domains as libvirt writes them, defaults, ids, units, refusals."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from pyvirt.domain import LiveState, parse_domain
from pyvirt.domain.ids import MAC_RE
from pyvirt.virterror import ErrorCode, VirtError

XML_DIR = Path(__file__).parent / "xml"
SAMPLES = sorted(XML_DIR.glob("*.xml"))


def domain(body: str = "", devices: str = "", root: str = "type='kvm'") -> str:
    """A small domain with `body` after <memory> and `devices` inside <devices>."""
    return (
        f"<domain {root}><name>t</name><memory unit='MiB'>64</memory>{body}"
        f"<os><type>hvm</type></os><devices>{devices}</devices></domain>"
    )


def validate(tmp_path: Path, xml: str, kind: str = "domain") -> None:
    if shutil.which("virt-xml-validate") is None or shutil.which("xmllint") is None:
        pytest.skip("virt-xml-validate needs libvirt-clients and libxml2-utils")
    path = tmp_path / "out.xml"
    path.write_text(xml)
    proc = subprocess.run(
        ["virt-xml-validate", str(path), kind], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr + xml


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_libvirt_written_domains_round_trip_unchanged(sample: Path, tmp_path: Path) -> None:
    text = sample.read_text()
    dom = parse_domain(text)
    assert dom.to_xml() == text
    assert parse_domain(dom.to_xml()) == dom
    validate(tmp_path, text)


def test_define_fills_libvirts_defaults() -> None:
    dom = parse_domain(domain())
    text = (XML_DIR / "minimal-defined.xml").read_text()
    expected = text.replace("0f8f4b5e-5a1f-4b8c-9d8e-000000000001", str(dom.uuid))
    expected = expected.replace("<name>minimal</name>", "<name>t</name>")
    assert dom.to_xml() == expected


def test_live_xml_has_id_ptys_and_taps(tmp_path: Path) -> None:
    dom = parse_domain((XML_DIR / "installer.xml").read_text())
    live = dom.to_xml(LiveState(id=7, ptys={0: "/dev/pts/3", 1: "/dev/pts/5"}, taps={1: "vnet0"}))
    assert "<domain type='kvm' id='7'>" in live
    assert "<console type='pty' tty='/dev/pts/3'>" in live
    assert "<source path='/dev/pts/5'/>" in live
    assert "<target dev='vnet0'/>" in live
    validate(tmp_path, live)
    assert parse_domain(live) == dom  # runtime data is read back and dropped, as on define


def test_missing_uuid_and_macs_are_generated() -> None:
    xml = domain(devices="<interface type='user'/><interface type='user'/>")
    first, second = parse_domain(xml), parse_domain(xml)
    assert first.uuid != second.uuid and first.uuid.version == 4
    macs = [i.mac for i in first.devices.interfaces + second.devices.interfaces]
    assert len(set(macs)) == 4
    assert all(MAC_RE.match(m) and m.startswith("52:54:00:") for m in macs)


def test_uuid_and_mac_spellings_are_normalized() -> None:
    dom = parse_domain(
        domain(
            "<uuid> C7A5FDBDCDAF9455926AD65C16DB1809 </uuid>",
            "<interface type='user'><mac address='52:54:0:A:b:C'/></interface>",
        )
    )
    assert dom.uuid == uuid.UUID("c7a5fdbd-cdaf-9455-926a-d65c16db1809")
    assert dom.devices.interfaces[0].mac == "52:54:00:0a:0b:0c"


@pytest.mark.parametrize(
    ("value", "unit", "kib"),
    [
        ("1024", None, 1024),
        ("1", "KiB", 1),
        ("1", "k", 1),
        ("3", "M", 3072),
        ("3", "MiB", 3072),
        ("2", "G", 2 * 1024 * 1024),
        ("1", "GiB", 1024 * 1024),
        ("1", "T", 1024**3),
        ("1000", "KB", 977),  # 1,000,000 bytes, rounded up to whole KiB
        ("1", "MB", 977),
        ("4096", "b", 4),
        ("4097", "bytes", 5),
    ],
)
def test_memory_units(value: str, unit: str | None, kib: int) -> None:
    unit_attr = "" if unit is None else f" unit='{unit}'"
    xml = (
        f"<domain type='kvm'><name>t</name><memory{unit_attr}>{value}</memory>"
        f"<currentMemory unit='KiB'>1</currentMemory><os><type>hvm</type></os></domain>"
    )
    dom = parse_domain(xml)
    assert dom.memory_kib == kib
    assert dom.current_memory_kib == 1


XML = ErrorCode.XML_ERROR
UNSUPPORTED = ErrorCode.CONFIG_UNSUPPORTED

REFUSED = [
    ("<domain", XML, "XML error: malformed XML"),
    ("<vm type='kvm'/>", XML, "unexpected root element <vm>"),
    (domain().replace("<name>t</name>", ""), XML, "missing domain name"),
    (domain().replace("<name>t</name>", "<name>a/b</name>"), XML, "cannot contain '/'"),
    (domain("<uuid>1234</uuid>"), XML, "malformed uuid element '1234'"),
    (domain(root="type='xen'"), UNSUPPORTED, "unsupported configuration: domain type 'xen'"),
    (domain(root="type='banana'"), XML, "invalid value 'banana' for attribute 'type'"),
    (domain(root="type='kvm' foo='1'"), UNSUPPORTED, "attribute 'foo' of element '/domain'"),
    (domain().replace("MiB", "XiB"), XML, "unknown suffix 'XiB'"),
    (domain().replace(">64<", ">lots<"), XML, "invalid value 'lots' for <memory>"),
    (domain("<currentMemory unit='GiB'>1</currentMemory>"), UNSUPPORTED, "currentMemory is"),
    (domain("<maxMemory slots='16'>1</maxMemory>"), UNSUPPORTED, "'/domain/maxMemory'"),
    (domain("<vcpu current='1'>2</vcpu>"), UNSUPPORTED, "vcpu current"),
    (domain("<vcpu placement='auto'>2</vcpu>"), UNSUPPORTED, "vcpu placement 'auto'"),
    (domain("<vcpu>0</vcpu>"), XML, "invalid vcpu count '0'"),
    (domain("<vcpu cpuset='1-2'>2</vcpu>"), UNSUPPORTED, "attribute 'cpuset'"),
    (domain("<features><smm/></features>"), UNSUPPORTED, "'/domain/features/smm'"),
    (domain("<cpu mode='custom'/>"), UNSUPPORTED, "cpu mode 'custom' is not supported"),
    (domain("<cpu mode='host-passthrough'><feature policy='forbid' name='x'/></cpu>"),
     UNSUPPORTED, "feature policy 'forbid'"),
    (domain("<cpu mode='host-passthrough'><topology sockets='1'/></cpu>"),
     UNSUPPORTED, "'/domain/cpu/topology'"),
    (domain("<clock offset='variable'/>"), UNSUPPORTED, "clock offset 'variable'"),
    (domain("<clock offset='utc'><timer name='rtc'/></clock>"), UNSUPPORTED, "clock/timer"),
    (domain("<on_crash>preserve</on_crash>"), UNSUPPORTED, "on_crash action 'preserve'"),
    (domain("<on_reboot>explode</on_reboot>"), XML, "invalid on_reboot value 'explode'"),
    (domain("<metadata><x/></metadata>"), UNSUPPORTED, "element '/domain/metadata'"),
    (domain().replace("<type>hvm", "<type machine='q35'>hvm"), UNSUPPORTED, "machine type 'q35'"),
    (domain().replace("<type>hvm", "<type arch='aarch64'>hvm"), UNSUPPORTED, "arch 'aarch64'"),
    (domain().replace("<type>hvm", "<type>xen"), UNSUPPORTED, "OS type 'xen'"),
    (domain().replace("<os><type>hvm</type></os>", ""), XML, "an os <type> must be specified"),
    (domain().replace("</os>", "<loader>/x</loader></os>"), UNSUPPORTED, "'/domain/os/loader'"),
    (domain().replace("</os>", "<boot dev='usb'/></os>"), XML, "invalid value 'usb'"),
    (domain(devices="<video><model type='vga'/></video>"), UNSUPPORTED, "devices/video'"),
    (domain(devices="<disk type='block'><source dev='/dev/sda'/><target dev='vda'/></disk>"),
     UNSUPPORTED, "disk type 'block' is not supported"),
    (domain(devices="<disk device='floppy'><target dev='fda'/></disk>"),
     UNSUPPORTED, "disk device 'floppy'"),
    (domain(devices="<disk><source file='/a'/><target dev='sda'/></disk>"),
     UNSUPPORTED, "disk bus 'scsi' is not supported"),
    (domain(devices="<disk><source file='/a'/><target dev='vda' bus='pci'/></disk>"),
     XML, "unknown disk bus type 'pci'"),
    (domain(devices="<disk><source file='/a'/><target dev='zz'/></disk>"),
     XML, "invalid disk target 'zz'"),
    (domain(devices="<disk><source file='/a'/></disk>"), XML, "missing <target> of a disk"),
    (domain(devices="<disk><target dev='vda'/></disk>"), UNSUPPORTED, "has no source file"),
    (domain(devices="<disk device='cdrom'><target dev='vda'/></disk>"),
     UNSUPPORTED, "does not support ejectable media"),
    (domain(devices="<disk><driver type='vmdk'/><source file='/a'/><target dev='vda'/></disk>"),
     UNSUPPORTED, "driver type 'vmdk' is not supported"),
    (domain(devices="<disk><driver cache='none'/><source file='/a'/><target dev='vda'/></disk>"),
     UNSUPPORTED, "attribute 'cache'"),
    (domain(devices="<disk><source file='/a'/><target dev='vda'/></disk>" * 2),
     XML, "disk target 'vda' is used by more than one device"),
    (domain(devices="<interface type='direct'/>"), UNSUPPORTED, "interface type 'direct'"),
    (domain(devices="<interface type='user'><model type='e1000'/></interface>"),
     UNSUPPORTED, "interface model 'e1000'"),
    (domain(devices="<interface type='user'><mac address='01:00:00:00:00:01'/></interface>"),
     XML, "expected unicast mac address, found multicast"),
    (domain(devices="<interface type='user'><mac address='nope'/></interface>"),
     XML, "unable to parse mac address 'nope'"),
    (domain(devices="<interface type='network'/>"), XML, "missing source network"),
    (domain(devices="<interface type='bridge'><source network='x'/></interface>"),
     XML, "missing source bridge"),
    (domain(devices="<serial type='tcp'/>"), UNSUPPORTED, "serial type 'tcp'"),
    (domain(devices="<serial type='pty'><target port='4'/></serial>"),
     UNSUPPORTED, "serial port 4"),
    (domain(devices="<console type='pty'><target type='virtio'/></console>"),
     UNSUPPORTED, "target type 'virtio'"),
    (domain(devices="<rng model='virtio'><backend model='egd' type='tcp'/></rng>"),
     UNSUPPORTED, "backend model 'egd'"),
    (domain(devices="<rng model='virtio'><backend model='random'>/dev/random</backend></rng>"),
     UNSUPPORTED, "rng backend '/dev/random'"),
    (domain(devices="<memballoon model='xen'/>"), UNSUPPORTED, "memballoon model 'xen'"),
    (domain(devices="<memballoon model='virtio' autodeflate='on'/>"),
     UNSUPPORTED, "attribute 'autodeflate'"),
]  # fmt: skip


@pytest.mark.parametrize(("xml", "code", "message"), REFUSED)
def test_what_cannot_be_honoured_is_refused(xml: str, code: ErrorCode, message: str) -> None:
    with pytest.raises(VirtError) as err:
        parse_domain(xml)
    assert err.value.code == code, err.value.message
    assert message in err.value.message
    prefix = "XML error: " if code == XML else "unsupported configuration: "
    assert err.value.message.startswith(prefix)
