"""One preflight finding (train/preflight.py): a severity, the check's name and one line. Its own
module so that the window can read findings without importing torch."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" | "warning" | "ok"
    check: str  # short name of the check
    message: str
    measured: dict | None = field(default=None, compare=False)  # numbers a caller can use, e.g.
    #   the overfit's {"seconds_per_step": 0.8, "images_per_step": 2} (the dialog's time estimate)

    def line(self) -> str:
        return f"{self.severity}: {self.message}"

    def to_dict(self) -> dict:
        out = {"severity": self.severity, "check": self.check, "message": self.message}
        return out | ({"measured": dict(self.measured)} if self.measured else {})
