"""The image list's order when a column header is clicked (no Qt): rows by a key each, rows
without a value (an image not reviewed yet) last in either direction, ties in list order."""
from __future__ import annotations

from typing import Callable, Hashable, Iterable


def ordered(rows: Iterable[int], key: Callable[[int], Hashable | None], descending: bool) -> list[int]:
    """`rows` (entry rows, in list order) sorted by `key(row)`; None keys last, in list order."""
    keyed = [(key(r), r) for r in rows]
    present = [(k, r) for k, r in keyed if k is not None]
    present.sort(key=lambda kr: kr[0], reverse=descending)  # stable both ways: ties keep list order
    return [r for _, r in present] + [r for k, r in keyed if k is None]
