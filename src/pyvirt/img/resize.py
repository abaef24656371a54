"""pyvirt-img resize [--shrink] [-f FMT] [-q] FILE [+|-]SIZE"""

from __future__ import annotations

from pyvirt.block.driver import BlockError

from . import cmdline
from .createopts import option_size
from .errors import PROGRAM, ImgError, usage_error
from .images import block_message, close_chain, open_img

SHRINK_WARNING = (
    "warning: Shrinking an image will delete all data beyond the shrunken image's end. "
    "Before performing such an operation, make sure there is no important data there."
)


def run(argv: list[str]) -> int:
    if len(argv) < 2:
        raise usage_error("Not enough arguments")
    # The size goes last and may start with '-': take it before option parsing, as qemu-img does.
    size_text = argv[-1]
    opts, operands = cmdline.parse(
        argv[:-1], ":f:hq", {"format:": "f", "shrink": None, "preallocation:": None}
    )
    fmt, quiet, shrink = None, False, False
    for key, value in opts:
        if key == "f":
            fmt = value
        elif key == "q":
            quiet = True
        elif key == "--shrink":
            shrink = True
        elif key == "--preallocation" and value != "off":
            raise ImgError(f"Invalid preallocation mode: '{value}'")
    if len(operands) != 1:
        raise usage_error("Expecting image file name and size")
    filename = operands[0]
    sign = size_text[:1] if size_text[:1] in "+-" else ""
    amount = option_size("size", size_text[len(sign) :])
    image = open_img(filename, fmt, read_only=False)
    try:
        current = image.length
        new = current + amount if sign == "+" else current - amount if sign == "-" else amount
        if new <= 0:
            raise ImgError("New image size must be positive")
        if new < current and not shrink:
            raise ImgError(
                "Use the --shrink option to perform a shrink operation.",
                hint=f"{PROGRAM}: {SHRINK_WARNING}\n",
            )
        try:
            image.resize(new)
            image.flush()
        except BlockError as e:
            raise ImgError(block_message(e)) from None
    finally:
        close_chain(image)
    if not quiet:
        print("Image resized.")
    return 0
