"""A bounded least-recently-used cache: the project's one LRU (no Qt).

Bounded by a number of entries and by a byte budget, measured by a `size_of(value)` given once.
The entry put last is always kept, even alone over the byte budget (a 50-megapixel photo must
still be shown), so the cache holds at most `max_items` entries and, unless it holds a single
entry, at most `max_bytes`.

    cache = LruCache(max_items=6, max_bytes=600 << 20, size_of=lambda image: image.nbytes)
    cache.put(path, image)       # evicts the least recently used beyond the bounds
    cache.get(path)              # the value (now the most recently used), or None
    cache.peek(path)             # the value, without touching its rank
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Generic, Hashable, Iterator, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    def __init__(self, max_items: int, max_bytes: int, size_of: Callable[[V], int]):
        if max_items < 1:
            raise ValueError(f"an LRU cache holds at least one entry, got max_items={max_items}")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()  # oldest first
        self._bytes = 0

    def put(self, key: K, value: V) -> list[K]:
        """Store `value` as the most recently used; return the keys evicted to make room."""
        self.pop(key)
        size = int(self._size_of(value))
        self._entries[key] = (value, size)
        self._bytes += size
        evicted = []
        while len(self._entries) > 1 and (len(self._entries) > self.max_items or self._bytes > self.max_bytes):
            oldest, (_, oldest_size) = self._entries.popitem(last=False)
            self._bytes -= oldest_size
            evicted.append(oldest)
        return evicted

    def get(self, key: K) -> V | None:
        """The value, marked as the most recently used; None when not cached."""
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def peek(self, key: K) -> V | None:
        """The value without changing the order of eviction; None when not cached."""
        found = self._entries.get(key)
        return None if found is None else found[0]

    def pop(self, key: K) -> V | None:
        """Remove one entry; its value, or None when it was not cached."""
        found = self._entries.pop(key, None)
        if found is None:
            return None
        self._bytes -= found[1]
        return found[0]

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    @property
    def total_bytes(self) -> int:
        """The sum of `size_of` over the entries, as measured when each was put."""
        return self._bytes

    def keys(self) -> list[K]:
        """Least recently used first."""
        return list(self._entries)

    def values(self) -> list[V]:
        return [value for value, _ in self._entries.values()]

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._entries))
