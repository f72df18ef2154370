"""Rebuilding a document from its journal after a crash (no Qt): the journal's starting point (a
snapshot in its header, or the saved file it was started on) plus every whole edit record after
it, replayed through the same CocoDocument methods that made them.

The image root comes from the journal header (the document's own image root when the journal was
written: `images/`, another folder chosen by the user...), never from the folder that was opened,
so the recovered file names resolve exactly as before the crash.

What the window keeps with the document beyond the COCO object (the decisions on predictions) rides
along, opaque to this layer: the header's "extras" (their whole state when the header was written,
by owner) and records {"extra": owner, "data": ...} among the edits, in the order they happened.
A replay hands them back as `Extras`; their owner applies them.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from detr_core.coco import CocoDocument
from detr_core.coco.changes import replay
from detr_core.coco.io import DiskState, JsonFormat, read_coco
from detr_core.coco.validate import validate
from detr_core.errors import DatasetError

from .journal import VERSION, read_journal


class StaleJournalError(DatasetError):
    """The journal was started on a version of the file that is no longer on disk."""


class ObsoleteJournalError(StaleJournalError):
    """The file was saved after the journal's edits (its previous version is now `<name>.bak`):
    a crash came between the save and the journal's removal. Nothing to recover."""


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class Extras:
    """The extras a journal carried: their state in its header (owner -> JSON; an owner absent
    there had none written: its own file beside the document is the start), then every extra
    record after it, in order: (owner, data)."""
    header: dict
    records: tuple[tuple[str, object], ...] = ()

    def of(self, owner: str) -> tuple[object | None, list]:
        """(the header's state of `owner` or None, its records' data in order)."""
        return self.header.get(owner), [data for name, data in self.records if name == owner]


# settle(document, target, extras, journal): the extras' owner keeps `extras`, carried by `journal`
# whose edits give back exactly `document` (the file at `target` as it opens now), beside that file.
# True: they still hold something only the journal has (offer it). On the open's worker thread.
Settle = Callable[[CocoDocument, Path, Extras, Path], bool]


@dataclass(frozen=True)
class Recovered:
    document: CocoDocument
    edits: int  # records replayed after the starting point
    torn: bool  # a cut-off last line (a crash mid-append) was skipped
    from_snapshot: bool
    extras: Extras = Extras({})


def extra_record(owner: str, data) -> dict:
    """A journal record of `owner`'s (not a document edit)."""
    return {"extra": owner, "data": data}


def journal_header(doc: CocoDocument, target: Path, *, snapshot: bool, extras: dict | None = None) -> dict:
    """The header of a journal of `doc` from now on. Without a saved file to start from (a new
    document, a recovered one) the header must carry the snapshot. `extras`: owner -> JSON state."""
    fmt = doc.json_format
    header = {"journal": VERSION, "target": str(target), "image_root": str(doc.image_root),
              "base": dataclasses.asdict(doc.disk) if doc.disk is not None else None,
              "saved": doc.path is not None,
              "format": [fmt.indent, list(fmt.separators), fmt.ensure_ascii, fmt.newline],
              "session": doc.memory.session_state()}
    if extras:
        header["extras"] = extras
    if snapshot or doc.disk is None or doc.path is None:
        header["snapshot"] = doc.data
    return header


def _start_data(header: dict, target: Path, root: Path) -> dict:
    if "snapshot" in header:
        data = header["snapshot"]
        report, _fixes = validate(data, target)
        if report.problems:
            raise DatasetError(report.problem_line())
        return data
    base = header.get("base") or {}
    try:
        raw = target.read_bytes()
    except OSError as e:
        raise StaleJournalError(f"{target}: cannot read the file the edit journal starts from "
                                f"({e.strerror or e})") from None
    if hashlib.sha256(raw).hexdigest() != base.get("sha256"):
        if _sha256(target.with_name(target.name + ".bak")) == base.get("sha256"):
            raise ObsoleteJournalError(f"{target}: saved after the journal's edits")
        raise StaleJournalError(f"{target}: changed on disk since the unsaved edits were made")
    loaded = read_coco(target, root)  # the same checks and fixes as when it was opened
    if loaded.report.problems:
        raise DatasetError(loaded.report.problem_line())
    return loaded.data


def rebuild(journal: Path, target: Path, fallback_root: Path) -> Recovered:
    """The document as it was at the journal's last whole frame (one user action). DatasetError
    (one line) if the journal cannot be read or does not apply (StaleJournalError: its file
    changed since)."""
    try:
        contents = read_journal(journal)
    except OSError as e:
        raise DatasetError(f"{journal}: cannot read ({e.strerror or e})") from None
    except ValueError as e:
        raise DatasetError(str(e)) from None
    header = contents.header
    try:
        root = Path(header["image_root"])
        if not root.is_dir():
            root = Path(fallback_root)
        data = _start_data(header, Path(target), root)
        indent, separators, ensure_ascii, newline = header["format"]
        fmt = JsonFormat(indent, tuple(separators), ensure_ascii, newline)
        disk = DiskState(**header["base"]) if header.get("base") else None
        path = Path(target) if header.get("saved") else None
        document = CocoDocument(data, root, path, json_format=fmt, disk=disk)
        document.memory.adopt_session_state(header["session"])
    except (KeyError, TypeError, ValueError) as e:
        raise DatasetError(f"{journal}: damaged journal header ({type(e).__name__}: {e})") from None
    edits = replay(document, [r for r in contents.records if "extra" not in r])
    document.saved_revision = -1  # unsaved work
    extras = header.get("extras") if isinstance(header.get("extras"), dict) else {}
    records = tuple((str(r["extra"]), r.get("data")) for r in contents.records if "extra" in r)
    return Recovered(document, edits, contents.torn, "snapshot" in header, Extras(extras, records))
