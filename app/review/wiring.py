"""Puts the review queue into the window: Model ▸ Build Review Queue (Ctrl+Shift+F) scores the
saved labels with the model in use in a child process (`detr-workbench review --jsonl`); the
Review dock fills as each image's result arrives; selecting a finding shows its image; A takes
the model's fix (a new box, the model's box or its class: one undoable edit), D dismisses the
finding for this model (remembered beside the document), N goes to the next one. The dock's
Cross-fit… group runs the same review with K fold models trained in the background (each scores
the images it did not see); the latest fold line shows while they train."""
from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from detr_core.review.config import ReviewConfig

from .crossfit_form import CrossfitForm
from .dismissals import Dismissals
from .dock import ReviewWidget
from .job import ReviewJob
from .loop_recorder import LoopRecorder

KEYS = {Qt.Key.Key_A: "fix", Qt.Key.Key_D: "dismiss", Qt.Key.Key_N: "next"}


class _DockKeys(QObject):
    """A, D and N are also window keys (previous / next / next unreviewed image): inside the
    review list they belong to the list, so the window's shortcuts do not take them."""

    def __init__(self, panel: ReviewWidget):
        super().__init__(panel)
        self.panel = panel

    def eventFilter(self, watched, event) -> bool:
        if event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and \
                event.modifiers() == Qt.KeyboardModifier.NoModifier and event.key() in KEYS:
            event.accept()
            if event.type() == QEvent.Type.KeyPress:
                self.panel.actions[KEYS[event.key()]].trigger()
            return True
        return False


class ReviewUi(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window, self.state = window, window.state
        self.stack = QStackedWidget()
        self.hint = QLabel("Model ▸ Build Review Queue (Ctrl+Shift+F) ranks the images by where the model "
                           "and the labels disagree, with a reason for every flagged box.")
        self.hint.setWordWrap(True)
        self.stack.addWidget(self.hint)
        self.crossfit = CrossfitForm()
        self.crossfit.toggled.connect(self._on_crossfit_toggled)
        self.crossfit.start_requested.connect(self.start_crossfit)
        self.crossfit.cancel_requested.connect(self.cancel)
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.crossfit)
        self.dock = window.add_dock(content, "Review", Qt.DockWidgetArea.RightDockWidgetArea, "review")
        self.panel: ReviewWidget | None = None
        self.job: ReviewJob | None = None
        self.unlabelled_job: ReviewJob | None = None  # then the images the file has no record of
        self._out = Path(tempfile.mkdtemp(prefix="detr-review-")) / "findings.json"
        self._last_said = ""
        self.loop = LoopRecorder(window)  # what became of the accepted pre-labels, on each save
        window.actions["review_queue"].triggered.connect(lambda _checked=False: self.start())
        window.menu("&Model").addAction(window.actions["review_queue"])

    def start_crossfit(self, folds: int, options: str) -> bool:
        """The Cross-fit… group's Start: K fold models trained on the other folds, each scoring
        its held-out fold. Options that do not parse or more folds than images: one line, no run."""
        doc = self.state.document
        if doc is None or self.state.model.info is None:
            return self._crossfit_refused("Open annotations and load a model first: the queue compares them.")
        parsed = self.crossfit.parse(len(doc.images))
        if isinstance(parsed, str):
            return self._crossfit_refused(parsed)
        k, arguments = parsed
        if not self.start(folds=k, fold_train=shlex.join(arguments)):
            return self._crossfit_refused(self._last_said)
        self.crossfit.say(f"{k} folds: starting…")
        return True

    def _crossfit_refused(self, line: str) -> bool:
        self.crossfit.say(line, error=True)
        return self._say(line)

    def _on_crossfit_toggled(self, shown: bool) -> None:
        if shown and self.state.model.info is not None:
            self.crossfit.set_model_source(str(self.state.model.info.source))

    def start(self, folds: int | None = None, fold_train: str | None = None) -> bool:
        doc, model = self.state.document, self.state.model
        if doc is None or model.info is None:
            return self._say("Open annotations and load a model first: the queue compares them.")
        if doc.path is None or self.state.is_dirty():
            return self._say("Save first (Ctrl+S): the review queue scores the saved labels.")
        self._cancel_jobs()
        dismissals_path = doc.path.with_name(doc.path.name + ".dismissed.json")
        try:
            dismissals = Dismissals(dismissals_path)
        except Exception as e:  # noqa: BLE001 - the dismissals file is the user's; say so and go on
            self._say(str(e))
            dismissals = Dismissals()
        cfg = self.panel.settings.config() if self.panel is not None else ReviewConfig()  # "next run": this one
        if self.panel is not None:
            self.stack.removeWidget(self.panel)
            self.panel.deleteLater()
        self.panel = ReviewWidget(model.info.key, dismissals, doc.image_root)
        self.panel.settings.set_config(cfg)
        self.panel.tree.installEventFilter(_DockKeys(self.panel))
        self.panel.finding_selected.connect(self._on_panel_finding_selected)
        self.panel.fix_requested.connect(self._on_panel_fix_requested)
        self.panel.unlabelled_selected.connect(self._on_panel_unlabelled_selected)
        self.stack.addWidget(self.panel)
        self.stack.setCurrentWidget(self.panel)
        # a fresh folder for each cross-fit: a fold model of an earlier run is never reused
        fold_dir = tempfile.mkdtemp(prefix="folds-", dir=self._out.parent) if folds else None
        self.job = ReviewJob(model.info.source, self._out, json_path=doc.path, images=doc.image_root, cfg=cfg,
                             folds=folds, fold_train=fold_train, fold_dir=fold_dir, parent=self)
        self.job.progress.connect(self.crossfit.say)
        if folds:
            self.job.image_reviewed.connect(lambda _r, job=self.job: job is self.job and self.crossfit.say(
                f"{folds} folds trained: scoring the held-out images…"))
            self.job.finished.connect(lambda out: self.crossfit.say(f"cross-fitted review ready ({out})"))
            self.job.failed.connect(lambda message: self.crossfit.say(message, error=True))
        for row in self.state.images.clear_review_scores():  # blank until each result arrives
            self.state.image_changed.emit(row)
        self.job.described.connect(self.panel.describe)
        self.job.image_reviewed.connect(self._on_job_image_reviewed)
        self.job.image_reviewed.connect(self.panel.add_review)
        self.job.finished.connect(self._on_job_finished)
        self.job.failed.connect(self.panel.show_failure)
        self.job.failed.connect(lambda message: self._say(f"Review: {message}"))
        self.job.start()
        self.dock.show()
        self.dock.raise_()
        self._say(f"Training {folds} fold models in the background, then scoring…" if folds else
                  "Scoring the images in the background…")
        return True

    def refresh(self) -> None:
        """Score again with the model in use (the one-click loop calls this)."""
        if self.state.document is not None and self.state.document.path is not None and not self.state.is_dirty():
            self.start()

    def cancel(self) -> None:
        """Stop the review (and a cross-fit's fold training) that is running."""
        if any(j.process.state() != j.process.ProcessState.NotRunning for j in self._cancel_jobs()):
            self.crossfit.say("cancelled")
            self._say("Review cancelled.")

    def shutdown(self) -> None:
        """The window closes: a running review child process ends with it."""
        for job in self._cancel_jobs():
            job.process.waitForFinished(5000)

    def _cancel_jobs(self) -> list[ReviewJob]:
        jobs = [j for j in (self.job, self.unlabelled_job) if j is not None]
        for job in jobs:
            job.cancel()
        self.unlabelled_job = None
        return jobs

    def _on_job_finished(self, path: str) -> None:
        """The labelled queue is ready; the listed images the file has no record of are ranked
        next by the model's doubt (the Unlabelled tab), in a second child process."""
        images = [e.path for e in self.state.images if e.image_id is None and e.error is None]
        if not images or self.panel is None or self.state.model.info is None:
            self._say(f"Review queue ready ({path}).")
            return
        listing = self._out.with_name("unlabelled.txt")
        listing.write_text("".join(p + "\n" for p in images), encoding="utf-8")  # a line a path: small
        job = self.unlabelled_job = ReviewJob(self.state.model.info.source, self._out.with_name("unlabelled.json"),
                                              image_list=listing, cfg=self.panel.settings.config(), parent=self)
        panel = self.panel
        job.image_reviewed.connect(panel.add_review)
        job.finished.connect(lambda out: (panel.rank_unlabelled(job.cfg),
                                          self._say(f"Review queue ready ({path}); unlabelled images ranked ({out}).")))
        job.failed.connect(lambda message: self._say(f"Review of the unlabelled images: {message}"))
        job.start()
        self._say(f"Review queue ready ({path}); ranking {len(images)} unlabelled image(s)…")

    def _say(self, text: str) -> bool:
        self._last_said = text
        self.state.message.emit(text)
        return False

    def _row(self, review) -> int | None:
        return self.state.images.row_of_image(review.image_id) if review.image_id is not None else None

    def _on_job_image_reviewed(self, review) -> None:
        """The image list's Review column fills as each image's result arrives."""
        row = self._row(review)
        if row is not None:
            self.state.images.set_review_score(row, review.score if review.status == "scored" else None)
            self.state.image_changed.emit(row)  # its row in the image list

    def _on_panel_finding_selected(self, review, finding) -> None:
        row = self._row(review)
        if row is not None:
            if row != self.state.current_row:
                self.state.go_to(row)
            if finding is not None and finding.annotation_id is not None:
                self.state.set_selection([finding.annotation_id])
            if finding is not None and finding.query is not None:
                self._show_query(finding.query)

    def _show_query(self, query: int) -> None:
        """The query behind the finding, selected in the attention dock's query list (its class
        scores) with its cross-attention over the image (the heatmap, decoder mode). The query
        list keeps the selection while the image's detections arrive."""
        view = self.state.model.prediction_view
        if not view.view.visible or view.view.mode != "decoder":
            view.set_view(visible=True, mode="decoder")
        view.select_query(query)

    def _on_panel_unlabelled_selected(self, review) -> None:
        row = self.state.row_of_path(review.file_name)
        if row is not None and row != self.state.current_row:
            self.state.go_to(row)

    def _on_panel_fix_requested(self, review, finding) -> None:
        row = self._row(review)
        doc = self.state.document
        if row is None or doc is None:
            return
        x0, y0, x1, y1 = finding.model_box
        box = [x0, y0, x1 - x0, y1 - y0]  # COCO xywh
        category = doc.category_by_name(finding.model_class) if finding.model_class else None
        edits = self.state.edits
        if finding.annotation_id is None:  # a missing box: add the model's
            if category is None:
                self._say(f"The file has no class {finding.model_class!r}: add it first, or map the classes.")
                return
            edits.add_boxes(row, [(category["id"], box)], "Add the model's box")
        elif finding.kind == "wrong_class" and category is not None:
            edits.set_boxes_category(row, [finding.annotation_id], category["id"])
        else:
            edits.set_bboxes(row, {finding.annotation_id: box})


def install_review_ui(window) -> ReviewUi:
    return ReviewUi(window)
