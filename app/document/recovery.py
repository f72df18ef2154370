"""Where a document's edit journal lives, whether an old one holds work to recover, and opening the
recovered document (plain functions, run on a worker thread; no Qt).

Where: `<target>.journal` beside the file Save writes — the JSON that was opened, or, for a folder
of images without one, `<folder>/annotations.json.journal` (where Save will put the JSON), so the
images' layout (beside the JSON, in `images/`, in another root) never matters. When that folder
is not writable, `<app data>/autosave/<hash of the target>-<name>.journal`.

An old journal is offered for recovery only when replaying it gives something other than the file
as it opens now: a journal left by a crash right after a save (its edits are all in the file)
goes away quietly. One that replays to the file but carries extras (decisions on predictions made
while edits were unsaved, then every edit undone) first lets their owner keep them beside the
file (`settle`); it is offered only if they cannot be kept so (a document never saved, a folder
not writable). One started on a version of the file that has since been changed by another
program cannot be replayed; it is renamed `.stale` (kept, never offered again) and the user is
told in one line.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from .journal import SUFFIX
from .replay import ObsoleteJournalError, Settle, StaleJournalError, rebuild
from .opening import OpenResult, build_entries, scan_images

log = logging.getLogger(__name__)

STALE_SUFFIX = ".stale"


def _fallback_name(target: Path) -> str:
    digest = hashlib.sha1(str(target).encode("utf-8")).hexdigest()[:12]
    return f"{digest}-{target.name}{SUFFIX}"


def journal_path(target: Path, fallback_dir: Path) -> Path:
    """Where the journal of `target` is written from now on."""
    if os.access(target.parent, os.W_OK):
        return target.with_name(target.name + SUFFIX)
    fallback_dir.mkdir(parents=True, exist_ok=True)
    return fallback_dir / _fallback_name(target)


def existing_journals(target: Path, fallback_dir: Path) -> list[Path]:
    candidates = [target.with_name(target.name + SUFFIX), fallback_dir / _fallback_name(target)]
    return [p for p in candidates if p.is_file()]


def check_journal(opened: OpenResult, journal: Path, settle: Settle | None = None) -> tuple[bool, str | None]:
    """(worth offering, a one-line note for the user or None). Removes an obsolete journal and
    renames a stale one. `settle`: see Settle; DatasetError from it leaves the journal in place."""
    try:
        recovered = rebuild(journal, opened.target, opened.document.image_root)
    except ObsoleteJournalError:
        log.info("%s: its edits were saved, removed", journal)
        journal.unlink(missing_ok=True)
        return False, None
    except StaleJournalError as e:
        kept = journal.with_name(journal.name + STALE_SUFFIX)
        os.replace(journal, kept)
        return False, f"{e}; the unsaved edits made to the earlier version were not recovered " \
                      f"(kept in {kept})"
    if recovered.document.data == opened.document.data:
        if recovered.extras.records and settle is not None \
                and settle(opened.document, opened.target, recovered.extras, journal):
            return True, None
        log.info("%s: nothing beyond the file, removed", journal)
        journal.unlink(missing_ok=True)
        return False, None
    return True, None


def recover(opened: OpenResult, journal: Path) -> OpenResult:
    """`opened` with its document replaced by the one rebuilt from `journal` (image root from
    the journal; saving still goes to `opened.target` and still checks it for changes on disk).
    Raises DatasetError (one line) if the journal cannot be replayed; it is left in place."""
    recovered = rebuild(journal, opened.target, opened.document.image_root)
    document = recovered.document
    from_json = opened.source.suffix.lower() == ".json" and opened.source.is_file()
    root = document.image_root if from_json else opened.root
    listed_folder = not from_json or opened.source.parent == root
    files = scan_images(root) if listed_folder else None
    entries = build_entries(document, root, files)
    return OpenResult(opened.source, document, entries, root, opened.target, opened.select_path,
                      [], recovered_from=journal, recovered_extras=recovered.extras)
