"""Reading and writing COCO JSON files: parse with one-line errors, find the image folder, keep the
file's own formatting, and save atomically with a backup and a check for changes made by others.

A save writes a temporary file in the target's folder (flush + fsync, by detr_core.atomic, the one
writer, so the file keeps its permissions or gets the umask's), hard-links (or copies) the current
file to `<name>.bak`, then `os.replace`s the temporary file over the target, so at every moment the
target holds either the old or the new version. Any OSError leaves the old file as it was, removes
the temporary file and raises DatasetError naming the path and the OS error.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_write
from ..errors import DatasetError
from .validate import LoadReport, apply_fixes, validate

_SAMPLE = 20  # file names tried per candidate image folder
_MAX_SIBLINGS = 50
_ANNOTATION_FOLDERS = ("annotations", "annotation", "labels")


class DiskChangedError(DatasetError):
    """The file on disk is not the version the document was loaded from or last saved to."""


@dataclass(frozen=True)
class DiskState:
    """What a file looked like when we read or wrote it."""
    size: int
    mtime_ns: int
    sha256: str


def _separators(head: str) -> tuple[str, str]:
    """The item and key separators of single-line JSON: the first ',' and ':' outside strings."""
    found = {",": ", ", ":": ": "}  # json.dumps' defaults when the head has none
    seen, in_string, escaped = set(), False, False
    for i, ch in enumerate(head):
        if escaped:
            escaped = False
        elif in_string:
            escaped = ch == "\\"
            in_string = ch != '"'
        elif ch == '"':
            in_string = True
        elif ch in found and ch not in seen:
            seen.add(ch)
            found[ch] = ch + " " if head[i + 1:i + 2] == " " else ch
            if len(seen) == 2:
                break
    return found[","], found[":"]


@dataclass(frozen=True)
class JsonFormat:
    """How a file was written, so a save changes only what was edited (no whole-file diffs)."""
    indent: int | str | None = None
    separators: tuple[str, str] = (", ", ": ")
    ensure_ascii: bool = False
    newline: bool = True  # a final newline

    @classmethod
    def detect(cls, text: str) -> "JsonFormat":
        newline = text.endswith("\n")
        ascii_only = text.isascii()
        ensure_ascii = ascii_only and "\\u" in text
        body = text.lstrip("\ufeff")
        if len(body) > 1 and body[0] in "{[" and body[1] in "\r\n":
            second = body[1:].lstrip("\r\n").split("\n", 1)[0]
            pad = second[: len(second) - len(second.lstrip(" \t"))]
            indent = pad if pad.startswith("\t") else len(pad)
            return cls(indent, (",", ": "), ensure_ascii, newline)
        return cls(None, _separators(body[:65536]), ensure_ascii, newline)

    def dumps(self, data) -> str:
        text = json.dumps(data, indent=self.indent, separators=self.separators,
                          ensure_ascii=self.ensure_ascii)
        return text + "\n" if self.newline else text


def _os_reason(e: OSError) -> str:
    return e.strerror or str(e)


def disk_state(path: Path, raw: bytes | None = None) -> DiskState | None:
    """The state of `path` now (None when it does not exist); `raw` = its bytes if already read."""
    try:
        st = os.stat(path)
        if raw is None:
            raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({_os_reason(e)})") from None
    return DiskState(st.st_size, st.st_mtime_ns, hashlib.sha256(raw).hexdigest())


def changed_on_disk(path: Path, expected: DiskState) -> bool:
    """True when `path` exists with content other than `expected` (size first, then the hash: a
    same-size rewrite within one mtime tick is still caught). A deleted file is not a change."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return False
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({_os_reason(e)})") from None
    if size != expected.size:
        return True
    current = disk_state(path)
    return current is not None and current.sha256 != expected.sha256


def read_json(path: Path) -> tuple[object, JsonFormat, DiskState]:
    """Parse `path`; one-line DatasetError for a missing, unreadable or malformed file."""
    try:
        st = os.stat(path)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a folder, not a JSON file") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({_os_reason(e)})") from None
    if not raw.strip():
        raise DatasetError(f"{path}: empty file, expected a COCO JSON object")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DatasetError(f"{path}: not UTF-8 text (bad byte at offset {e.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: malformed JSON at line {e.lineno} column {e.colno}: "
                           f"{e.msg}") from None
    except RecursionError:
        raise DatasetError(f"{path}: JSON nested too deeply to read") from None
    except ValueError as e:  # Python refuses integers of more than 4300 digits (CVE-2020-10735)
        if "digits" not in str(e):
            raise
        raise DatasetError(f"{path}: malformed JSON: a number with too many digits (more than "
                           f"{sys.get_int_max_str_digits()})") from None
    state = DiskState(st.st_size, st.st_mtime_ns, hashlib.sha256(raw).hexdigest())
    return data, JsonFormat.detect(text), state


def _file_names(data) -> list[str]:
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        return []
    return [im["file_name"] for im in images
            if isinstance(im, dict) and isinstance(im.get("file_name"), str)]


def find_image_root(json_path: Path, data, image_root=None) -> tuple[Path, str]:
    """The folder image file_name values are relative to, and why it was chosen.

    Given explicitly: that folder. Otherwise the first of these where the most of a sample of the
    file names exist: the JSON's folder, its `images/` subfolder, its parent folder, the parent's
    `images/`, then — only when the JSON's folder is called `annotations` (or `annotation`,
    `labels`) as in the COCO layout — every sibling folder (alphabetically), which finds
    `train2017/` next to `annotations/instances_train2017.json`. If none holds any, the JSON's
    folder (images may be copied there later).
    """
    if image_root is not None:
        root = Path(image_root).absolute()
        if not root.is_dir():
            raise DatasetError(f"{root}: image folder not found")
        return root, "given"
    json_dir = json_path.absolute().parent
    names = _file_names(data)
    if not names:
        return json_dir, "the JSON file's folder (no images listed)"
    step = max(1, len(names) // _SAMPLE)
    sample = names[::step][:_SAMPLE]
    candidates = [json_dir, json_dir / "images", json_dir.parent, json_dir.parent / "images"]
    if json_dir.name.lower() in _ANNOTATION_FOLDERS:  # COCO layout: annotations/ + train2017/
        try:
            siblings = sorted(p for p in json_dir.parent.iterdir() if p.is_dir() and p != json_dir)
        except OSError:
            siblings = []
        candidates += [p for p in siblings[:_MAX_SIBLINGS] if p not in candidates]
    best, best_found = json_dir, 0
    for folder in candidates:
        found = sum((folder / name).is_file() for name in sample)
        if found > best_found:
            best, best_found = folder, found
        if found == len(sample):
            break
    if best_found == 0:
        return json_dir, "the JSON file's folder (no image files found next to it)"
    where = "the JSON file's folder" if best == json_dir else "a folder near the JSON file"
    return best, f"{where}: {best_found} of {len(sample)} sampled image files found there"


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _backup(path: Path) -> None:
    """Make `<name>.bak` a copy of `path` without ever leaving `path` missing."""
    tmp = path.parent / f".{path.name}.bak.{secrets.token_hex(4)}.tmp"
    try:
        try:
            os.link(path, tmp)
        except OSError:  # no hard links on this file system: copy instead
            shutil.copy2(path, tmp)
        os.replace(tmp, path.with_name(path.name + ".bak"))
    except BaseException:
        _unlink_quietly(tmp)
        raise


def write_atomic(path: Path, payload: bytes, *, expected: DiskState | None, force: bool = False,
                 backup: bool = True) -> DiskState:
    """Replace `path` by `payload` atomically; return the new DiskState.

    `expected` is the state the caller last saw (None: no check). If the file exists and its
    content hash differs, raise DiskChangedError unless `force`.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()  # write the file the link points to, keep the link
    if expected is not None and not force and changed_on_disk(path, expected):
        raise DiskChangedError(f"{path}: changed on disk since it was loaded or last saved; "
                               "reload it, or save with force to overwrite the other changes")
    backup_first = (lambda: _backup(path)) if backup and path.is_file() else None
    try:
        atomic_write(path, lambda f: f.write(payload), before_replace=backup_first)
    except OSError as e:
        raise DatasetError(f"{path}: cannot save ({_os_reason(e)}); the file on disk is unchanged"
                           ) from None
    st = os.stat(path)
    return DiskState(st.st_size, st.st_mtime_ns, hashlib.sha256(payload).hexdigest())


@dataclass
class Loaded:
    """A parsed, checked and fixed COCO file, ready to become a CocoDocument."""
    data: dict
    report: LoadReport
    image_root: Path
    format: JsonFormat
    state: DiskState


def read_coco(path, image_root=None, *, strict: bool = False) -> Loaded:
    """Read, validate and fix `path`. Never raises for validation problems: they are in
    `report.problems` (callers that need a usable document refuse when there are any)."""
    path = Path(path)
    data, fmt, state = read_json(path)
    report, fixes = validate(data, path)
    root, reason = find_image_root(path, data, image_root)
    report.image_root, report.image_root_reason = root, reason
    if not report.problems:
        apply_fixes(fixes, root, report)
        names = _file_names(data)
        missing = sum(not (root / name).is_file() for name in names)
        report.counts["missing_image_files"] = missing
        if missing:
            report.warnings.append(f"{missing} of {len(names)} image files not found under {root}")
    if strict:
        report.problems.extend(f"strict: {w}" for w in report.warnings)
    return Loaded(data, report, root, fmt, state)


def relative_name(path, root: Path) -> str:
    """`path` as a COCO file_name: relative to the image root, POSIX slashes."""
    absolute = os.path.abspath(os.fspath(path))
    try:
        return Path(os.path.relpath(absolute, root)).as_posix()
    except ValueError:  # another drive on Windows: keep it absolute
        return Path(absolute).as_posix()
