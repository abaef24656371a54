"""pyvirt-img info [-f FMT] [--output=human|json] [--backing-chain] FILE"""

from __future__ import annotations

import sys
from typing import Any

from pyvirt.block.driver import BlockDriver

from . import cmdline, qjson, snaptable
from .errors import ImgError
from .images import backing_path, open_img
from .sizes import size_to_str


def run(argv: list[str]) -> int:
    opts, operands = cmdline.parse(
        argv, ":f:hU", {"format:": "f", "output:": None, "backing-chain": None, "force-share": "U"}
    )
    fmt, output, whole_chain, force_share = None, "human", False, False
    for key, value in opts:
        if key == "f":
            fmt = value
        elif key == "--output":
            output = cmdline.output_format(value)
        elif key == "--backing-chain":
            whole_chain = True
        elif key == "U":
            force_share = True
    filename = cmdline.one_file(operands)
    infos = collect(filename, fmt, whole_chain, force_share)
    if output == "json":
        print(qjson.dumps(infos if whole_chain else infos[0]))
    else:
        sys.stdout.write("\n".join(human(i) for i in infos))
    return 0


def collect(
    filename: str, fmt: str | None, whole_chain: bool, force_share: bool
) -> list[dict[str, Any]]:
    """ImageInfo of the image, and with `whole_chain` of each of its backing files."""
    infos: list[dict[str, Any]] = []
    seen: set[str] = set()
    while filename is not None:
        if filename in seen:
            raise ImgError(f"Backing file '{filename}' creates an infinite loop.")
        seen.add(filename)
        image = open_img(filename, fmt, backing=False, no_io=True, force_share=force_share)
        try:
            infos.append(image_info(filename, image))
        finally:
            image.close()
        if not whole_chain:
            break
        filename = infos[-1].get("full-backing-filename")
        fmt = infos[-1].get("backing-filename-format")
    return infos


def image_info(filename: str, image: BlockDriver) -> dict[str, Any]:
    """QAPI ImageInfo, fields in the schema's order (which breaks ties in QEMU's key order)."""
    info: dict[str, Any] = {
        "filename": filename,
        "format": image.format_name,
        "dirty-flag": bool(getattr(image, "dirty", False)),
        "actual-size": image.actual_size,
        "virtual-size": image.length,
    }
    if image.format_name != "qcow2":
        return info
    info["cluster-size"] = image.cluster_size
    if image.backing_file:
        info["backing-filename"] = image.backing_file
        info["full-backing-filename"] = backing_path(filename, image.backing_file)
        if image.backing_format:
            info["backing-filename-format"] = image.backing_format
    snapshots = image.snapshots()
    if snapshots:
        info["snapshots"] = [snaptable.as_json(sn) for sn in snapshots]
    data: dict[str, Any] = {"compat": image.compat}
    if image.version >= 3:
        data["extended-l2"] = image.extended_l2
        data["lazy-refcounts"] = image.lazy_refcounts
        data["corrupt"] = image.corrupt
    data["refcount-bits"] = image.refcount_bits
    data["compression-type"] = image.compression_type
    info["format-specific"] = {"type": "qcow2", "data": data}
    return info


def human(info: dict[str, Any]) -> str:
    lines = [
        f"image: {info['filename']}",
        f"file format: {info['format']}",
        f"virtual size: {size_to_str(info['virtual-size'])} ({info['virtual-size']} bytes)",
        f"disk size: {size_to_str(info['actual-size'])}",
    ]
    if "cluster-size" in info:
        lines.append(f"cluster_size: {info['cluster-size']}")
    if info["dirty-flag"]:
        lines.append("cleanly shut down: no")
    if "backing-filename" in info:
        line = f"backing file: {info['backing-filename']}"
        if info["full-backing-filename"] != info["backing-filename"]:
            line += f" (actual path: {info['full-backing-filename']})"
        lines.append(line)
    if "backing-filename-format" in info:
        lines.append(f"backing file format: {info['backing-filename-format']}")
    text = "".join(line + "\n" for line in lines)
    if "snapshots" in info:
        text += snaptable.table(info["snapshots"])
    if "format-specific" in info:
        text += "Format specific information:\n" + _dump(info["format-specific"]["data"], 1)
    return text


def _dump(data: dict[str, Any], level: int) -> str:
    """QEMU's dump_qdict(): "key: value" lines, '-' in keys shown as spaces."""
    pad = "    " * level
    out = []
    for key, value in qjson.qdict_items(data):
        name = key.replace("-", " ")
        if isinstance(value, dict):
            out.append(f"{pad}{name}:\n{_dump(value, level + 1)}")
        elif isinstance(value, bool):
            out.append(f"{pad}{name}: {'true' if value else 'false'}\n")
        else:
            out.append(f"{pad}{name}: {value}\n")
    return "".join(out)
