"""--json (beyond virsh): the same facts as the text output, for scripts."""

from __future__ import annotations

import json

from tests.virsh.conftest import PYVIRSH, Pair, run


def test_json_outputs(pair: Pair) -> None:
    def as_json(*args: str) -> object:
        result = run([*PYVIRSH, "-c", pair.ours.uri(), *args, "--json"])
        assert result.status == 0, result.stderr
        return json.loads(result.stdout)

    assert as_json("list", "--all") == [
        {"id": 1, "name": "test", "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f",
         "state": "running"}
    ]  # fmt: skip
    info = as_json("dominfo", "test")
    assert isinstance(info, dict)
    assert info["max_memory_kib"] == 8388608 and info["vcpus"] == 2 and info["persistent"]
    assert as_json("domstate", "test") == {"state": "running", "reason": "booted"}
    pools = as_json("pool-list", "--all")
    assert isinstance(pools, list) and pools[0]["name"] == "default-pool"
    assert pools[0]["capacity"] == 100 * 1024**3
    node = as_json("nodeinfo")
    assert isinstance(node, dict) and node["memory_kib"] == 3145728 and node["cpus"] == 16
    run([*PYVIRSH, "-c", pair.ours.uri(), "vol-create-as", "default-pool", "v1", "1M"])
    assert as_json("vol-list", "default-pool") == [
        {"name": "v1", "path": "/default-pool/v1", "type": "file", "capacity": 1048576,
         "allocation": 1048576}
    ]  # fmt: skip
    assert as_json("vol-info", "/default-pool/v1")["capacity"] == 1048576  # type: ignore[index]
    version = as_json("version")
    assert isinstance(version, dict) and version["api"] == "TEST"


def test_json_and_name_lists_do_not_mix(pair: Pair) -> None:
    result = run([*PYVIRSH, "-c", pair.ours.uri(), "list", "--name", "--json"])
    assert result.status == 1
