"""Creation options (`-o key=value,...`) for raw and qcow2, checked and printed as QEMU does."""

from __future__ import annotations

from .errors import ImgError
from .sizes import strtosz

SIZE_HINT = (
    "\nOptional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
    "and exabytes, respectively."
)
TRUE_WORDS = ("on", "yes", "true", "y")
FALSE_WORDS = ("off", "no", "false", "n")
COMPAT = {"0.10": "0.10", "v2": "0.10", "1.1": "1.1", "v3": "1.1"}

# Per format: option name -> its default as printed; the order is the "Formatting ..." line's.
KNOWN = {
    "raw": {"size": None},
    "qcow2": {
        "cluster_size": "65536",
        "extended_l2": "off",
        "compression_type": "zlib",
        "size": None,
        "compat": None,
        "backing_file": None,
        "backing_fmt": None,
        "lazy_refcounts": "off",
        "refcount_bits": "16",
    },
}
SIZE_OPTIONS = ("size", "cluster_size")


def option_size(key: str, text: str) -> int:
    """A size-typed option's value, as QEMU's option parser reads it."""
    value = strtosz(text)
    if value is None or value >= 1 << 64:
        raise ImgError(f"Parameter '{key}' expects a non-negative number below 2^64{SIZE_HINT}")
    return value


def parse_option_string(text: str) -> list[tuple[str, str]]:
    """QEMU's option list syntax: comma-separated key=value, ",," for a literal comma."""
    if not text:
        return []
    items: list[tuple[str, str]] = []
    for part in text.replace(",,", "\0").split(","):
        if not part:
            raise ImgError(f"Invalid option list: {text}")
        key, eq, value = part.replace("\0", ",").partition("=")
        items.append((key, value if eq else "on"))
    return items


def validate_option_list(text: str) -> None:
    """What qemu-img checks of each -o as it is read (before anything else)."""
    if text != "help" and (
        text.startswith(",") or (text.endswith(",") and not text.endswith(",,"))
    ):
        raise ImgError(f"Invalid option list: {text}")


class CreateOptions:
    """The options of one image creation: typed values, and the raw text for printing."""

    def __init__(self, fmt: str) -> None:
        self.known = KNOWN[fmt]
        self.text: dict[str, str] = {}
        self.size: int | None = None
        self.cluster_size = 65536
        self.refcount_bits = 16
        self.lazy_refcounts = False

    @property
    def backing_file(self) -> str | None:
        return self.text.get("backing_file")

    @property
    def backing_fmt(self) -> str | None:
        return self.text.get("backing_fmt")

    def set(self, key: str, value: str) -> None:
        if key not in self.known:
            raise ImgError(f"Invalid parameter '{key}'")
        if key in SIZE_OPTIONS:
            number = option_size(key, value)
            setattr(self, key, number)
            value = str(number)
        elif key == "refcount_bits":
            if not value.isdigit():
                raise ImgError(f"Parameter '{key}' expects a number")
            self.refcount_bits = int(value)
        elif key == "lazy_refcounts":
            if value not in TRUE_WORDS + FALSE_WORDS:
                raise ImgError(f"Parameter '{key}' expects 'on' or 'off'")
            self.lazy_refcounts = value in TRUE_WORDS
        self.text[key] = value

    def describe(self) -> str:
        """The "key=value ..." part of the "Formatting ..." line."""
        parts = []
        for key, default in self.known.items():
            value = str(self.size) if key == "size" else self.text.get(key, default)
            if value is not None:
                parts.append(f"{key}={value}")
        return " ".join(parts)

    def qcow2_arguments(self) -> dict[str, object]:
        """create_qcow2()'s keyword arguments, after QEMU's checks of the combination."""
        compat = self.text.get("compat", "1.1")
        if compat not in COMPAT:
            raise ImgError(f"Parameter 'version' does not accept value '{compat}'")
        compat = COMPAT[compat]
        size = self.cluster_size
        if size < 512 or size > 2 << 20 or size & (size - 1):
            raise ImgError("Cluster size must be a power of two between 512 and 2048k")
        bits = self.refcount_bits
        if bits == 0 or bits > 64 or bits & (bits - 1):
            raise ImgError("Refcount width must be a power of two and may not exceed 64 bits")
        if compat == "0.10" and bits != 16:
            raise ImgError(
                "Different refcount widths than 16 bits require compatibility level 1.1 "
                "or above (use version=v3 or greater)"
            )
        if compat == "0.10" and self.lazy_refcounts:
            raise ImgError(
                "Lazy refcounts only supported with compatibility level 1.1 and above "
                "(use version=v3 or greater)"
            )
        for key, allowed in (("extended_l2", FALSE_WORDS), ("compression_type", ("zlib",))):
            if self.text.get(key, allowed[0]) not in allowed:
                raise ImgError(f"Parameter '{key}' does not accept value '{self.text[key]}'")
        return {
            "cluster_size": size,
            "compat": compat,
            "backing_file": self.backing_file,
            "backing_format": self.backing_fmt,
            "lazy_refcounts": self.lazy_refcounts,
            "refcount_bits": bits,
        }
