"""XML output in libvirt's own layout: two-space indents, single-quoted attributes."""

from __future__ import annotations

from dataclasses import dataclass, field

_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", "'": "&apos;", "\n": "&#10;"})


@dataclass
class Element:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Element] = field(default_factory=list)
    text: str | None = None

    def to_string(self) -> str:
        return "".join(self._lines(0))

    def _lines(self, depth: int) -> list[str]:
        pad = "  " * depth
        attrs = "".join(f" {k}='{v.translate(_ATTR_ESCAPES)}'" for k, v in self.attrs.items())
        if self.text is not None:
            return [f"{pad}<{self.tag}{attrs}>{self.text.translate(_TEXT_ESCAPES)}</{self.tag}>\n"]
        if not self.children:
            return [f"{pad}<{self.tag}{attrs}/>\n"]
        lines = [f"{pad}<{self.tag}{attrs}>\n"]
        for child in self.children:
            lines += child._lines(depth + 1)
        lines.append(f"{pad}</{self.tag}>\n")
        return lines


def E(tag: str, *children: Element | None, text: str | None = None, **attrs: object) -> Element:
    """An element; None children and None attribute values are left out.

    Attribute names that are Python keywords or not identifiers go through `attrs` as
    keyword arguments spelled with a trailing underscore (`type_`) or a dict splat.
    """
    return Element(
        tag,
        {k.rstrip("_"): str(v) for k, v in attrs.items() if v is not None},
        [c for c in children if c is not None],
        text,
    )
