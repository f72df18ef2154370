"""Which images the list shows: by status (or "error"), by class present, by file name."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import AppState

ERROR = "error"  # status filter value: images that could not be read


@dataclass(frozen=True)
class ImageFilter:
    status: str | None = None  # one of state.STATUSES, ERROR, or None for any
    category_id: int | None = None  # images with at least one box of this class
    text: str = ""  # case-insensitive part of the file name

    def is_active(self) -> bool:
        return self.status is not None or self.category_id is not None or bool(self.text)

    def accepts(self, state: "AppState", row: int) -> bool:
        if not self.is_active():
            return True
        entry = state.entries[row]
        if self.text and self.text.lower() not in entry.name.lower():
            return False
        if self.status == ERROR:
            if entry.error is None:
                return False
        elif self.status is not None and state.status(row) != self.status:
            return False
        if self.category_id is not None:
            return any(a["category_id"] == self.category_id for a in state.annotations(row))
        return True
