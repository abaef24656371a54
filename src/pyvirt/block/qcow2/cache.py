"""A small LRU cache of metadata tables (L2 tables, refcount blocks) by host offset or index."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Generic, TypeVar

V = TypeVar("V")


class TableCache(Generic[V]):
    def __init__(self, capacity: int) -> None:
        self.capacity = max(capacity, 2)
        self.tables: OrderedDict[int, V] = OrderedDict()
        self.dirty: set[int] = set()

    def get(self, key: int) -> V | None:
        table = self.tables.get(key)
        if table is not None:
            self.tables.move_to_end(key)
        return table

    def put(self, key: int, table: V, *, dirty: bool) -> None:
        self.tables[key] = table
        self.tables.move_to_end(key)
        if dirty:
            self.dirty.add(key)

    def mark_dirty(self, key: int) -> None:
        self.dirty.add(key)

    def full(self) -> bool:
        return len(self.tables) >= self.capacity

    def victim(self) -> int:
        """The least recently used key (the caller writes it back if dirty, then drops it)."""
        return next(iter(self.tables))

    def drop(self, key: int) -> None:
        self.tables.pop(key, None)
        self.dirty.discard(key)

    def take_dirty(self) -> Iterator[tuple[int, V]]:
        """Each dirty table once, marked clean (the caller writes it)."""
        for key in sorted(self.dirty):
            yield key, self.tables[key]
        self.dirty.clear()

    def clear(self) -> None:
        self.tables.clear()
        self.dirty.clear()
