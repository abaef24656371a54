"""The manager's handlers against a pyvirtd on the test driver: auth, CSRF, errors, events,
the wizard's define, XML edits, storage and the console bridge (no browser)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from pyvirt.manager.app import make_app
from pyvirt.manager.appkeys import SAMPLER
from pyvirt.manager.auth import Auth
from pyvirt.manager.listen import ListenRefused, check_listen
from pyvirt.manager.main import main
from pyvirt.manager.saved import SavedConnections
from pyvirt.manager.stats import cpu_percent, rate
from tests.daemon.conftest import pyvirtd
from tests.daemon.daemons import Daemon

__all__ = ["pyvirtd"]

TOKEN = "the-token"
Body = Callable[[TestClient], Awaitable[None]]


def run(daemon: Daemon, body: Body, password: str | None = None, saved: Path | None = None) -> None:
    async def go() -> None:
        app = make_app(Auth(TOKEN, password), [daemon.uri()], SavedConnections(saved))
        async with TestClient(TestServer(app)) as client:
            await body(client)

    asyncio.run(go())


async def sign_in(client: TestClient) -> dict[str, str]:
    """Open the token address; the headers a page's state changes carry."""
    page = await client.get(f"/?token={TOKEN}")
    assert page.status == 200
    assert str(page.url).endswith("/")  # the token left the address bar
    csrf = re.search(r'name="csrf" content="([^"]+)"', await page.text())
    assert csrf is not None
    return {"X-CSRF-Token": csrf.group(1)}


def test_listen_beyond_loopback_needs_a_password_or_tls(capsys: pytest.CaptureFixture[str]) -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.5"):
        check_listen(host, password=False, tls=False)
    for host in ("0.0.0.0", "::", "192.168.1.2", "example.org"):
        with pytest.raises(ListenRefused):
            check_listen(host, password=False, tls=False)
        check_listen(host, password=True, tls=False)
        check_listen(host, password=False, tls=True)
    with pytest.raises(SystemExit) as exit:
        main(["--listen", "0.0.0.0", "--port", "0"])
    assert exit.value.code == 2
    assert "refusing to listen on 0.0.0.0" in capsys.readouterr().err


def test_cpu_percent_is_per_vcpu_and_clamped() -> None:
    assert cpu_percent(1_500_000_000, 500_000_000, 1.0, 2) == 50.0
    assert cpu_percent(0, 5, 1.0, 1) == 0.0  # a restarted domain's counter
    assert cpu_percent(10**10, 0, 1.0, 1) == 100.0


def test_rates_are_per_second_and_unknown_stays_unknown() -> None:
    assert rate(3000, 1000, 2.0) == 1000
    assert rate(0, 5000, 1.0) == 0  # a restarted domain's counters
    assert rate(None, 5, 1.0) is None and rate(5, None, 1.0) is None


def test_samples_carry_disk_and_network_rates(pyvirtd: Daemon) -> None:
    """The test driver's counters grow with the clock: every rate is known and positive;
    the details and the event stream carry them."""

    async def body(client: TestClient) -> None:
        await sign_in(client)
        sampler = client.server.app[SAMPLER]
        events = await client.get("/api/events")
        assert (await events.content.readline()).startswith(b": hello")
        for _ in range(2):
            await sampler.sample_all()
            await asyncio.sleep(0.05)
        details = await (await client.get("/api/c/0/domains/test")).json()
        sample = details["stats"][-1]
        for key in ("disk_rd", "disk_wr", "net_rx", "net_tx"):
            assert sample[key] > 0, sample
        while not (line := await asyncio.wait_for(events.content.readline(), 10)).startswith(
            b"data: "
        ):
            pass
        pushed = json.loads(line[6:])
        assert pushed["type"] == "stats" and pushed["samples"]["test"]["net_tx"] > 0

    run(pyvirtd, body)


def test_connections_are_kept_across_restarts(pyvirtd: Daemon, tmp_path: Path) -> None:
    """Added and removed connections are saved; the next start opens them again; a
    file it cannot read is left as it was."""
    saved = tmp_path / "manager.json"
    other = pyvirtd.uri().replace("test+unix:///default", "test+unix:///default/")

    async def add_one(client: TestClient) -> None:
        headers = await sign_in(client)
        added = await client.post("/api/connections", json={"uri": other}, headers=headers)
        assert added.status == 201, await added.text()

    async def listed(client: TestClient) -> None:
        headers = await sign_in(client)
        conns = await (await client.get("/api/connections")).json()
        assert [c["uri"] for c in conns] == [pyvirtd.uri(), other]
        removed = await client.delete(f"/api/c/{conns[1]['id']}", headers=headers)
        assert removed.status == 200

    run(pyvirtd, add_one, saved=saved)
    assert json.loads(saved.read_text()) == {"connections": [pyvirtd.uri(), other]}
    run(pyvirtd, listed, saved=saved)
    assert json.loads(saved.read_text()) == {"connections": [pyvirtd.uri()]}

    saved.write_text("{not json")
    run(pyvirtd, add_one, saved=saved)
    assert saved.read_text() == "{not json"


def test_access_needs_the_token_or_the_password(pyvirtd: Daemon) -> None:
    async def body(client: TestClient) -> None:
        assert (await client.get("/api/connections")).status == 401
        login = await client.get("/")
        assert "Sign in" in await login.text()
        wrong = await client.get("/?token=nope")
        assert "Sign in" in await wrong.text()
        assert (await client.post("/login", data={"secret": "nope"})).status == 403
        ok = await client.post("/login", data={"secret": "pass"}, allow_redirects=False)
        assert ok.status == 302
        cookie = ok.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        conns = await (await client.get("/api/connections")).json()
        assert [c["state"] for c in conns] == ["connected"]

    run(pyvirtd, body, password="pass")


def test_state_changes_need_the_csrf_token_and_the_same_origin(pyvirtd: Daemon) -> None:
    async def body(client: TestClient) -> None:
        headers = await sign_in(client)
        path = "/api/c/0/domains/test/actions/suspend"
        refused = await client.post(path)
        assert refused.status == 403
        assert "CSRF" in (await refused.json())["error"]
        cross = await client.post(path, headers={**headers, "Origin": "http://evil.example"})
        assert cross.status == 403
        ok = await client.post(path, headers=headers)
        assert (await ok.json())["state"] == "paused"
        ws = await client.get("/api/c/0/domains/test/console", headers={"Upgrade": "websocket"})
        assert ws.status == 403  # a websocket without the token

    run(pyvirtd, body)


def test_errors_are_libvirts_messages_as_json(pyvirtd: Daemon) -> None:
    async def body(client: TestClient) -> None:
        headers = await sign_in(client)
        missing = await client.get("/api/c/0/domains/nosuch")
        assert missing.status == 404
        assert (await missing.json()) == {
            "error": "Domain not found: no domain with matching name 'nosuch'"
        }
        bad = await client.post("/api/c/0/domains", json={"name": "-x"}, headers=headers)
        assert bad.status == 400 and (await bad.json())["field"] == "name"
        nokernel = {"name": "vm1", "memory_mib": 64, "vcpus": 1, "boot": "kernel"}
        bad = await client.post("/api/c/0/domains", json=nokernel, headers=headers)
        assert (await bad.json()) == {"error": "Kernel is required", "field": "kernel"}
        xml = "/api/c/0/domains/test/xml"
        broken = await client.put(xml, json={"xml": "<domain><name>test</name>"}, headers=headers)
        assert broken.status == 400 and "XML error" in (await broken.json())["error"]
        renamed = await client.put(xml, json={"xml": "<domain><name>x</name></domain>"},
                                   headers=headers)  # fmt: skip
        assert "renaming is not supported" in (await renamed.json())["error"]
        refused = await client.put(
            xml, json={"xml": "<domain type='test'><name>test</name></domain>"}, headers=headers
        )
        assert refused.status == 400  # the daemon's own words
        assert "memory" in (await refused.json())["error"]
        assert (await client.get("/api/c/9/domains")).status == 404
        added = await client.post("/api/connections", json={"uri": "nope"}, headers=headers)
        assert (await added.json())["error"] == "invalid argument: unable to parse URI nope"

    run(pyvirtd, body)


def test_wizard_defines_and_events_push_the_changes(pyvirtd: Daemon) -> None:
    async def body(client: TestClient) -> None:
        headers = await sign_in(client)
        events = await client.get("/api/events")
        assert (await events.content.readline()).startswith(b": hello")
        new = {"name": "vm1", "memory_mib": 64, "vcpus": 2, "boot": "kernel", "network": "user",
               "kernel": "/boot/vmlinuz", "cmdline": "console=ttyS0"}  # fmt: skip
        created = await client.post("/api/c/0/domains", json=new, headers=headers)
        assert created.status == 201, await created.text()
        assert (await created.json())["state"] == "shut off"
        await client.post("/api/c/0/domains/vm1/actions/start", headers=headers)
        seen = []
        while not any(m.get("domain", {}).get("state") == "running" for m in seen):
            line = await asyncio.wait_for(events.content.readline(), 10)
            if line.startswith(b"data: "):
                seen.append(json.loads(line[6:]))
        details = await (await client.get("/api/c/0/domains/vm1")).json()
        assert details["description"]["os"]["cmdline"] == "console=ttyS0"
        assert [i["type"] for i in details["description"]["interfaces"]] == ["user"]
        deleted = await client.delete("/api/c/0/domains/vm1?volumes=1", headers=headers)
        assert deleted.status == 200
        names = [d["name"] for d in await (await client.get("/api/c/0/domains")).json()]
        assert names == ["test"]

    run(pyvirtd, body)


def test_volumes_are_created_and_deleted(pyvirtd: Daemon) -> None:
    async def body(client: TestClient) -> None:
        headers = await sign_in(client)
        base = "/api/c/0/pools/default-pool/volumes"
        vol = {"name": "disk1.qcow2", "capacity_mib": 16, "format": "qcow2"}
        created = await client.post(base, json=vol, headers=headers)
        assert created.status == 201, await created.text()
        pools = await (await client.get("/api/c/0/pools")).json()
        assert [(v["name"], v["format"]) for v in pools[0]["volumes"]] == [("disk1.qcow2", "qcow2")]
        too_big = await client.post(base, json={**vol, "capacity_mib": 0}, headers=headers)
        assert (await too_big.json())["field"] == "capacity_mib"
        assert (await client.delete(f"{base}/disk1.qcow2", headers=headers)).status == 200
        gone = await client.delete(f"{base}/disk1.qcow2", headers=headers)
        assert gone.status == 404

    run(pyvirtd, body)


def test_console_websocket_bridges_the_stream(pyvirtd: Daemon, tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        headers = await sign_in(client)
        csrf = headers["X-CSRF-Token"]
        async with client.ws_connect(f"/api/c/0/domains/test/console?csrf={csrf}") as ws:
            await ws.send_str("hello\r")
            seen = b""
            while b"hello" not in seen:
                seen += await asyncio.wait_for(ws.receive_bytes(), 10)
        async with client.ws_connect(f"/api/c/0/domains/nosuch/console?csrf={csrf}") as ws:
            message = await asyncio.wait_for(ws.receive_json(), 10)
            assert message["type"] == "error" and "nosuch" in message["message"]

    run(pyvirtd, body)
