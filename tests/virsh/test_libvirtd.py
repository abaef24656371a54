"""pyvirsh against Debian's libvirtd (its test driver): the same output as the real virsh."""

from __future__ import annotations

from pathlib import Path

from tests.daemon.conftest import libvirtd
from tests.virsh.conftest import PYVIRSH, VIRSH, normalise, run

__all__ = ["libvirtd"]


def test_same_output_as_virsh_on_libvirtd(libvirtd: Path) -> None:
    assert VIRSH is not None
    uri = f"test+unix:///default?socket={libvirtd}"
    script = (
        "list --all; dominfo test; domstate --reason test; dumpxml test; suspend test; "
        "list --state-paused; resume test; setmem test 1048576 --config; "
        "dumpxml --inactive test; pool-list --all --details; pool-info default-pool; "
        "vol-create-as default-pool v1 10M; vol-list default-pool --details; "
        "vol-info v1 --pool default-pool; vol-delete v1 --pool default-pool; nodeinfo; "
        "version; hostname; domname 1; domuuid test; net-list --all; net-list --name; "
        "help net-list; dominfo nope"
    )
    ref = run([VIRSH, "-c", uri, script])
    ours = run([*PYVIRSH, "-c", uri, script])
    assert (ours.status, ours.stderr) == (ref.status, ref.stderr)
    assert normalise(ours.stdout, libvirtd) == normalise(ref.stdout, libvirtd)
