"""pyvirt-img create [-f FMT] [-b BACKING -F FMT] [-o OPTIONS] [-u] [-q] FILE [SIZE]"""

from __future__ import annotations

import contextlib

from pyvirt.block.driver import BlockError
from pyvirt.block.qcow2 import create_qcow2
from pyvirt.block.raw import create_raw

from . import cmdline
from .createopts import CreateOptions, parse_option_string, validate_option_list
from .errors import ImgError, usage_error
from .images import (
    OpenError,
    backing_path,
    block_message,
    check_format,
    close_chain,
    open_img,
    probe_format,
)
from .sizes import parse_size


def run(argv: list[str]) -> int:
    opts, operands = cmdline.parse(argv, ":F:b:f:ho:qu")
    fmt, quiet, unsafe = "raw", False, False
    option_strings: list[str] = []
    backing = backing_fmt = None
    for key, value in opts:
        if key == "F":
            backing_fmt = value
        elif key == "b":
            backing = value
        elif key == "f":
            fmt = value
        elif key == "o":
            validate_option_list(value)
            option_strings.append(value)
        elif key == "q":
            quiet = True
        elif key == "u":
            unsafe = True
    if not operands:
        raise usage_error("Expecting image file name")
    filename = operands[0]
    size = parse_size(operands[1]) if len(operands) > 1 else None
    if len(operands) > 2:
        raise usage_error(f"Unexpected argument: {operands[2]}")
    try:
        create(
            filename,
            fmt,
            size,
            ",".join(option_strings),
            backing=backing,
            backing_fmt=backing_fmt,
            unsafe=unsafe,
            quiet=quiet,
        )
    except ImgError as e:
        raise ImgError(f"{filename}: {e}", hint=e.hint) from None
    return 0


def create(
    filename: str,
    fmt: str,
    size: int | None,
    option_string: str = "",
    *,
    backing: str | None = None,
    backing_fmt: str | None = None,
    unsafe: bool = False,
    quiet: bool = False,
) -> None:
    """bdrv_img_create(): check the options, say what is made, make it.

    Error messages leave out the file name: the caller adds it.
    """
    options = prepare(
        filename, fmt, size, option_string, backing=backing, backing_fmt=backing_fmt, unsafe=unsafe
    )
    if not quiet:
        print(f"Formatting '{filename}', fmt={fmt} {options.describe()}", flush=True)
    make(filename, fmt, options)


def prepare(
    filename: str,
    fmt: str,
    size: int | None,
    option_string: str = "",
    *,
    backing: str | None = None,
    backing_fmt: str | None = None,
    unsafe: bool = False,
) -> CreateOptions:
    """Parse the options and settle the size (from the backing file if need be)."""
    check_format(fmt)
    options = CreateOptions(fmt)
    for key, value in parse_option_string(option_string):
        options.set(key, value)
    if backing is not None:
        if fmt == "raw":
            raise ImgError("Backing file not supported for file format 'raw'")
        options.set("backing_file", backing)
    if backing_fmt is not None:
        options.set("backing_fmt", backing_fmt)
    if size is not None:
        if options.size is not None:
            raise ImgError("The image size must be specified only once")
        options.size = size
    if options.backing_file is not None:
        backing_size = _backing_size(filename, options, unsafe)
        if options.size is None and backing_size is not None:
            options.size = backing_size
    if options.size is None:
        raise ImgError("Image creation needs a size parameter")
    return options


def make(filename: str, fmt: str, options: CreateOptions) -> None:
    """Create the image file; errors are the format's checks of the options, or I/O."""
    try:
        if fmt == "raw":
            create_raw(filename, options.size)
        else:
            create_qcow2(filename, options.size, **options.qcow2_arguments())
    except BlockError as e:
        raise ImgError(block_message(e)) from None


def _backing_size(filename: str, options: CreateOptions, unsafe: bool) -> int | None:
    """The backing file's size, after checking it opens (not with -u); None if unchecked."""
    path = backing_path(filename, options.backing_file)
    if options.backing_fmt is None:
        hint = ""
        with contextlib.suppress(OSError):
            hint = f"Detected format of {probe_format(path)}."  # QEMU ends it with no newline
        raise ImgError("Backing file specified without backing format", hint=hint)
    if unsafe:
        return None
    try:
        image = open_img(path, options.backing_fmt)
    except OpenError as e:
        raise ImgError(e.detail, hint="Could not open backing image.\n") from None
    try:
        return image.length
    finally:
        close_chain(image)
