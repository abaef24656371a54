"""The real libvirt-python against pyvirtd: the API and lifecycle events."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.daemon.daemons import Daemon

libvirt = pytest.importorskip("libvirt")

DOMAIN_XML = """<domain type='test'><name>py</name><memory unit='MiB'>32</memory>
<vcpu>2</vcpu><os><type>hvm</type></os></domain>"""


@pytest.fixture(scope="module")
def event_loop_thread() -> None:
    """libvirt-python delivers events from its default event loop, run on a thread."""
    libvirt.virEventRegisterDefaultImpl()

    def run() -> None:
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=run, daemon=True).start()


@pytest.fixture
def conn(pyvirtd: Daemon, event_loop_thread: None) -> Iterator[object]:
    c = libvirt.open(pyvirtd.uri())
    yield c
    c.close()


def test_connection_and_host(conn: object) -> None:
    assert conn.getType() == "TEST"
    assert conn.getLibVersion() == 9_000_000
    assert conn.getInfo() == ["i686", 3072, 16, 1400, 2, 2, 2, 2]
    assert "<capabilities>" in conn.getCapabilities()
    assert conn.getHostname()


def test_domains_through_the_api(conn: object) -> None:
    events: list[tuple[str, int, int]] = []
    seen = threading.Event()

    def on_event(_conn: object, dom: object, event: int, detail: int, _opaque: object) -> None:
        events.append((dom.name(), event, detail))
        if event == libvirt.VIR_DOMAIN_EVENT_UNDEFINED:
            seen.set()

    cb = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event, None)
    dom = conn.defineXML(DOMAIN_XML)
    assert dom.name() == "py" and dom.ID() == -1 and not dom.isActive()
    assert sorted(d.name() for d in conn.listAllDomains()) == ["py", "test"]
    active = conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
    assert [d.name() for d in active] == ["test"]
    dom.create()
    assert dom.state() == [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED]
    assert dom.info()[:4] == [libvirt.VIR_DOMAIN_RUNNING, 32768, 32768, 2]
    assert conn.lookupByUUIDString(dom.UUIDString()).name() == "py"
    assert conn.lookupByID(conn.lookupByName("py").ID()).name() == "py"
    dom.suspend()
    assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
    dom.resume()
    dom.setAutostart(1)
    assert dom.autostart() == 1
    assert dom.OSType() == "hvm"
    assert dom.isPersistent() == 1
    assert dom.hasManagedSaveImage() == 0
    assert "<name>py</name>" in dom.XMLDesc()
    dom.destroy()
    dom.undefine()
    assert seen.wait(5)
    conn.domainEventDeregisterAny(cb)
    assert events == [
        ("py", libvirt.VIR_DOMAIN_EVENT_DEFINED, libvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED),
        ("py", libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED),
        ("py", libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
        ("py", libvirt.VIR_DOMAIN_EVENT_RESUMED, libvirt.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
        ("py", libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
        ("py", libvirt.VIR_DOMAIN_EVENT_UNDEFINED, libvirt.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED),
    ]


def test_transient_domain_and_errors(conn: object) -> None:
    dom = conn.createXML(DOMAIN_XML.replace("<name>py</name>", "<name>tr</name>"))
    assert dom.isActive() and not dom.isPersistent()
    dom.destroy()
    with pytest.raises(libvirt.libvirtError) as err:
        conn.lookupByName("tr")
    assert err.value.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
    with pytest.raises(libvirt.libvirtError) as err:
        conn.defineXML("<domain type='test'><name>bad</name></domain>")
    assert err.value.get_error_code() == libvirt.VIR_ERR_XML_ERROR
    assert "missing memory" in err.value.get_error_message()


def test_storage(conn: object) -> None:
    pool = conn.storagePoolLookupByName("default-pool")
    assert pool.info()[0] == libvirt.VIR_STORAGE_POOL_RUNNING
    vol = pool.createXML("<volume><name>v</name><capacity unit='KiB'>4</capacity></volume>")
    assert vol.path() == "/default-pool/v"
    assert vol.info() == [libvirt.VIR_STORAGE_VOL_FILE, 4096, 4096]
    assert pool.listVolumes() == ["v"]
    assert conn.storageVolLookupByPath("/default-pool/v").name() == "v"
    vol.delete()
    assert pool.numOfVolumes() == 0


def test_console_stream(conn: object) -> None:
    stream = conn.newStream()
    conn.lookupByName("test").openConsole(None, stream, 0)
    got = b""
    deadline = time.monotonic() + 5
    while b"console of test" not in got and time.monotonic() < deadline:
        got += stream.recv(1024)
    stream.send(b"ping")
    echoed = b""
    while b"ping" not in echoed and time.monotonic() < deadline:
        echoed += stream.recv(1024)
    assert echoed == b"ping"
    stream.finish()


def test_job_info_without_a_job(conn: object) -> None:
    dom = conn.createXML(DOMAIN_XML, 0)
    try:
        assert dom.jobInfo() == [libvirt.VIR_DOMAIN_JOB_NONE] + [0] * 11
        assert dom.jobStats() == {"type": libvirt.VIR_DOMAIN_JOB_NONE}
    finally:
        dom.destroy()
    with pytest.raises(libvirt.libvirtError, match="domain is not running"):
        conn.defineXML(DOMAIN_XML).jobInfo()
