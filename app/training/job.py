"""TrainingJob: one `detr-workbench train` child process (QProcess), read as it runs.

stdout carries the JSON-lines event stream (`--jsonl`): it is parsed incrementally (jsonl.py)
into typed events, emitted one by one. stderr is the command's human-readable log: kept as a
bounded tail. The child runs in its own session (process group) where the platform allows, so a
Ctrl+C in the terminal that started the window does not reach it and a kill takes its data-loader
workers along.

    cancel()  SIGTERM: the command stops after the current step, writes a resumable checkpoint
              and reports "end" with status "stopped" (exit code 3)
    kill()    SIGKILL to its process group: at once, nothing more is written
`finished(JobOutcome)` comes once, however the process ended (or failed to start).
"""
from __future__ import annotations

import os
import signal
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal, Slot

from detr_core.cli.train import EXIT_STOPPED
from detr_core.train.events import RunEnded, RunFailed

from .command import shell_line
from .jsonl import JsonLinesParser

LOG_LINES = 500  # lines of the job's log kept in memory
OUTCOME_LINES = 12  # last lines a failed job shows


@dataclass(frozen=True)
class JobOutcome:
    run_dir: Path
    status: str  # "completed" | "stopped" | "failed" | "killed"
    message: str  # one line for the user
    exit_code: int | None  # None: killed by a signal or never started
    end: RunEnded | None = None
    error: RunFailed | None = None
    last_lines: tuple[str, ...] = ()  # the end of the job's log

    @property
    def model(self) -> str | None:
        return self.end.model if self.end is not None else None


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, with detr_core importable and output unbuffered."""
    import detr_core

    environment = dict(os.environ)
    root = str(Path(detr_core.__file__).resolve().parents[1])
    path = environment.get("PYTHONPATH", "")
    environment["PYTHONPATH"] = root + (os.pathsep + path if path else "")
    environment["PYTHONUNBUFFERED"] = "1"
    environment.update(extra or {})
    return environment


class TrainingJob(QObject):
    started = Signal()
    event_received = Signal(object)  # a detr_core.train.events.Event
    log_received = Signal(list)  # new log lines (stderr, and stdout lines that are not events)
    finished = Signal(object)  # JobOutcome

    def __init__(self, run_dir: Path, args: list[str], parent: QObject | None = None,
                 env: dict[str, str] | None = None):
        super().__init__(parent)
        self.run_dir = Path(run_dir)
        self.args = list(args)
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.end: RunEnded | None = None
        self.error: RunFailed | None = None
        self.cancel_requested = False
        self._killed = False
        self._done = False
        self._stderr_tail = b""
        self._parser = JsonLinesParser()
        self.process = QProcess(self)
        self.process.setProgram(self.args[0])
        self.process.setArguments(self.args[1:])
        self.process.setWorkingDirectory(str(self.run_dir))
        environment = QProcessEnvironment()
        for key, value in child_environment(env).items():
            environment.insert(key, value)
        self.process.setProcessEnvironment(environment)
        if sys.platform != "win32":
            self.process.setUnixProcessParameters(QProcess.UnixProcessFlag.CreateNewSession)
        self.process.readyReadStandardOutput.connect(self._on_process_stdout)
        self.process.readyReadStandardError.connect(self._on_process_stderr)
        self.process.finished.connect(self._on_process_finished)
        self.process.errorOccurred.connect(self._on_process_error)
        self.process.started.connect(self.started)

    # -- control ------------------------------------------------------------------------------------
    def start(self) -> None:
        self._add_log([f"$ {shell_line(self.args)}"])
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.process.start()

    def is_running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    @property
    def pid(self) -> int:
        return int(self.process.processId())

    def cancel(self) -> None:
        """Ask the job to stop cleanly (SIGTERM); it writes a checkpoint first."""
        if self.is_running():
            self.cancel_requested = True
            self._add_log(["(stop requested: finishing the current step, then writing a checkpoint)"])
            self.process.terminate()

    def kill(self) -> None:
        """End the job at once (SIGKILL to its process group)."""
        if not self.is_running():
            return
        self._killed = True
        pid = self.pid
        try:
            if sys.platform != "win32" and pid > 0 and os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
                return
        except ProcessLookupError:
            return  # it just ended; `finished` follows
        except PermissionError as e:
            self._add_log([f"could not kill the process group: {e}"])
        self.process.kill()

    def wait(self, msecs: int) -> bool:
        """Block until the process ends (the window is closing); True if it did."""
        return self.process.waitForFinished(msecs)

    # -- reading ------------------------------------------------------------------------------------
    def _add_log(self, lines: list[str]) -> None:
        if lines:
            self.log.extend(lines)
            self.log_received.emit(lines)

    def _handle(self, items) -> None:
        text = []
        for item in items:
            if isinstance(item, str):
                text.append(item)
                continue
            if isinstance(item, RunEnded):
                self.end = item
            elif isinstance(item, RunFailed):
                self.error = item
            self.event_received.emit(item)
        self._add_log(text)

    @Slot()
    def _on_process_stdout(self) -> None:
        self._handle(self._parser.feed(bytes(self.process.readAllStandardOutput())))

    @Slot()
    def _on_process_stderr(self, final: bool = False) -> None:
        chunk = self._stderr_tail + bytes(self.process.readAllStandardError())
        *lines, self._stderr_tail = chunk.split(b"\n")
        if final and self._stderr_tail:
            lines.append(self._stderr_tail)
            self._stderr_tail = b""
        self._add_log([s.decode("utf-8", errors="replace").rstrip("\r") for s in lines if s.strip()])

    @Slot(int, QProcess.ExitStatus)
    def _on_process_finished(self, code: int, exit_status: QProcess.ExitStatus) -> None:
        self._on_process_stdout()
        self._handle(self._parser.finish())
        self._on_process_stderr(final=True)
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        self._finish(self._outcome(None if crashed else code))

    @Slot(QProcess.ProcessError)
    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._finish(JobOutcome(self.run_dir, "failed", f"The training command could not start: "
                                    f"{self.process.errorString()}", None, last_lines=tuple(self.log)[-OUTCOME_LINES:]))

    def _finish(self, outcome: JobOutcome) -> None:
        if self._done:
            return
        self._done = True
        self._add_log([f"({outcome.status}: {outcome.message})"])
        self.finished.emit(outcome)

    def _outcome(self, code: int | None) -> JobOutcome:
        last = tuple(line for line in self.log if not line.startswith("$ "))[-OUTCOME_LINES:]
        make = lambda status, message: JobOutcome(self.run_dir, status, message, code, self.end,  # noqa: E731
                                                  self.error, last)
        if self._killed:
            return make("killed", "Killed: ended at once; the last checkpoint written before stays.")
        if self.error is not None:
            return make("failed", f"Failed ({self.error.kind.replace('_', ' ')}): {self.error.message}")
        if self.end is not None and self.end.status == "completed":
            return make("completed", f"Completed {self.end.step} steps in {self.end.elapsed_s:.0f} s.")
        if self.end is not None and self.end.status == "stopped":
            return make("stopped", f"Stopped at step {self.end.step} of {self.end.total_steps}; "
                                   "a checkpoint was written: resume continues from there.")
        if self.cancel_requested and code in (None, EXIT_STOPPED, 130, -signal.SIGTERM):
            return make("stopped", "Stopped before training began.")
        how = "was killed by a signal" if code is None else f"exited with code {code}"
        detail = f": {last[-1]}" if last else ""
        return make("failed", f"The training process {how} without reporting an end{detail}")
