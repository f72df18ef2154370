"""Continuing a run after the window closes: a `detr-workbench train --resume` in its own session
whose output goes to files in the run folder (no pipe to a window that is gone), so it outlives
the window. Its process id is noted in RUN/detached.json for the history."""
from __future__ import annotations

import subprocess
from pathlib import Path

from .job import child_environment
from .runs import write_detached

LOG_FILE = "job.log"  # stderr of background jobs, appended
_started: list[subprocess.Popen] = []  # kept: a collected Popen of a live process warns


def start_detached(run_dir: Path, args: list[str]) -> int:
    """Start `args` (without --jsonl: the events still go to RUN/metrics.jsonl) in a new session,
    not tied to this process. Returns its process id; raises OSError if it cannot start."""
    with open(run_dir / LOG_FILE, "ab") as log:
        process = subprocess.Popen(args, cwd=run_dir, env=child_environment(), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    _started.append(process)
    write_detached(run_dir, process.pid)
    return process.pid
