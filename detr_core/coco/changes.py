"""Change records: what a CocoDocument edit was, told to observers, and replayed exactly.

Every mutating method of CocoDocument (the one choke point for edits, undo and redo) is marked
`@recorded`. When the outermost such call returns, each observer gets a `Change`: the method's
name, its arguments and its result. Calling the same method with the same arguments on a document
in the same state does the same edit and returns the same result, so a list of changes replays
exactly (`replay`). Nested calls (`reapply` calling `remove_image`, `new` adding categories) are
reported once, as the outer call.

`encode` turns a change into one JSON line at once, on the editing thread: the arguments are the
document's live dicts (an inserted annotation is moved later), so they must be copied before the
next edit. Only int results (new ids) are kept, to check a replay against.

The state a replay also needs that the COCO object does not hold (the next ids, the load-time
geometry of edited boxes) lives in the document's `EditMemory` (`doc.memory`), with its observers:
`doc.memory.session_state()` is what a journal stores in its header, `adopt_session_state` takes
it over, `add_observer(fn)` hears of every finished edit.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import DatasetError


@dataclass(frozen=True)
class Change:
    op: str  # the CocoDocument method
    args: tuple
    kwargs: dict
    result: Any


MISSING = object()  # a box that had no "area" when first seen


class EditMemory:
    """What a document remembers about its edits beyond the COCO object: the next id of each
    kind, the load-time geometry of boxes it moved (so an undo gives back the file exactly), and
    who listens to its edits."""

    def __init__(self, data: dict):
        self.next_id = {kind: max((r["id"] for r in data[kind]), default=0) + 1
                        for kind in ("images", "annotations", "categories")}
        self.load_geometry: dict[int, tuple[list, object]] = {}  # ann id -> (bbox, area) first seen
        self.observers: list[Callable[[Change], None]] = []
        self.depth = 0  # nested edit calls are reported once, as the outer one

    def fresh_id(self, kind: str) -> int:
        new_id = self.next_id[kind]
        self.next_id[kind] = new_id + 1
        return new_id

    def add_observer(self, observer: Callable[[Change], None]) -> None:
        """Call `observer(change)` after every finished edit (on the editing thread)."""
        self.observers.append(observer)

    def remove_observer(self, observer: Callable[[Change], None]) -> None:
        if observer in self.observers:
            self.observers.remove(observer)

    def session_state(self) -> dict:
        """JSON-ready: the next ids and the load-time geometry of edited boxes. A copy of the
        COCO object with this state adopted replays later changes exactly as this one did."""
        geometry = [[ann_id, list(bbox), area is not MISSING, None if area is MISSING else area]
                    for ann_id, (bbox, area) in self.load_geometry.items()]
        return {"next_id": dict(self.next_id), "load_geometry": geometry}

    def adopt_session_state(self, state: dict) -> None:
        """Take over `session_state()` of the document this one is a copy of."""
        self.next_id = {kind: max(int(state["next_id"][kind]), self.next_id[kind]) for kind in self.next_id}
        self.load_geometry = {int(ann_id): (list(bbox), area if has_area else MISSING)
                              for ann_id, bbox, has_area, area in state["load_geometry"]}


def recorded(method: Callable) -> Callable:
    """Mark a CocoDocument method as an edit: observers hear about it once it has succeeded."""
    name = method.__name__

    @functools.wraps(method)
    def edit(doc, *args, **kwargs):
        memory = doc.memory
        memory.depth += 1
        try:
            result = method(doc, *args, **kwargs)
        finally:
            memory.depth -= 1
        if memory.depth == 0 and memory.observers:
            change = Change(name, args, kwargs, result)
            for observer in list(memory.observers):
                observer(change)
        return result

    edit.recorded = True
    return edit


def _plain(value):
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot record a {type(value).__name__} in a change")


def encode(change: Change) -> dict:
    """A JSON-ready dict (already a deep copy) of `change`."""
    record = {"op": change.op, "args": list(change.args)}
    if change.kwargs:
        record["kwargs"] = change.kwargs
    if isinstance(change.result, int) and not isinstance(change.result, bool):
        record["result"] = change.result
    return json.loads(json.dumps(record, default=_plain, allow_nan=False))


def apply_record(doc, record: dict) -> None:
    """Do the edit `record` (from `encode`) on `doc`. DatasetError if it does not apply exactly."""
    op = record.get("op")
    method = getattr(type(doc), op, None) if isinstance(op, str) else None
    if not getattr(method, "recorded", False):
        raise DatasetError(f"{doc.label}: unknown edit {op!r} in the journal")
    try:
        result = getattr(doc, op)(*record.get("args", []), **record.get("kwargs", {}))
    except (KeyError, ValueError, IndexError, TypeError, DatasetError) as e:
        raise DatasetError(f"{doc.label}: edit {op} from the journal does not apply "
                           f"({type(e).__name__}: {e})") from None
    if "result" in record and result != record["result"]:
        raise DatasetError(f"{doc.label}: edit {op} from the journal gave id {result}, "
                           f"the journal says {record['result']}")


def replay(doc, records) -> int:
    """Apply each record in order; returns how many were applied."""
    count = 0
    for record in records:
        apply_record(doc, record)
        count += 1
    return count
