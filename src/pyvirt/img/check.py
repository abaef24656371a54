"""pyvirt-img check [-f FMT] [-r leaks|all] [--output=human|json] [-q] FILE

Exit status as qemu-img's: 0 clean, 1 check not completed, 2 corruptions,
3 leaks only, 63 the format has no checks.
"""

from __future__ import annotations

import sys
from typing import Any

from . import cmdline, qjson
from .errors import ImgError, usage_error
from .images import open_img

NOT_SUPPORTED = 63
# ImageCheck's fields in the schema's order; all but the first three are left out when zero.
FIELDS = (
    "filename",
    "format",
    "check-errors",
    "image-end-offset",
    "corruptions",
    "leaks",
    "corruptions-fixed",
    "leaks-fixed",
    "total-clusters",
    "allocated-clusters",
    "fragmented-clusters",
    "compressed-clusters",
)


def run(argv: list[str]) -> int:
    opts, operands = cmdline.parse(
        argv,
        ":f:hr:T:Uq",
        {"format:": "f", "repair:": "r", "output:": None, "quiet": "q", "force-share": "U"},
    )
    fmt, repair, output, quiet, force_share = None, None, "human", False, False
    for key, value in opts:
        if key == "f":
            fmt = value
        elif key == "r":
            if value not in ("leaks", "all"):
                raise usage_error(
                    f"Unknown option value for -r (expecting 'leaks' or 'all'): {value}"
                )
            repair = value
        elif key == "--output":
            output = cmdline.output_format(value)
        elif key == "q":
            quiet = True
        elif key == "U":
            force_share = True
    filename = cmdline.one_file(operands)
    image = open_img(filename, fmt, read_only=repair is None, for_check=True,
                     force_share=force_share)  # fmt: skip
    try:
        if not hasattr(image, "check"):
            raise ImgError("This image format does not support checks", NOT_SUPPORTED)
        report = _check(image, filename, repair, announce=output == "human" and not quiet)
    finally:
        image.close()
    if not quiet:
        sys.stdout.write(qjson.dumps(report) + "\n" if output == "json" else human(report))
    if report["check-errors"]:
        raise ImgError("Check failed")
    if report.get("corruptions"):
        return 2
    return 3 if report.get("leaks") else 0


def _check(
    image: Any, filename: str, repair: str | None, *, announce: bool
) -> dict[str, int | str]:
    result = image.check(repair)
    _print_messages(result)
    report = as_report(filename, image.format_name, result)
    fixed = {k: report[k] for k in ("corruptions-fixed", "leaks-fixed") if k in report}
    if fixed:
        if announce:
            print(
                "The following inconsistencies were found and repaired:\n\n"
                f"    {result.leaks_fixed} leaked clusters\n"
                f"    {result.corruptions_fixed} corruptions\n\n"
                "Double checking the fixed image now...",
                flush=True,
            )
        result = image.check(None)
        _print_messages(result)
        report = as_report(filename, image.format_name, result)
        report.update(fixed)
        report = {k: report[k] for k in FIELDS if k in report}
    return report


def _print_messages(result: Any) -> None:
    sys.stdout.flush()
    for message in result.messages:
        print(message, file=sys.stderr)


def as_report(filename: str, fmt: str, result: Any) -> dict[str, int | str]:
    """QAPI ImageCheck of a CheckResult."""
    report: dict[str, int | str] = {"filename": filename, "format": fmt}
    for field in FIELDS[2:]:
        value = getattr(result, field.replace("-", "_"))
        if value or field == "check-errors":
            report[field] = value
    return report


def human(r: dict[str, Any]) -> str:
    out = []
    corruptions, leaks, errors = r.get("corruptions", 0), r.get("leaks", 0), r["check-errors"]
    if not (corruptions or leaks or errors):
        out.append("No errors were found on the image.\n")
    if corruptions:
        out.append(
            f"\n{corruptions} errors were found on the image.\n"
            "Data may be corrupted, or further writes to the image may corrupt it.\n"
        )
    if leaks:
        out.append(
            f"\n{leaks} leaked clusters were found on the image.\n"
            "This means waste of disk space, but no harm to data.\n"
        )
    if errors:
        out.append(f"\n{errors} internal errors have occurred during the check.\n")
    total, allocated = r.get("total-clusters", 0), r.get("allocated-clusters", 0)
    if total and allocated:
        out.append(
            f"{allocated}/{total} = {allocated * 100.0 / total:0.2f}% allocated, "
            f"{r.get('fragmented-clusters', 0) * 100.0 / allocated:0.2f}% fragmented, "
            f"{r.get('compressed-clusters', 0) * 100.0 / allocated:0.2f}% compressed clusters\n"
        )
    if r.get("image-end-offset"):
        out.append(f"Image end offset: {r['image-end-offset']}\n")
    return "".join(out)
