"""The manager's snapshot handlers against a pyvirtd on the test driver: list, create,
revert, delete, CSRF, and the daemon's refusals passed on verbatim."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.daemon.conftest import pyvirtd
from tests.daemon.daemons import Daemon
from tests.manager.test_backend import run, sign_in

__all__ = ["pyvirtd"]

SNAPS = "/api/c/0/domains/test/snapshots"


def test_snapshots_are_listed_created_reverted_and_deleted(pyvirtd: Daemon) -> None:
    async def body(client: TestClient) -> None:
        headers = await sign_in(client)
        assert await (await client.get(SNAPS)).json() == []
        made = await client.post(SNAPS, json={"name": "s1", "description": "a <b>"},
                                 headers=headers)  # fmt: skip
        assert made.status == 201
        s1 = await made.json()
        assert (s1["name"], s1["description"], s1["state"], s1["current"]) == (
            "s1", "a <b>", "running", True,
        )  # fmt: skip
        await client.post("/api/c/0/domains/test/actions/destroy", headers=headers)
        await client.post(SNAPS, json={"name": "s2", "description": ""}, headers=headers)
        listed = await (await client.get(SNAPS)).json()
        assert [(s["name"], s["state"], s["parent"], s["current"]) for s in listed] == [
            ("s1", "running", None, False),
            ("s2", "shutoff", "s1", True),
        ]
        reverted = await client.post(f"{SNAPS}/s1/revert", headers=headers)
        assert (await reverted.json())["current"] is True
        domain = await (await client.get("/api/c/0/domains/test")).json()
        assert domain["domain"]["state"] == "running"
        deleted = await client.delete(f"{SNAPS}/s2", headers=headers)
        assert await deleted.json() == {"deleted": "s2"}
        assert [s["name"] for s in await (await client.get(SNAPS)).json()] == ["s1"]
        # Deleting the VM deletes its snapshots' metadata too (libvirt alone would refuse).
        gone = await client.delete("/api/c/0/domains/test", headers=headers)
        assert gone.status == 200, await gone.text()
        assert (await client.get("/api/c/0/domains/test")).status == 404

    run(pyvirtd, body)


def test_snapshot_changes_need_csrf_and_refusals_are_libvirts(pyvirtd: Daemon) -> None:
    async def body(client: TestClient) -> None:
        headers = await sign_in(client)
        assert (await client.post(SNAPS, json={"name": "x"})).status == 403
        assert (await client.delete(f"{SNAPS}/x")).status == 403
        await client.post(SNAPS, json={"name": "dup"}, headers=headers)
        again = await client.post(SNAPS, json={"name": "dup"}, headers=headers)
        assert again.status == 400
        assert await again.json() == {"error": "operation failed: domain moment dup already exists"}
        missing = await client.post(f"{SNAPS}/nope/revert", headers=headers)
        assert missing.status == 404
        assert await missing.json() == {
            "error": "Domain snapshot not found: no domain snapshot with matching name 'nope'"
        }
        bad = await client.post(SNAPS, json={"name": "a/b"}, headers=headers)
        assert (await bad.json())["field"] == "name"
        gone = await client.get("/api/c/0/domains/nosuch/snapshots")
        assert gone.status == 404
        assert [s["name"] for s in await (await client.get(SNAPS)).json()] == ["dup"]

    run(pyvirtd, body)
