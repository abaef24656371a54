"""Storage, host and help commands, global options and environment: virsh and pyvirsh agree."""

from __future__ import annotations

import re

from tests.virsh.conftest import Pair


def test_pools_and_volumes(pair: Pair) -> None:
    pair.script(
        [
            ["pool-list"],
            ["pool-list", "--all", "--details"],
            ["pool-list", "--name"],
            ["pool-info", "default-pool"],
            ["pool-define-as", "extra", "dir", "--target", "/extra"],
            ["pool-list", "--all"],
            ["pool-start", "extra"],
            ["pool-autostart", "extra"],
            ["pool-info", "extra"],
            ["pool-autostart", "--disable", "extra"],
            ["vol-create-as", "extra", "v1", "10M"],
            ["vol-create-as", "extra", "v2", "1G", "--format", "qcow2"],
            ["vol-create-as", "extra", "v3", "1500K", "--allocation", "0"],
            ["vol-list", "extra"],
            ["vol-list", "extra", "--details"],
            ["vol-info", "v1", "--pool", "extra"],
            ["vol-info", "/extra/v2"],
            ["vol-path", "v1", "--pool", "extra"],
            ["pool-dumpxml", "extra"],
            ["vol-delete", "v1", "--pool", "extra"],
            ["vol-delete", "/extra/v2"],
            ["pool-destroy", "extra"],
            ["pool-list", "--all", "--details"],
            ["pool-undefine", "extra"],
            ["pool-list", "--all"],
        ],
        uuids=True,
    )


def test_storage_errors(pair: Pair) -> None:
    for args in [
        ["pool-info", "nope"],
        ["pool-start", "default-pool"],
        ["vol-info", "nope", "--pool", "default-pool"],
        ["vol-create-as", "default-pool", "x", "12Q"],
        ["vol-list"],
    ]:
        assert pair.same(*args).status == 1, args


def test_host(pair: Pair) -> None:
    pair.script(
        [["nodeinfo"], ["version"], ["uri"], ["hostname"], ["capabilities"], ["net-list"],
         ["net-list", "--all"]]
    )  # fmt: skip


JSON_OPTION = re.compile(r" \[--json\]|\n    --json .*")


def test_help_is_virshs_plus_json(pair: Pair) -> None:
    """For the commands pyvirsh has every option of (the others lack some: see the README)."""
    for command in ["list", "dominfo", "start", "create", "destroy", "domstate", "setmem",
                    "setvcpus", "edit", "event", "console", "uri", "domid", "domname", "pool-list",
                    "pool-info", "vol-list", "vol-path"]:  # fmt: skip
        ref, ours = pair.both("help", command)
        assert JSON_OPTION.sub("", ours.stdout) == ref.stdout, command
    assert pair.same("help", "nosuch").status == 1


def test_environment_chooses_the_uri(pair: Pair) -> None:
    from tests.virsh.conftest import PYVIRSH, VIRSH, normalise, run

    assert VIRSH is not None
    for variable in ["LIBVIRT_DEFAULT_URI", "VIRSH_DEFAULT_CONNECT_URI"]:
        outputs = []
        for argv, daemon, top in [
            ([VIRSH], pair.ref, pair.ref_top),
            (PYVIRSH, pair.ours, pair.ours_top),
        ]:
            env = {"PATH": "/usr/bin:/bin", variable: daemon.uri()}
            result = run([*argv, "uri"], env)
            outputs.append(normalise(result.stdout, top))
        assert outputs[0] == outputs[1]
        assert outputs[1].startswith("test+unix:///default?socket=<top>")


def test_unreachable_daemon(pair: Pair) -> None:
    from tests.virsh.conftest import PYVIRSH, VIRSH, run

    assert VIRSH is not None
    uri = "test+unix:///default?socket=/nonexistent/sock"
    ref, ours = run([VIRSH, "-c", uri, "list"]), run([*PYVIRSH, "-c", uri, "list"])
    assert ours.status == ref.status == 1
    assert ours.stderr.splitlines()[0] == ref.stderr.splitlines()[0]
    assert "Failed to connect socket to '/nonexistent/sock'" in ours.stderr


def test_quiet_silences_status_messages(pair: Pair) -> None:
    pair.same("-q", "destroy", "test")
    pair.same("-q", "start", "test")
    pair.same("-q", "pool-list")
