"""pyvirt-img snapshot [-q] [-l | -a NAME | -c NAME | -d NAME] FILE"""

from __future__ import annotations

import errno
import sys

from pyvirt.block.driver import BlockError

from . import cmdline, snaptable
from .errors import ImgError, usage_error
from .images import block_message, close_chain, open_img

# option -> (method, error message, why it fails on formats without snapshots, and when
# there is no such snapshot, as qemu-img says)
ACTIONS = {
    "c": (
        "snapshot_create",
        "Could not create snapshot '{}': {}",
        "-95 (Operation not supported)",
        "",
    ),
    "a": (
        "snapshot_apply",
        "Could not apply snapshot '{}': {}",
        "Block driver does not support snapshots",
        "Failed to load snapshot: No such file or directory",
    ),
    "d": (
        "snapshot_delete",
        "Could not delete snapshot '{}': {}",
        "snapshot not found",
        "snapshot not found",
    ),
}


def run(argv: list[str]) -> int:
    opts, operands = cmdline.parse(argv, ":la:c:d:hqU", {"force-share": "U"})
    quiet, action, name, force_share = False, None, "", False
    for key, value in opts:
        if key == "q":
            quiet = True
        elif key == "U":
            force_share = True
        elif key in "lacd":
            if action is not None:
                raise usage_error("Cannot mix '-l', '-a', '-c', '-d'")
            action, name = key, value
    filename = cmdline.one_file(operands)
    image = open_img(filename, read_only=action in (None, "l"), backing=False,
                     force_share=force_share)  # fmt: skip
    try:
        if action in (None, "l"):
            if image.format_name == "qcow2":
                snapshots = [snaptable.as_json(sn) for sn in image.snapshots()]
                if snapshots and not quiet:
                    sys.stdout.write(snaptable.table(snapshots))
            return 0
        method, message, unsupported, not_found = ACTIONS[action]
        if not hasattr(image, method):
            raise ImgError(message.format(name, unsupported))
        try:
            getattr(image, method)(name)
            image.flush()
        except BlockError as e:
            why = not_found if e.errno == errno.ENOENT and not_found else block_message(e)
            raise ImgError(message.format(name, why)) from None
    finally:
        close_chain(image)
    return 0
