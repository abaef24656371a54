"""qcow2 images, versions 2 and 3 (QEMU docs/interop/qcow2.txt)."""

from .check import CheckResult
from .create import create_qcow2
from .image import Qcow2Image
from .snapshot_table import SnapshotInfo

__all__ = ["CheckResult", "Qcow2Image", "SnapshotInfo", "create_qcow2"]
