"""pyvirt's client (pyvirt.open) against pyvirtd and against Debian's real libvirtd."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import pyvirt
from pyvirt.client import VIR_DOMAIN_EVENT_ID_LIFECYCLE, libvirtError
from pyvirt.virterror import ErrorCode
from tests.daemon.daemons import Daemon

DOMAIN_XML = """<domain type='test'><name>ours</name><memory unit='MiB'>16</memory>
<vcpu>1</vcpu><os><type>hvm</type></os></domain>"""
STARTED, STOPPED = 2, 5


@pytest.fixture(params=["pyvirtd", "libvirtd"])
def uri(request: pytest.FixtureRequest) -> str:
    if request.param == "pyvirtd":
        daemon: Daemon = request.getfixturevalue("pyvirtd")
        return daemon.uri()
    sock: Path = request.getfixturevalue("libvirtd")
    return f"test+unix:///default?socket={sock}"


def test_domains_and_events(uri: str) -> None:
    conn = pyvirt.open(uri)
    try:
        assert conn.getType() == "TEST"
        assert conn.getURI() == uri
        assert conn.getInfo()[0] == "i686"
        test = conn.lookupByName("test")
        assert test.info()[:4] == [1, 8388608, 2097152, 2]
        assert test.UUIDString() == "6695eb01-f6a4-8304-79aa-97f2502e193f"
        events: list[tuple[str, int, int]] = []
        two = threading.Event()

        def on_event(_c: object, dom: pyvirt.client.virDomain, ev: int, det: int, _o: object):
            events.append((dom.name(), ev, det))
            if len(events) == 3:
                two.set()

        cb = conn.domainEventRegisterAny(None, VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event)
        dom = conn.defineXML(DOMAIN_XML)
        dom.create()
        assert dom.isActive() == 1 and dom.ID() > 0
        assert dom.state()[0] == 1
        dom.destroy()
        assert two.wait(5), events
        assert [e[1] for e in events] == [0, STARTED, STOPPED]
        conn.domainEventDeregisterAny(cb)
        dom.undefine()
        assert "ours" not in [d.name() for d in conn.listAllDomains()]
        with pytest.raises(libvirtError) as err:
            conn.lookupByName("ours")
        assert err.value.get_error_code() == ErrorCode.NO_DOMAIN
    finally:
        conn.close()


def test_storage(uri: str) -> None:
    conn = pyvirt.open(uri)
    try:
        (pool,) = conn.listAllStoragePools()
        assert pool.name() == "default-pool" and pool.isActive() == 1
        vol = pool.createXML("<volume><name>c.img</name><capacity>8192</capacity></volume>")
        assert vol.path() == "/default-pool/c.img"
        assert [v.name() for v in pool.listAllVolumes()] == ["c.img"]
        assert vol.info()[1] == 8192
        vol.delete()
        assert pool.listVolumes() == []
    finally:
        conn.close()


def test_read_only(pyvirtd: Daemon) -> None:
    conn = pyvirt.openReadOnly(pyvirtd.uri(readonly=True))
    with pytest.raises(libvirtError) as err:
        conn.lookupByName("test").destroy()
    assert err.value.get_error_code() == ErrorCode.OPERATION_DENIED
    assert conn.lookupByName("test").isActive() == 1
    conn.close()


def test_console(pyvirtd: Daemon) -> None:
    conn = pyvirt.open(pyvirtd.uri())
    stream = conn.newStream()
    conn.lookupByName("test").openConsole(None, stream)
    assert b"console of test" in stream.recv(1024, timeout=5)
    stream.send(b"x" * 300_000)  # more than one STREAM packet each way
    got = b""
    while len(got) < 300_000:
        got += stream.recv(65536, timeout=5)
    assert got == b"x" * 300_000
    stream.finish()
    conn.close()


def test_connection_refused_names_the_socket(tmp_path: Path) -> None:
    with pytest.raises(libvirtError) as err:
        pyvirt.open(f"test+unix:///default?socket={tmp_path}/none")
    assert "Failed to connect socket" in err.value.get_error_message()


def test_job_info_of_an_idle_domain(pyvirtd: Daemon) -> None:
    """No job runs: VIR_DOMAIN_JOB_NONE (libvirt 9.0's test driver has no job API at all)."""
    conn = pyvirt.open(pyvirtd.uri())
    try:
        test = conn.lookupByName("test")
        assert test.jobInfo() == [0] * 12
        assert test.jobStats() == {"type": 0}
    finally:
        conn.close()
