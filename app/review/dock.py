"""`ReviewWidget`: the review queue as a dock. Images ordered by score (a sortable column), each
flagged box below its image with its reason; selecting a finding shows the label's box and the
model's box side by side; one key each to take the model's fix (A), dismiss the finding (D) and
go to the next (N). Dismissals are remembered per annotation and model (dismissals.py). Every
threshold is shown with its default (the Settings group) and is what the next run uses.

The widget never edits annotations: `fix_requested(ImageReview, Finding)` asks the document to
apply the model's box / class / new box; `finding_selected(ImageReview, Finding)` asks the canvas
to show it."""
from __future__ import annotations

import bisect
import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox,
                               QTabWidget, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from detr_core.review.config import ReviewConfig
from detr_core.review.finding import Finding
from detr_core.review.queue import ImageReview, ReviewQueue

from .dismissals import Dismissals, finding_key

ROLE = Qt.ItemDataRole.UserRole
LABEL_COLOUR, MODEL_COLOUR = QColor(255, 170, 0), QColor(0, 200, 255)


class _ScoreItem(QTreeWidgetItem):
    """Sorts the score column by number."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        column = self.treeWidget().sortColumn() if self.treeWidget() else 0
        if column == 1:
            return float(self.data(1, ROLE) or 0.0) < float(other.data(1, ROLE) or 0.0)
        return super().__lt__(other)


class ReviewWidget(QWidget):
    finding_selected = Signal(object, object)  # ImageReview, Finding
    unlabelled_selected = Signal(object)  # ImageReview of an unlabelled image (the Unlabelled tab)
    fix_requested = Signal(object, object)  # ImageReview, Finding: take the model's box / class / new box
    dismissed = Signal(object, object)  # ImageReview, Finding

    def __init__(self, model: str, dismissals: Dismissals | None = None, image_root=None, parent=None):
        super().__init__(parent)
        self.model = model
        self.dismissals = dismissals if dismissals is not None else Dismissals()
        self.image_root = image_root
        self.notice = QLabel("")  # what the queue is: honesty, class mapping; or why there is none
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Image / finding", "Score"])
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.tree.currentItemChanged.connect(self._on_tree_current_item_changed)
        self.unlabelled = QTreeWidget()  # images the file has no record of, by the model's doubt
        self.unlabelled.setHeaderLabels(["Unlabelled image", "Doubt"])
        self.unlabelled.setRootIsDecorated(False)
        self.unlabelled.currentItemChanged.connect(self._on_unlabelled_current_item_changed)
        self._unlabelled: list[ImageReview] = []
        self.tabs = QTabWidget()
        self.tabs.addTab(self.tree, "Findings")
        self.tabs.addTab(self.unlabelled, "Unlabelled")
        self.label_view, self.model_view = QLabel("label"), QLabel("model")
        for view in (self.label_view, self.model_view):
            view.setAlignment(Qt.AlignmentFlag.AlignCenter)
            view.setMinimumSize(120, 120)
        self.query_info = QLabel("")  # the DETR query behind the selected finding
        self.query_info.setWordWrap(True)
        self.query_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        pair = QHBoxLayout()
        pair.addWidget(self.label_view)
        pair.addWidget(self.model_view)
        self.settings = _SettingsBox()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.notice)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(pair)
        layout.addWidget(self.query_info)
        layout.addWidget(self.settings)
        self.actions = {}
        for name, text, key, slot in (("fix", "Take the model's fix", "A", self.take_fix),
                                      ("dismiss", "Dismiss the finding", "D", self.dismiss_current),
                                      ("next", "Next finding", "N", self.next_finding)):
            action = QAction(text, self, shortcut=QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
            self.actions[name] = action

    # -- filling ------------------------------------------------------------------------------------
    @Slot(dict)
    def describe(self, queue: dict) -> None:
        """What the queue is (ReviewJob.described): in- or out-of-sample, and how the model's
        classes were mapped to the file's when they are not the same."""
        honesty = queue.get("honesty") or {}
        lines = [f"{honesty.get('status', 'unknown')}: {honesty.get('detail', '')}".rstrip(": ")]
        if queue.get("class_mapping"):
            lines.append(queue["class_mapping"])
        self._show_notice("\n".join(lines), error=False)

    @Slot(str)
    def show_failure(self, message: str) -> None:
        """The review could not run (ReviewJob.failed): its one line, where the queue would be."""
        self._show_notice(message, error=True)

    def _show_notice(self, text: str, error: bool) -> None:
        self.notice.setText(text)
        self.notice.setStyleSheet("color: #c0392b;" if error else "")
        self.notice.show()

    @Slot(object)
    def add_review(self, review: ImageReview) -> None:
        """One image's review (from ReviewJob.image_reviewed): its undismissed findings below it.
        A later review of the same image replaces the earlier one."""
        if review.status != "scored":
            return
        if review.uncertainty is not None:
            self._add_unlabelled(review)
            return
        for i in range(self.tree.topLevelItemCount()):
            if self.tree.topLevelItem(i).text(0) == review.file_name:
                self.tree.takeTopLevelItem(i)
                break
        findings = [f for f in review.findings if finding_key(self.model, review.file_name, f) not in self.dismissals]
        item = _ScoreItem([review.file_name, f"{review.score:.2f}"])
        item.setData(0, ROLE, (review, None))
        item.setData(1, ROLE, review.score)
        for f in findings:
            child = _ScoreItem([f.reason, f"{f.score:.2f}"])
            child.setData(0, ROLE, (review, f))
            child.setData(1, ROLE, f.score)
            child.setToolTip(0, f"{f.kind}; query {f.query}" if f.query is not None else f.kind)
            item.addChild(child)
        self.tree.addTopLevelItem(item)
        item.setExpanded(True)

    def rank_unlabelled(self, cfg: ReviewConfig = ReviewConfig()) -> None:
        """The unlabelled ranking is complete: the queue's order, near-duplicates spread out (an
        image like a higher-ranked one waits for the next round)."""
        self._fill_unlabelled(ReviewQueue("unlabelled", config=cfg, images=list(self._unlabelled)).ranked())

    def _add_unlabelled(self, review: ImageReview) -> None:
        """While results arrive: by score, each inserted in its place (no refill per image)."""
        if any(r.file_name == review.file_name for r in self._unlabelled):  # reviewed again
            self._unlabelled = [r for r in self._unlabelled if r.file_name != review.file_name]
            self._fill_unlabelled(sorted(self._unlabelled, key=lambda r: -r.score))
        scores = [-r.score for r in self._unlabelled]
        at = bisect.bisect_right(scores, -review.score)
        self._unlabelled.insert(at, review)
        self.unlabelled.insertTopLevelItem(at, _unlabelled_item(review))
        self.tabs.setTabText(1, f"Unlabelled ({len(self._unlabelled)})")

    def _fill_unlabelled(self, reviews: list[ImageReview]) -> None:
        self._unlabelled = list(reviews)
        self.unlabelled.clear()
        self.unlabelled.addTopLevelItems([_unlabelled_item(r) for r in reviews])
        self.tabs.setTabText(1, f"Unlabelled ({len(reviews)})")

    def unlabelled_images(self) -> list[str]:
        """The unlabelled images' file names, in the order shown."""
        return [self.unlabelled.topLevelItem(i).data(0, ROLE).file_name
                for i in range(self.unlabelled.topLevelItemCount())]

    def images(self) -> list[str]:
        """Image file names in the order shown."""
        return [self.tree.topLevelItem(i).text(0) for i in range(self.tree.topLevelItemCount())]

    def current(self) -> tuple[ImageReview | None, Finding | None]:
        item = self.tree.currentItem()
        return item.data(0, ROLE) if item is not None else (None, None)

    # -- the keys -----------------------------------------------------------------------------------
    @Slot()
    def take_fix(self) -> None:
        review, finding = self.current()
        if finding is not None and finding.model_box is not None:
            self.fix_requested.emit(review, finding)
            self._remove_current()

    @Slot()
    def dismiss_current(self) -> None:
        review, finding = self.current()
        if finding is None:
            return
        self.dismissals.add(finding_key(self.model, review.file_name, finding))
        self.dismissed.emit(review, finding)
        self._remove_current()

    @Slot()
    def next_finding(self) -> None:
        findings = [self.tree.topLevelItem(i).child(j) for i in range(self.tree.topLevelItemCount())
                    for j in range(self.tree.topLevelItem(i).childCount())]
        if not findings:
            return
        current = self.tree.currentItem()
        position = findings.index(current) + 1 if current in findings else 0
        if current is not None and current.parent() is None:  # on an image: its first finding
            position = next((k for k, f in enumerate(findings) if f.parent() is current), 0)
        self.tree.setCurrentItem(findings[min(position, len(findings) - 1)])

    def _remove_current(self) -> None:
        item = self.tree.currentItem()
        parent = item.parent()
        below = self.tree.itemBelow(item)
        parent.removeChild(item)
        if below is not None and below.parent() is not None:
            self.tree.setCurrentItem(below)
        else:
            self.tree.setCurrentItem(parent)

    # -- showing ------------------------------------------------------------------------------------
    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_tree_current_item_changed(self, item, _previous) -> None:
        if item is None:
            return
        review, finding = item.data(0, ROLE)
        if finding is None:
            return
        self._show_pair(review, finding)
        self.query_info.setText(query_text(finding))
        self.finding_selected.emit(review, finding)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_unlabelled_current_item_changed(self, item, _previous) -> None:
        if item is not None:
            self.unlabelled_selected.emit(item.data(0, ROLE))

    def _show_pair(self, review: ImageReview, finding: Finding) -> None:
        """The label's box and the model's box, each drawn on a crop around both."""
        path = Path(self.image_root or ".") / review.file_name
        image = QImage(str(path))
        boxes = [b for b in (finding.label_box, finding.model_box) if b is not None]
        if image.isNull() or not boxes:
            self.label_view.setText(finding.label_class or "no label")
            self.model_view.setText(finding.model_class or "no prediction")
            return
        x0 = max(0, min(b[0] for b in boxes) - 10)
        y0 = max(0, min(b[1] for b in boxes) - 10)
        x1 = min(image.width(), max(b[2] for b in boxes) + 10)
        y1 = min(image.height(), max(b[3] for b in boxes) + 10)
        crop = image.copy(int(x0), int(y0), max(1, int(x1 - x0)), max(1, int(y1 - y0)))
        for view, box, colour, text in ((self.label_view, finding.label_box, LABEL_COLOUR, finding.label_class),
                                        (self.model_view, finding.model_box, MODEL_COLOUR, finding.model_class)):
            pixmap = QPixmap.fromImage(crop)
            if box is not None:
                painter = QPainter(pixmap)
                painter.setPen(QPen(colour, 2))
                painter.drawRect(int(box[0] - x0), int(box[1] - y0), int(box[2] - box[0]), int(box[3] - box[1]))
                painter.end()
            view.setPixmap(pixmap.scaled(160, 160, Qt.AspectRatioMode.KeepAspectRatio))
            view.setToolTip(text or "")


def _unlabelled_item(r: ImageReview) -> QTreeWidgetItem:
    item = QTreeWidgetItem([Path(r.file_name).name, f"{r.score:.2f}"])
    item.setData(0, ROLE, r)
    terms = ", ".join(f"{k} {v:.2f}" for k, v in (r.uncertainty or {}).items())
    like = f"\nlike {Path(r.near_duplicate_of).name}, ranked higher" if r.near_duplicate_of else ""
    item.setToolTip(0, f"{r.file_name}\nthe model's doubt: {terms}{like}")
    return item


def query_text(finding: Finding) -> str:
    """The query behind a finding in one line: its index, its most likely outcomes, the entropy of
    its whole class distribution and its spread across the decoder layers."""
    if finding.query is None:
        return "no DETR query behind this finding (the labels disagree with each other)"
    top = ", ".join(f"{name} {p:.2f}" for name, p in finding.top_classes)
    parts = [f"query {finding.query}: {top}" if top else f"query {finding.query}"]
    if finding.query_entropy is not None:
        parts.append(f"entropy {finding.query_entropy:.2f}")
    if finding.layer_class_spread is not None:
        parts.append(f"layer spread: class {finding.layer_class_spread:.2f}, box {finding.layer_box_spread:.3f}")
    return " · ".join(parts)


class _SettingsBox(QGroupBox):
    """Every ReviewConfig field with its default; `config()` is what the next run uses."""

    def __init__(self):
        super().__init__("Settings (next run)")
        self.setCheckable(True)
        self.setChecked(False)  # folded away until asked for
        form = QFormLayout(self)
        self.editors = {}
        for f in dataclasses.fields(ReviewConfig):
            if isinstance(f.default, int) and not isinstance(f.default, bool):
                editor = QSpinBox(maximum=64, value=f.default)
            else:
                editor = QDoubleSpinBox(decimals=3, maximum=10.0, singleStep=0.05, value=f.default)
            editor.setToolTip(f"default {f.default}")
            form.addRow(f.name.replace("_", " "), editor)
            self.editors[f.name] = editor

    def set_config(self, cfg: ReviewConfig) -> None:
        for name, editor in self.editors.items():
            editor.setValue(getattr(cfg, name))

    def config(self) -> ReviewConfig:
        return ReviewConfig(**{name: type(getattr(ReviewConfig, name))(e.value()) for name, e in self.editors.items()})
