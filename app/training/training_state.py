"""TrainingState (`state.training`): the fine-tuning side of AppState — the running job, the live
record of its run (curves, metrics), the run history, and the signals that say when any of it
changes. Widgets call its methods and subscribe to its signals; they never call each other.

A job trains on a snapshot: `start` deep-copies the document on the spot, a worker thread writes
the copy into RUN/data/, then the child process starts. Edits made meanwhile never reach the job,
and nothing the job does can reach the document. "Use this model" goes through the model dock's
own loading (`state.model.load`), then runs the model on the image on screen.
"""
from __future__ import annotations

from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer, Signal, Slot

from ..tasks import TaskRunner
from .background import start_detached
from .command import DataFiles, TrainOptions, resume_command, train_command
from .job import LOG_LINES, JobOutcome, TrainingJob
from .runs import RunRecord, apply_event, is_run_dir, read_run
from .snapshot import DataChoice, write_snapshot

KILL_AFTER_S = 20.0  # a stop taking longer than this offers Kill
MAX_RUNS = 50  # runs remembered in the history
_RUNS_KEY = "training/runs"


def run_folder_problem(run_dir: Path) -> str | None:
    """Why a folder cannot take a new run, or None."""
    if run_dir.exists() and not run_dir.is_dir():
        return f"{run_dir} is a file, not a folder."
    if is_run_dir(run_dir) or (run_dir / "checkpoint.pth").exists():
        return f"{run_dir} already holds a run: choose a new folder, or resume that run from the Runs list."
    return None


class TrainingState(QObject):
    status_changed = Signal(str)  # "idle" | "preparing" (writing the snapshot) | "running" | "stopping"
    job_started = Signal(str)  # run folder
    event_received = Signal(object)  # a detr_core.train.events.Event of the running job
    log_appended = Signal(list)  # new lines of the job's log
    job_finished = Signal(object)  # JobOutcome
    start_failed = Signal(str)  # one line: nothing was started
    kill_offered = Signal(bool)  # a stop is taking long: Kill is offered
    runs_changed = Signal()  # the history list changed
    selected_changed = Signal(object)  # RunRecord shown in the metrics table, or None
    overlays_changed = Signal()  # runs whose curves are drawn over the current ones
    detached = Signal(str, int)  # run folder, process id: the job continues in the background

    def __init__(self, state, parent: QObject | None = None):
        super().__init__(parent if parent is not None else state)
        self.state = state
        self.settings: QSettings | None = None
        self.status = "idle"
        self.job: TrainingJob | None = None
        self.record: RunRecord | None = None  # the run of the job (live), or the last one
        self.outcome: JobOutcome | None = None
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.runs: list[RunRecord] = []
        self.selected: RunRecord | None = None
        self.overlays: dict[str, RunRecord] = {}
        self.kill_after_s = KILL_AFTER_S
        self._pending: tuple[Path, TrainOptions] | None = None
        self._pending_model: str | None = None
        self._detach_when_stopped = False
        self._launched: list[str] = []  # the command of the last job
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._on_kill_timer_timeout)
        self.runner = TaskRunner(self)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.failed.connect(self._on_runner_failed)
        state.model.model_changed.connect(self._on_model_changed)
        state.model.load_failed.connect(self._on_model_load_failed)

    def use_settings(self, settings: QSettings) -> None:
        self.settings = settings
        value = settings.value(_RUNS_KEY, [])
        paths = [value] if isinstance(value, str) else list(value or [])
        self.runs = [read_run(Path(p), steps=False) for p in paths if Path(p).is_dir()]
        self.runs_changed.emit()

    # -- starting -------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.status != "idle"

    def start(self, run_dir: Path, options: TrainOptions, choice: DataChoice) -> bool:
        """Snapshot the annotations now, then start a new run in `run_dir`."""
        run_dir = Path(run_dir).absolute()
        doc = self.state.document
        problem = ("A job is already running." if self.busy else
                   "Open annotations first." if doc is None else run_folder_problem(run_dir))
        if problem:
            self.start_failed.emit(problem)
            return False
        data, image_root, source = doc.to_json(), doc.image_root, doc.label  # the snapshot: a deep copy
        self._pending = (run_dir, options)
        self._set_status("preparing")
        self.runner.start("snapshot", lambda: write_snapshot(data, image_root, choice, run_dir, source))
        return True

    @Slot(str, object)
    def _on_runner_finished(self, name: str, result) -> None:
        run_dir, options = self._pending
        files: DataFiles = result[0]
        self._launch(run_dir, train_command(run_dir, files, options), RunRecord(run_dir))

    @Slot(str, object)
    def _on_runner_failed(self, name: str, error: Exception) -> None:
        self._set_status("idle")
        self.start_failed.emit(f"Could not prepare the training data: {error}")

    def resume(self, run_dir: Path | None = None, epochs: int | None = None, device: str | None = None) -> bool:
        """Continue a stopped (or failed) run from its last checkpoint, in the same folder, on the
        device (and number of processes) it ran on unless `device` says otherwise."""
        record = read_run(run_dir) if run_dir is not None else self.resume_candidate()
        problem = ("A job is already running." if self.busy else
                   "No stopped run to resume: choose one in the Runs list." if record is None else
                   None if record.resumable or epochs else f"{record.name} cannot be resumed ({record.status}).")
        if problem:
            self.start_failed.emit(problem)
            return False
        device = device or record.device or "auto"
        self._launch(record.run_dir, resume_command(record.run_dir, device=device, epochs=epochs,
                                                    gpus=record.world_size), record)
        return True

    def resume_candidate(self) -> RunRecord | None:
        """The run Resume continues: the one selected in Runs, else the job's, if it can resume."""
        for record in ([self.selected] if self.selected else []) + ([self.record] if self.record else []):
            if record.resumable:
                return read_run(record.run_dir)
        return None

    def _launch(self, run_dir: Path, args: list[str], record: RunRecord) -> None:
        self.record, self.outcome, self._launched = record, None, list(args)
        self.log.clear()
        self.job = TrainingJob(run_dir, args, self)
        self.job.event_received.connect(self._on_job_event_received)
        self.job.log_received.connect(self._on_job_log_received)
        self.job.finished.connect(self._on_job_finished)
        self._remember_run(record)
        self._set_status("running")
        self.job_started.emit(str(run_dir))
        self.job.start()

    # -- while it runs --------------------------------------------------------------------------------
    @Slot(object)
    def _on_job_event_received(self, event) -> None:
        apply_event(self.record, event)
        self.event_received.emit(event)

    @Slot(list)
    def _on_job_log_received(self, lines: list) -> None:
        self.log.extend(lines)
        self.log_appended.emit(lines)

    def cancel(self) -> None:
        """Stop cleanly: the job finishes its step, writes a checkpoint and ends ("stopped")."""
        if self.job is None or self.status != "running":
            if self.status == "preparing":
                self.state.message.emit("The data is still being written; cancel once the job runs.")
            return
        self._set_status("stopping")
        self.job.cancel()
        self._kill_timer.start(int(self.kill_after_s * 1000))

    def kill(self) -> None:
        """End the job at once, without a checkpoint (for a job that does not stop)."""
        if self.job is not None and self.job.is_running():
            self.job.kill()

    @Slot()
    def _on_kill_timer_timeout(self) -> None:
        if self.job is not None and self.job.is_running():
            self.kill_offered.emit(True)

    @Slot(object)
    def _on_job_finished(self, outcome: JobOutcome) -> None:
        self._kill_timer.stop()
        self.kill_offered.emit(False)
        self.outcome = outcome
        record = self.record
        if outcome.status in ("failed", "killed") and record.status not in ("failed",):
            record.status, record.message = "failed", outcome.message
        self.job.deleteLater()
        self.job = None
        self._set_status("idle")
        self._replace_run(record)
        self.select_run(record)
        self.job_finished.emit(outcome)
        if self._detach_when_stopped:
            self._continue_detached(record, outcome)

    # -- leaving it running ---------------------------------------------------------------------------
    def continue_in_background(self) -> None:
        """The window is closing: stop the job cleanly, then continue it from its checkpoint as a
        background process that outlives the window (see background.py)."""
        self._detach_when_stopped = True
        self.cancel()

    def _continue_detached(self, record: RunRecord, outcome: JobOutcome) -> None:
        self._detach_when_stopped = False
        if outcome.status != "stopped":
            return  # completed or failed meanwhile: nothing to continue
        fresh = read_run(record.run_dir)
        if fresh.resumable:
            args = resume_command(record.run_dir, device=fresh.device or "auto", gpus=fresh.world_size, jsonl=False)
        else:  # stopped before its first checkpoint: start it again, in the background
            args = [a for a in self._launched if a != "--jsonl"]
        try:
            pid = start_detached(record.run_dir, args)
        except OSError as e:
            self.state.message.emit(str(e))
            return
        self.detached.emit(str(record.run_dir), pid)

    # -- the result -----------------------------------------------------------------------------------
    def use_model(self, record: RunRecord | None = None) -> bool:
        """Load the run's final weights (else its last checkpoint) into the detector; the image on
        screen is detected again with it."""
        record = record or self.selected or self.record
        path = record.model_path if record is not None else None
        if path is None:
            self.state.message.emit("No trained weights yet: run a fine-tune first.")
            return False
        self._pending_model = str(path)
        self.state.model.load(str(path))
        self.state.message.emit(f"Loading {path} …")
        return True

    @Slot(object)
    def _on_model_changed(self, info) -> None:
        if self._pending_model is not None and info.source == self._pending_model:
            self._pending_model = None
            self.state.message.emit(f"Using the fine-tuned model {info.source}")
            self.state.model.request_current(force=True)

    @Slot(str)
    def _on_model_load_failed(self, message: str) -> None:
        self._pending_model = None

    # -- history ----------------------------------------------------------------------------------------
    def select_run(self, record: RunRecord | None) -> None:
        if record is not None and not record.complete:  # its curves are wanted now
            record = read_run(record.run_dir)
            self.runs = [record if r.run_dir == record.run_dir else r for r in self.runs]
        self.selected = record
        self.selected_changed.emit(record)

    def add_run(self, run_dir: Path) -> bool:
        record = read_run(run_dir, steps=False)
        if record.status == "empty":
            self.state.message.emit(f"{run_dir}: not a training run (no metrics.jsonl).")
            return False
        self._remember_run(record)
        return True

    def remove_run(self, run_dir: Path) -> None:
        self.runs = [r for r in self.runs if r.run_dir != Path(run_dir)]
        self.set_overlay(Path(run_dir), False)
        self._save_runs()

    def refresh_runs(self) -> None:
        live = self.record.run_dir if self.job is not None else None
        self.runs = [r if r.run_dir == live else read_run(r.run_dir, steps=r.complete)
                     for r in self.runs if r.run_dir.is_dir()]
        self.runs_changed.emit()

    def set_overlay(self, run_dir: Path, on: bool) -> None:
        key = str(run_dir)
        if on and key not in self.overlays:
            self.overlays[key] = read_run(run_dir)
        elif not on and key in self.overlays:
            del self.overlays[key]
        else:
            return
        self.overlays_changed.emit()

    def _remember_run(self, record: RunRecord) -> None:
        self.runs = [record] + [r for r in self.runs if r.run_dir != record.run_dir]
        self._save_runs()

    def _replace_run(self, record: RunRecord) -> None:
        self.runs = [record if r.run_dir == record.run_dir else r for r in self.runs]
        self.runs_changed.emit()

    def _save_runs(self) -> None:
        self.runs = self.runs[:MAX_RUNS]
        if self.settings is not None:
            self.settings.setValue(_RUNS_KEY, [str(r.run_dir) for r in self.runs])
        self.runs_changed.emit()

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)

    def shutdown(self, wait_ms: int = 10_000) -> None:
        """The window is gone: a job still attached is stopped (cleanly if it can)."""
        self.runner.wait()
        if self.job is not None and self.job.is_running():
            self.job.cancel()
            if not self.job.wait(wait_ms):
                self.job.kill()
                self.job.wait(2000)
