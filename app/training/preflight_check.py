"""PreflightCheck: `detr-workbench preflight --json` on the snapshot a run would train on, off the
GUI thread, for the fine-tune dialog.

    check.start(key, data, image_root, choice, options, overfit=True)
    check.finished -> PreflightResult (passed | errors | failed | cancelled)

The snapshot is written exactly as a run writes its own (snapshot.write_snapshot, on a worker
thread) into a temporary folder, deleted when the check ends; then the preflight runs as a child
process (QProcess), the same command line the train command's --preflight runs in-process. It
imports torch and trains a few dozen steps, so a crash or a hang there never reaches the window;
Cancel kills it (it writes nothing). `key` is the caller's description of the form the check was
made for: a result only stands for that form.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal, Slot

from detr_core.cli.preflight import EXIT_FINDINGS
from detr_core.train.finding import Finding

from ..tasks import TaskRunner
from .command import DataFiles, TrainOptions, preflight_command
from .job import child_environment
from .snapshot import DataChoice, write_snapshot


@dataclass(frozen=True)
class PreflightResult:
    key: object  # the form it was made for
    status: str  # "passed" (no errors) | "errors" | "failed" (the check itself) | "cancelled"
    findings: tuple[Finding, ...] = ()
    message: str = ""  # "failed": one line naming the file and the problem

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def measured(self) -> dict | None:
        """The one-batch overfit's numbers (seconds_per_step, images_per_step), if it ran."""
        return next((f.measured for f in self.findings if f.measured), None)


def parse_findings(text: str) -> list[Finding]:
    """The JSON findings among the command's stdout lines (other lines are skipped)."""
    out = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and {"severity", "check", "message"} <= item.keys():
            out.append(Finding(item["severity"], item["check"], item["message"], item.get("measured")))
    return out


def failure_line(code: int | None, stderr: str, program: str) -> str:
    """One line for a check that could not run: the command's own last line (it names the file)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if lines:
        return lines[-1]
    return f"{program}: the preflight " + ("was killed by a signal" if code is None else f"exited with code {code}")


class PreflightCheck(QObject):
    started = Signal()
    finished = Signal(object)  # PreflightResult

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = TaskRunner(self)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.failed.connect(self._on_runner_failed)
        self.process: QProcess | None = None
        self.result: PreflightResult | None = None  # the last one that ran to its end
        self._key = None
        self._args: list[str] = []
        self._folder: Path | None = None
        self._task = 0  # the snapshot task now wanted (an older one that ends late is dropped)

    def is_running(self) -> bool:
        return self._key is not None

    def result_for(self, key) -> PreflightResult | None:
        return self.result if self.result is not None and self.result.key == key else None

    def start(self, key, data: dict, image_root: Path, choice: DataChoice, options: TrainOptions,
              overfit: bool = True) -> None:
        """Check the data `data` (a copy nobody edits) as a run with `options` would use it."""
        self.cancel(emit=False)
        self._key, self._task = key, self._task + 1
        self._folder = Path(tempfile.mkdtemp(prefix="detr-preflight-"))
        folder = self._folder
        self._options, self._overfit = options, overfit
        self.started.emit()
        self.runner.start(f"preflight-snapshot-{self._task}",
                          lambda: write_snapshot(data, image_root, choice, folder, "preflight"))

    def cancel(self, emit: bool = True) -> None:
        if self._key is None:
            return
        key = self._key
        self._key = None
        if self.process is not None:
            self.process.finished.disconnect(self._on_process_finished)
            self.process.kill()
            self.process.waitForFinished(5000)
            self.process.deleteLater()
            self.process = None
        self._cleanup()
        if emit:
            self.finished.emit(PreflightResult(key, "cancelled"))

    def shutdown(self) -> None:
        """The dialog is closing: nothing may outlive it."""
        self.cancel(emit=False)
        self.runner.wait()

    # -- the steps ----------------------------------------------------------------------------------
    def _current(self, name: str) -> bool:
        return self._key is not None and name == f"preflight-snapshot-{self._task}"

    @Slot(str, object)
    def _on_runner_finished(self, name: str, result) -> None:
        if not self._current(name):
            shutil.rmtree(result[0].train_json.parent.parent, ignore_errors=True)
            return
        files: DataFiles = result[0]
        self._args = preflight_command(files, self._options, overfit=self._overfit)
        self.process = QProcess(self)
        self.process.setProgram(self._args[0])
        self.process.setArguments(self._args[1:])
        environment = QProcessEnvironment()
        for k, v in child_environment().items():
            environment.insert(k, v)
        self.process.setProcessEnvironment(environment)
        self.process.finished.connect(self._on_process_finished)
        self.process.errorOccurred.connect(self._on_process_error)
        self.process.start()

    @Slot(str, object)
    def _on_runner_failed(self, name: str, error: Exception) -> None:
        if self._current(name):
            self._finish("failed", message=f"Could not prepare the data for the preflight: {error}")

    @Slot(int, QProcess.ExitStatus)
    def _on_process_finished(self, code: int, exit_status: QProcess.ExitStatus) -> None:
        out = bytes(self.process.readAllStandardOutput()).decode("utf-8", errors="replace")
        err = bytes(self.process.readAllStandardError()).decode("utf-8", errors="replace")
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        findings = tuple(parse_findings(out))
        if not crashed and code in (0, EXIT_FINDINGS) and (findings or code == 0):
            self._finish("passed" if code == 0 else "errors", findings)
        else:
            self._finish("failed", findings, failure_line(None if crashed else code, err, "detr-workbench preflight"))

    @Slot(QProcess.ProcessError)
    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._key is not None:
            self._finish("failed", message=f"{self._args[0]}: the preflight could not start: "
                                           f"{self.process.errorString()}")

    def _finish(self, status: str, findings: tuple = (), message: str = "") -> None:
        key = self._key
        self._key = None
        if self.process is not None:
            self.process.deleteLater()
            self.process = None
        self._cleanup()
        self.result = PreflightResult(key, status, tuple(findings), message)
        self.finished.emit(self.result)

    def _cleanup(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)  # a few small JSON files
            self._folder = None
