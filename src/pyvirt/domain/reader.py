"""A reader over an XML tree that remembers what it read, so nothing unread passes silently.

Parsers take what they understand through `Node`; `Reader.finish()` then refuses
the first element or attribute that no parser took, naming it by its path.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from pyvirt.virterror import ErrorDomain

from .errors import unsupported, xml_error


def parse_root(xml: str, root_tag: str, domain: ErrorDomain) -> Reader:
    """The document's root, which must be `root_tag`; malformed XML is an XML error."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    try:
        root = etree.fromstring(xml.encode(), parser)
    except etree.XMLSyntaxError as err:
        raise xml_error(f"malformed XML: {err}", domain) from None
    if root.tag != root_tag:
        raise xml_error(f"unexpected root element <{root.tag}>, expecting <{root_tag}>", domain)
    return Reader(root, domain)


class Reader:
    def __init__(self, root: etree._Element, domain: ErrorDomain) -> None:
        self.domain = domain
        self._tree = root.getroottree()
        self._taken: set[str] = set()
        self.root = self._node(root)

    def _node(self, el: etree._Element) -> Node:
        path = self._tree.getpath(el)
        self._taken.add(path)
        return Node(self, el, path)

    def _take_attr(self, path: str, name: str) -> None:
        self._taken.add(f"{path}/@{name}")

    def finish(self) -> None:
        """Refuse the first element or attribute in document order that no parser read."""
        for el in self._tree.getroot().iter():
            if not isinstance(el.tag, str):
                continue  # processing instructions carry no configuration
            path = self._tree.getpath(el)
            if path not in self._taken:
                raise unsupported(f"element '{path}' is not supported", self.domain)
            for name in el.attrib:
                if f"{path}/@{name}" not in self._taken:
                    raise unsupported(
                        f"attribute '{name}' of element '{path}' is not supported", self.domain
                    )


class Node:
    def __init__(self, reader: Reader, el: etree._Element, path: str) -> None:
        self._reader = reader
        self._el = el
        self.path = path

    @property
    def tag(self) -> str:
        return str(self._el.tag)

    def error(self, detail: str) -> Exception:
        return xml_error(detail, self._reader.domain)

    def unsupported(self, detail: str) -> Exception:
        return unsupported(detail, self._reader.domain)

    def attr(self, name: str) -> str | None:
        self._reader._take_attr(self.path, name)
        return self._el.get(name)

    def required_attr(self, name: str) -> str:
        value = self.attr(name)
        if value is None:
            raise self.error(f"missing attribute '{name}' of element '{self.path}'")
        return value

    def choice(
        self, name: str, supported: Iterable[str], known: Iterable[str] = (), default: str = ""
    ) -> str:
        """An enumerated attribute: unknown to libvirt is invalid, known to libvirt but not
        in `supported` is unsupported. Absent gives `default` ('' makes it required)."""
        value = self.attr(name)
        if value is None:
            if default:
                return default
            raise self.error(f"missing attribute '{name}' of element '{self.path}'")
        supported = tuple(supported)
        if value in supported:
            return value
        if value in known:
            raise self.unsupported(f"{self.tag} {name} '{value}' is not supported")
        raise self.error(f"invalid value '{value}' for attribute '{name}' of '{self.path}'")

    def bool_attr(self, name: str, default: bool) -> bool:
        """libvirt's on/off (also yes/no) switches."""
        value = self.attr(name)
        if value is None:
            return default
        if value in ("on", "yes"):
            return True
        if value in ("off", "no"):
            return False
        raise self.error(f"invalid value '{value}' for attribute '{name}' of '{self.path}'")

    def child(self, tag: str) -> Node | None:
        found = self._el.findall(tag)
        if len(found) > 1:
            raise self.error(f"element '{tag}' may appear only once in '{self.path}'")
        return self._reader._node(found[0]) if found else None

    def children(self, tag: str) -> list[Node]:
        return [self._reader._node(el) for el in self._el.findall(tag)]

    def text(self) -> str:
        return self._el.text or ""

    def child_text(self, tag: str) -> str | None:
        node = self.child(tag)
        return None if node is None else node.text()
