"""Pre-labelling at any scale: one JSON-lines file per shard, resumable, merged into COCO results.

    shard = Shard.parse("1/4")                      # or Shard.from_env(): RANK/WORLD_SIZE, job arrays
    mine = shard.take(images)                       # [(global index, item)], every N-th image
    with ShardWriter.open(out_dir, shard, checkpoint_sha256, settings) as writer:
        if not writer.is_done(path):  writer.done(index, file_name, path, image_size, results)
    merged = merge_shards(out_dir)                  # -> COCO detection results of all shards

Each line is one image: its path, size in bytes, modification time (ns), the checkpoint's SHA-256
and the settings (engine, resize, threshold ...), then its detections or why it failed. An image
is skipped on a rerun only if all of those still match, so an interrupted or repeated run does the
rest and nothing twice; a torn last line (a killed process) is cut off. No torch here.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence, TypeVar

from ..errors import DatasetError, WorkbenchError

T = TypeVar("T")
FORMAT = 1  # record format version
_NAME = re.compile(r"^shard-(\d{5})-of-(\d{5})\.jsonl$")


@dataclass(frozen=True)
class Shard:
    index: int  # 0 .. count-1
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise WorkbenchError(f"shard {self.index}/{self.count}: need 0 <= I < N")

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """"I/N" -> Shard(I, N)."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match:
            raise WorkbenchError(f"--shard {text!r}: expected I/N, e.g. 0/4")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Shard | None":
        """This process's shard from torchrun (RANK, WORLD_SIZE) or a Slurm job array
        (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT); None without them."""
        env = os.environ if env is None else env
        if "RANK" in env and "WORLD_SIZE" in env:
            return cls(int(env["RANK"]), int(env["WORLD_SIZE"]))
        if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
            first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
            return cls(int(env["SLURM_ARRAY_TASK_ID"]) - first, int(env["SLURM_ARRAY_TASK_COUNT"]))
        return None

    @property
    def file_name(self) -> str:
        return f"shard-{self.index:05d}-of-{self.count:05d}.jsonl"

    def take(self, items: Sequence[T]) -> list[tuple[int, T]]:
        """(global index, item) of every count-th item from `index`: shards are balanced and
        disjoint, and together cover every item."""
        return [(i, items[i]) for i in range(self.index, len(items), self.count)]


@dataclass(frozen=True)
class ImageKey:
    path: str  # absolute
    size: int  # bytes
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike) -> "ImageKey":
        """Raises OSError when the file is gone."""
        path = Path(path).resolve()
        st = path.stat()
        return cls(str(path), st.st_size, st.st_mtime_ns)


def read_records(path: Path) -> tuple[list[dict], int]:
    """The complete records of a shard file, and the byte length they end at (a torn last line
    from a killed process is not counted). Raises DatasetError for a damaged line elsewhere."""
    records, good_end = [], 0
    data = path.read_bytes()
    offset = 0
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        offset += len(line)
        complete = line.endswith(b"\n")
        try:
            record = json.loads(line)
        except ValueError:
            if not complete:
                break  # torn tail: redo that image
            raise DatasetError(f"{path}: line {number} is not JSON; delete the file to redo its shard") from None
        if not complete:
            break
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise DatasetError(f"{path}: line {number} is not a pre-labelling record of format {FORMAT}")
        records.append(record)
        good_end = offset
    return records, good_end


class ShardWriter:
    """Appends records to one shard's file, knowing which images are already done."""

    def __init__(self, path: Path, checkpoint: str, settings: dict[str, Any], records: list[dict]):
        self.path = path
        self.checkpoint = checkpoint
        self.settings = settings
        self._done: dict[str, dict] = {}
        for r in records:
            if r["status"] == "done":
                self._done[r["path"]] = r
            else:
                self._done.pop(r["path"], None)
        self._file = open(path, "ab")
        self.written = 0

    @classmethod
    def open(cls, out_dir: str | os.PathLike, shard: Shard, checkpoint: str,
             settings: dict[str, Any]) -> "ShardWriter":
        out_dir = Path(out_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / shard.file_name
            records, end = read_records(path) if path.exists() else ([], 0)
            if path.exists() and path.stat().st_size != end:
                os.truncate(path, end)  # cut the torn line
        except OSError as e:
            raise DatasetError(f"{out_dir}: cannot use as the shard folder ({e.strerror or e})") from None
        return cls(path, checkpoint, settings, records)

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def is_done(self, key: ImageKey) -> bool:
        """True when this image, unchanged, has a result of this checkpoint and these settings."""
        r = self._done.get(key.path)
        return (r is not None and r["size"] == key.size and r["mtime_ns"] == key.mtime_ns
                and r["checkpoint"] == self.checkpoint and r["settings"] == self.settings)

    def done(self, index: int, file_name: str, key: ImageKey, image_size: tuple[int, int],
             detections: list[dict]) -> None:
        """detections: COCO results of the image without image_id/file_name (category_id, bbox
        xywh pixels, score, query)."""
        record = {"format": FORMAT, "index": index, "file_name": file_name, "path": key.path,
                  "size": key.size, "mtime_ns": key.mtime_ns, "checkpoint": self.checkpoint,
                  "settings": self.settings, "status": "done", "width": image_size[0],
                  "height": image_size[1], "detections": detections}
        self._append(record)
        self._done[key.path] = record

    def failed(self, index: int, file_name: str, path: str | os.PathLike, error: str) -> None:
        self._append({"format": FORMAT, "index": index, "file_name": file_name,
                      "path": str(Path(path).resolve()), "checkpoint": self.checkpoint,
                      "settings": self.settings, "status": "failed", "error": error})
        self._done.pop(str(Path(path).resolve()), None)

    def _append(self, record: dict) -> None:
        # One write per line, flushed at once: a killed process loses at most the line in flight.
        self._file.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        self._file.flush()
        self.written += 1

    def sync(self) -> None:
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()


@dataclass
class MergeResult:
    results: list[dict]  # COCO detection results: image_id, file_name, category_id, bbox, score, query
    images: int  # images with a result
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file_name, error), no result
    checkpoint: str = ""
    settings: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def shard_files(out_dir: str | os.PathLike) -> list[Path]:
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise DatasetError(f"{out_dir}: no such folder")
    files = sorted(p for p in out_dir.iterdir() if _NAME.match(p.name))
    if not files:
        raise DatasetError(f"{out_dir}: no shard files (shard-IIIII-of-NNNNN.jsonl)")
    return files


def _latest(files: list[Path]) -> Iterator[tuple[Path, dict]]:
    """(file, record) of each image's last record over all files."""
    last: dict[str, tuple[Path, dict]] = {}
    for path in files:
        for record in read_records(path)[0]:
            previous = last.get(record["path"])
            if previous is None or previous[1]["status"] != "done" or record["status"] == "done":
                last[record["path"]] = (path, record)
    return iter(last.values())


def merge_shards(out_dir: str | os.PathLike, threshold: float | None = None) -> MergeResult:
    """All shards of `out_dir` as one COCO results list, ordered by image (image_id = the image's
    place in the whole run + 1, as a single `detect --out` numbers them) then by score.
    Raises DatasetError when the shards come from different checkpoints or settings."""
    files = shard_files(out_dir)
    done, failed = [], []
    seen: dict[str, dict[str, Path]] = {"checkpoint": {}, "settings": {}}  # value -> first file
    for path, record in _latest(files):
        if record["status"] != "done":
            failed.append((record["file_name"], record.get("error", "failed")))
            continue
        seen["checkpoint"].setdefault(record["checkpoint"], path)
        seen["settings"].setdefault(json.dumps(record["settings"], sort_keys=True), path)
        done.append(record)
    for what, values in seen.items():
        if len(values) > 1:
            (a, file_a), (b, file_b) = list(values.items())[:2]
            plural = "checkpoints" if what == "checkpoint" else what
            raise DatasetError(f"{out_dir}: shards of different {plural} cannot be merged: {file_a.name} "
                               f"has {what} {a}, {file_b.name} has {what} {b}")
    done.sort(key=lambda r: r["index"])
    results = []
    for record in done:
        for d in record["detections"]:
            if threshold is None or d["score"] >= threshold:
                results.append({"image_id": record["index"] + 1, "file_name": record["file_name"], **d})
    checkpoint = done[0]["checkpoint"] if done else ""
    settings = done[0]["settings"] if done else {}
    return MergeResult(results, len(done), sorted(failed), checkpoint, settings, files)
