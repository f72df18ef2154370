"""What the user decided about predictions, kept with the document (no Qt).

A decision is per image, per model and per input size (the same model at another size predicts
other boxes for the same query numbers): query -> the annotation id it became (accepted), or
REJECTED. The model is named by its weights fingerprint (fingerprint.py), not by the file it was
loaded from, so a decision holds after a restart and for a copy of the checkpoint, and never for
a fine-tuned successor.

Saving the document also writes the decisions next to it, atomically, as `<name>.json.decisions`
(a small JSON file; image paths relative to its folder, so the pair can move together):

    {"format": "detr-workbench-decisions", "version": 1,
     "decisions": [{"image": "images/a.jpg", "model": "<sha256>", "resolution": [800, 1333],
                    "accepted": {"12": 57}, "rejected": [3, 5]}]}

Only accepted decisions whose annotation is still in the saved document are written: a box
deleted since brings its prediction back (as undo does in the session), and a later box that
reuses the id is not taken for it.

Between saves the decisions live in the document's edit journal (decision_journal.py): each
`decide` / `undecide` is told to the book's `listeners`, which journal it after the edit that
made its annotation, in the same journal frame, so a crash keeps both or neither.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from detr_core.atomic import atomic_write
from detr_core.errors import DatasetError

from .payloads import Resolution

REJECTED = -1  # decision value of a rejected prediction
SUFFIX = ".decisions"
FORMAT = "detr-workbench-decisions"
VERSION = 1

Key = tuple[str, str, Resolution]  # (image path, model fingerprint, resolution)
# listener(path, model, resolution, query, annotation id or REJECTED, or None: undecided)
Listener = Callable[[str, str, Resolution, int, "int | None"], None]


def sidecar_for(document_path: str | os.PathLike) -> Path:
    """Where the decisions of the document saved at `document_path` are kept."""
    path = Path(document_path)
    return path.with_name(path.name + SUFFIX)


class DecisionBook:
    def __init__(self):
        self._decisions: dict[Key, dict[int, int]] = {}
        self.listeners: list[Listener] = []  # told of every decide / undecide (not of loading)

    def of(self, path: str, model: str, resolution: Resolution) -> dict[int, int]:
        """query -> annotation id or REJECTED, for this image, model and input size."""
        return dict(self._decisions.get((path, model, tuple(resolution)), {}))

    def decide(self, path: str, model: str, resolution: Resolution, query: int, value: int) -> None:
        self.load_mark(path, model, resolution, query, value)
        self._tell(path, model, resolution, query, int(value))

    def undecide(self, path: str, model: str, resolution: Resolution, query: int) -> None:
        self.load_mark(path, model, resolution, query, None)
        self._tell(path, model, resolution, query, None)

    def load_mark(self, path: str, model: str, resolution: Resolution, query: int, value: int | None) -> None:
        """Set one decision (None: none) without telling the listeners: loading, replaying."""
        key = (path, model, tuple(int(v) for v in resolution))
        if value is not None:
            self._decisions.setdefault(key, {})[int(query)] = int(value)
            return
        marks = self._decisions.get(key, {})
        marks.pop(int(query), None)
        if not marks:
            self._decisions.pop(key, None)

    def replace(self, other: "DecisionBook") -> None:
        """Take `other`'s decisions in place of these (listeners not told)."""
        self._decisions = {key: dict(marks) for key, marks in other._decisions.items()}

    def _tell(self, path: str, model: str, resolution: Resolution, query: int, value: int | None) -> None:
        for listener in list(self.listeners):
            listener(path, model, tuple(resolution), int(query), value)

    def clear(self) -> None:
        self._decisions.clear()

    def items(self) -> list[tuple[Key, dict[int, int]]]:
        """Every (image path, model, resolution) with its decisions, in a fixed order."""
        return [(key, dict(marks)) for key, marks in sorted(self._decisions.items())]

    def __len__(self) -> int:
        return sum(len(marks) for marks in self._decisions.values())

    # -- the file ---------------------------------------------------------------------------------
    def to_json(self, folder: Path, keep_accepted: Callable[[str, int], bool]) -> dict:
        """The file's content; image paths relative to `folder`. `keep_accepted(path, ann_id)`:
        whether an accepted decision's annotation is in the document being saved."""
        records = []
        for (path, model, resolution), marks in self.items():
            accepted = {str(q): v for q, v in sorted(marks.items()) if v != REJECTED and keep_accepted(path, v)}
            rejected = sorted(q for q, v in marks.items() if v == REJECTED)
            if accepted or rejected:
                records.append({"image": relative(path, folder), "model": model,
                                "resolution": list(resolution), "accepted": accepted, "rejected": rejected})
        return {"format": FORMAT, "version": VERSION, "decisions": records}

    @classmethod
    def from_json(cls, data, folder: Path) -> "DecisionBook":
        """Read `to_json`'s content; raises ValueError (with what is wrong) on anything else."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a decisions file")
        if data.get("version") != VERSION:
            raise ValueError(f"unsupported version {data.get('version')!r}")
        book = cls()
        for record in data.get("decisions", []):
            path = os.path.normpath(folder / record["image"])
            model, resolution = str(record["model"]), tuple(int(v) for v in record["resolution"])
            if len(resolution) != 2:
                raise ValueError(f"bad resolution {record['resolution']!r}")
            for query, ann_id in record.get("accepted", {}).items():
                book.load_mark(path, model, resolution, int(query), int(ann_id))
            for query in record.get("rejected", []):
                book.load_mark(path, model, resolution, int(query), REJECTED)
        return book

    def write(self, document_path: str | os.PathLike, keep_accepted: Callable[[str, int], bool]) -> Path:
        """Write the decisions next to the document saved at `document_path`, atomically (a
        file with no decisions in it is removed). Raises DatasetError naming the file."""
        sidecar = sidecar_for(document_path)
        content = self.to_json(sidecar.parent, keep_accepted)
        try:
            if not content["decisions"]:
                sidecar.unlink(missing_ok=True)
                return sidecar
            payload = json.dumps(content, indent=1).encode("utf-8")
            atomic_write(sidecar, lambda f: f.write(payload))
        except OSError as e:
            raise DatasetError(f"{sidecar}: cannot write the prediction decisions ({e.strerror or e})") from e
        return sidecar

    def read(self, document_path: str | os.PathLike) -> None:
        """Replace the decisions by those kept next to the document at `document_path` (none
        if there is no file). Raises DatasetError naming the file when it cannot be read; the
        book is then empty."""
        self.clear()
        sidecar = sidecar_for(document_path)
        try:
            raw = sidecar.read_bytes()
        except FileNotFoundError:
            return
        except OSError as e:
            raise DatasetError(f"{sidecar}: cannot read the prediction decisions ({e.strerror or e})") from e
        try:
            loaded = DecisionBook.from_json(json.loads(raw.decode("utf-8")), sidecar.parent)
        except (ValueError, KeyError, TypeError, AttributeError) as e:  # UnicodeDecodeError is a ValueError
            raise DatasetError(f"{sidecar}: unreadable prediction decisions, not applied ({e})") from e
        self.replace(loaded)


def relative(path: str, folder: Path) -> str:
    """An image path as the decisions file (and the journal) writes it: relative to `folder`."""
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).as_posix()
