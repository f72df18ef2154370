"""SteadyLabelWidget: a few lines of text in a box whose size never follows the text.

A QLabel asks its layout for room again on every new text (QWidget::updateGeometry), and a
word-wrapped one has its whole dock laid out anew: a label in the Model panel and the hint above
the query table did so on every image shown, 1-3 ms of GUI time per image while the model ran
(bench_model_gui --explain, issue 17 item 11). This one reserves `lines` lines once; a new text
only repaints it. Text that does not fit is elided, and the whole text is then its tooltip.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

_WRAP = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap)


class SteadyLabelWidget(QWidget):
    def __init__(self, lines: int = 1, role: QPalette.ColorRole = QPalette.ColorRole.WindowText, parent=None):
        super().__init__(parent)
        self._lines = lines
        self._text = ""
        self._shown = ""  # the text as painted: elided when it does not fit
        self.setForegroundRole(role)
        policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # the dock sets the width
        # Height-for-width, as a word-wrapped QLabel has: a dock's scroll area then sizes the panel
        # by its preferred height and scrolls (window_layout.py), instead of squeezing the lists.
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (QLabel's name: a drop-in for one)
        if text != self._text:
            self._text = text
            self._fit()
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(0, self._lines * self.fontMetrics().lineSpacing())

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt's name)
        return self.sizeHint().height()  # whatever the width: the text is elided, not rewrapped

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # the one change that alters its height
            self.updateGeometry()
            self._fit()

    def _fit(self) -> None:
        """Elide the last line that fits; the tooltip holds the whole text only when cut."""
        metrics, width = self.fontMetrics(), max(self.width(), 1)
        box = QRect(0, 0, width, 1 << 20)
        if metrics.boundingRect(box, _WRAP, self._text).height() <= self._lines * metrics.lineSpacing():
            self._shown = self._text
        else:
            words, kept = self._text.split(), []
            for word in words:  # the longest run of whole words that wraps into lines - 1 ...
                trial = " ".join(kept + [word])
                if metrics.boundingRect(box, _WRAP, trial).height() > (self._lines - 1) * metrics.lineSpacing():
                    break
                kept.append(word)
            rest = " ".join(words[len(kept):])  # ... and the rest elided on the last line
            last = metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width)
            self._shown = (" ".join(kept) + "\n" + last) if kept else last
        tip = "" if self._shown == self._text else self._text
        if tip != self.toolTip():
            self.setToolTip(tip)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.rect(), _WRAP, self._shown)
        painter.end()
