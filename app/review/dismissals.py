"""Dismissed findings, remembered per annotation and model, so the same false alarm never returns.

Qt-free. A JSON file {"dismissed": [keys]}; a key is "model|image|kind|annotation id" (for a
missing box, which has no annotation: the model's box rounded to whole pixels)."""
from __future__ import annotations

import json
from pathlib import Path

from detr_core.atomic import atomic_write_json
from detr_core.errors import DatasetError


def finding_key(model: str, file_name: str, finding) -> str:
    where = finding.annotation_id if finding.annotation_id is not None else \
        ",".join(str(round(v)) for v in (finding.model_box or ()))
    return f"{model}|{file_name}|{finding.kind}|{where}"


class Dismissals:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self._keys: set[str] = set()
        if self.path is not None and self.path.is_file():
            try:
                self._keys = set(json.loads(self.path.read_text(encoding="utf-8"))["dismissed"])
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise DatasetError(f"{self.path}: not a dismissals file ({type(e).__name__})") from None

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: str) -> None:
        self._keys.add(key)
        if self.path is not None:
            try:
                atomic_write_json(self.path, {"dismissed": sorted(self._keys)}, indent=1)
            except OSError as e:
                raise DatasetError(f"{self.path}: cannot save dismissals ({e.strerror or e})") from None
