"""Shared set-up of the fuzz tests (no tests here): the hypothesis budget and a loader worker.

Every fuzzed file is loaded in a separate long-lived worker process, never in the test process:
  - a hang is a timeout (the worker is killed and restarted, the example fails);
  - a crash of native code (a segfault in a decoder) is a failing example, not a dead test run;
  - the worker's address space is capped (4 GiB beyond what it maps after importing torch), so a file that asks for a huge allocation gets a
    MemoryError there (which must come back as the project's one-line error) instead of swapping;
  - the worker reports what happened: "loaded", "refused" (a WorkbenchError subclass, with its
    message) or "crashed" (any other exception, with the traceback).

Budgets: `FUZZ_PROFILE=long` multiplies every test's number of examples by `FUZZ_SCALE` (default
20) and draws new random examples (hypothesis prints the seed of a failure); the default profile
is derandomized (the same examples on every run) and small enough for `make test`.
"""
from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("FUZZ_PROFILE", "") == "long"
SCALE = int(os.environ.get("FUZZ_SCALE", "20")) if LONG else 1
TIMEOUT_S = 60.0  # per file; a load of these small files takes well under a second
ADDRESS_SPACE = 4 << 30  # the worker's address space beyond what its libraries map after import
_TAG = "@@fuzz-result@@ "


def fuzz_settings(examples: int) -> settings:
    """`examples` in `make test` (same examples every run); x FUZZ_SCALE, random, with FUZZ_PROFILE=long."""
    return settings(max_examples=examples * SCALE, derandomize=not LONG, deadline=None, database=None,
                    print_blob=LONG, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                            HealthCheck.function_scoped_fixture])


# The worker: one request per line on stdin ({"target", "path"}), one tagged JSON answer per line on
# stdout. The targets are the public loaders a user's file goes through.
_WORKER = r'''
import json, sys, traceback
from pathlib import Path

def coco(path):
    from detr_core.coco import CocoDocument
    from detr_core.data import load_detection_dataset
    doc, report = CocoDocument.load(path)
    dataset, _ = load_detection_dataset(path, train=False)  # the training loader on top
    for i in range(min(len(dataset), 2)):
        dataset[i]
    return f"{len(doc.images)} images, {len(doc.annotations)} annotations, {len(dataset)} samples"

def checkpoint(path):
    """load_checkpoint, then what --resume reads (whatever the first said): read_checkpoint_state
    and from_run with the seed's classes. A refusal by the second must be one line naming the file."""
    from detr_core.checkpoints import load_checkpoint, read_checkpoint_state
    from detr_core.data.classes import ClassMap
    from detr_core.errors import WorkbenchError
    from detr_core.train.setup import from_run
    refused, what = [], ""
    try:
        loaded = load_checkpoint(path)
        what = f"{loaded.kind}: {len(loaded.class_names)} classes"
    except WorkbenchError as e:
        refused.append(e)
    try:
        raw = read_checkpoint_state(path)
        if "state" in raw:
            start = from_run(raw, Path(path), ClassMap((1, 2, 3), ("cat", "dog", "bird")))
            what += f"; resumable ({start.config.num_classes} classes)"
    except WorkbenchError as e:
        if "\n" in str(e) or str(path) not in str(e):
            raise AssertionError(f"resume refused {path} with a bad message: {e!r}")
        if not refused:
            raise
    if refused:
        raise refused[0]
    return what

def image(path):
    from detr_core.images import image_size, load_image
    size = image_size(path)
    rgb = load_image(path)
    return f"{size} -> {rgb.size} {rgb.mode}"

TARGETS = {"coco": coco, "checkpoint": checkpoint, "image": image}

import resource
import torch, PIL.Image, detr_core.checkpoints, detr_core.data, detr_core.train.setup  # noqa: E401
from detr_core.errors import WorkbenchError

def cap_address_space(extra):
    """Room for `extra` bytes more than the libraries already mapped (CUDA builds map gigabytes)."""
    try:
        with open("/proc/self/status") as f:
            size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        return
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, resource.RLIM_INFINITY))

cap_address_space(EXTRA)
for line in sys.stdin:
    request = json.loads(line)
    try:
        detail = TARGETS[request["target"]](request["path"])
        answer = {"outcome": "loaded", "detail": detail}
    except WorkbenchError as e:
        answer = {"outcome": "refused", "type": type(e).__name__, "message": str(e)}
    except BaseException as e:
        answer = {"outcome": "crashed", "type": type(e).__name__, "message": str(e)[:2000],
                  "traceback": traceback.format_exc()[-6000:]}
    sys.stdout.write(TAG + json.dumps(answer) + "\n")
    sys.stdout.flush()
'''


class LoaderWorker:
    """A worker process that loads files with the project's loaders; see the module docstring."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.counts: Counter = Counter()  # (target, outcome) -> examples
        self.seconds: Counter = Counter()  # target -> seconds waiting for answers (start-ups included)
        self.stderr = tempfile.TemporaryFile()
        self._buffer = b""

    def _start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1")
        code = f"TAG = {_TAG!r}\nEXTRA = {ADDRESS_SPACE}\n" + _WORKER
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr)
        self._buffer = b""

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def load(self, target: str, path: Path, timeout: float = TIMEOUT_S) -> dict:
        """What loading `path` with `target` ("coco", "checkpoint", "image") did: a dict with
        "outcome" = loaded | refused | crashed | hung | died (the last two: the worker is restarted)."""
        started = time.monotonic()
        try:
            return self._load(target, path, timeout)
        finally:
            self.seconds[target] += time.monotonic() - started

    def _load(self, target: str, path: Path, timeout: float) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write((json.dumps({"target": target, "path": str(path)}) + "\n").encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                if text.startswith(_TAG):
                    answer = json.loads(text[len(_TAG):])
                    self.counts[target, answer["outcome"]] += 1
                    return answer
            left = deadline - time.monotonic()
            if left <= 0:
                self._kill()
                self.counts[target, "hung"] += 1
                return {"outcome": "hung", "message": f"no answer within {timeout:.0f} s"}
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:  # the worker died (e.g. a segfault in native code)
                    code = self.proc.wait()
                    self.proc = None
                    self.counts[target, "died"] += 1
                    return {"outcome": "died", "message": f"worker exited with {code}: {self._tail()}"}
                self._buffer += chunk

    def _tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-2000:]

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kill()
        self.stderr.close()

    def summary(self, target: str) -> str:
        outcomes = {o: n for (t, o), n in sorted(self.counts.items()) if t == target}
        total = sum(outcomes.values())
        return (f"fuzz {target}: {total} files, " + ", ".join(f"{n} {o}" for o, n in outcomes.items())
                + f"; {self.seconds[target]:.1f} s in the worker")


_SHARED: list[LoaderWorker] = []


def shared_worker() -> LoaderWorker:
    """One worker for all fuzz test files of a pytest run (torch is imported once)."""
    if not _SHARED:
        _SHARED.append(LoaderWorker())
        atexit.register(_SHARED[0].close)
    return _SHARED[0]


def check_answer(answer: dict, path: Path, what: str = "") -> None:
    """The contract: loaded, or refused with one line naming the file. Anything else fails."""
    outcome = answer["outcome"]
    assert outcome in ("loaded", "refused"), (
        f"{what}{path.name}: {outcome}: {answer.get('type', '')}: {answer.get('message', '')}\n"
        f"{answer.get('traceback', '')}")
    if outcome == "refused":
        message = answer["message"]
        assert "\n" not in message, f"{what}message is not one line: {message!r}"
        assert str(path) in message, f"{what}message does not name {path}: {message!r}"
        assert "weights_only" not in message, f"{what}message advises unsafe loading: {message!r}"


def folder_listing(folder: Path) -> dict[str, tuple[int, int]]:
    """name -> (size, mtime_ns) of every file under `folder`: loading must not write anything."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}
