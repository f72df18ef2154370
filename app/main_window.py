"""MainWindow: puts the canvas, docks, menus, toolbar and status bar together; owns no data.

Seams for later docks (model, training):
    dock = window.add_dock(widget, "Model", Qt.RightDockWidgetArea, "model")  # listed in View
    window.menu("&Model").addAction(action)       # a new top-level menu, before Help
    window.canvas.layer("heatmap") / ("predictions") / window.canvas.add_layer(name, z)
    window.state (AppState): current image, selection, status; window.state.edits: undoable edits
MainWindow composes the parts: AppState, the model side (`window.model`, app/model/) and the
training side (`window.training`, app/training/), whose widgets are installed through these seams
by `install_model_ui` and `install_training_ui`.
"""
from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QMessageBox, QToolBar, QWidget

from .actions import build_actions
from .canvas import CanvasWidget
from .compare.wiring import install_compare_ui
from .review.wiring import install_review_ui
from .classes_dock import ClassesWidget
from .document.file_flows import FileFlows
from .document.session import AUTOSAVE_SECONDS, DocumentSession
from .export_model import install_export_action
from .icons import icon
from .image_list import ImageListWidget
from .model.model_state import ModelState
from .model.wiring import install_model_ui
from .recent import RecentItems
from .shortcut_sheet import ShortcutSheetDialog
from .state import AppState
from .status_bar import StatusBarWidget
from .training.training_state import TrainingState
from .training.wiring import install_training_ui
from .window_layout import fit_to_screen, scrollable

APP_NAME = "DETR Workbench"
_DOC_ACTIONS = ("save", "save_as", "close_document", "draw_box", "change_class", "duplicate", "delete",
                "select_all", "next_image", "previous_image", "next_unreviewed", "mark_reviewed",
                "zoom_in", "zoom_out", "zoom_fit", "zoom_100")
_TOOLBAR = ("open_folder", "open_json", "save", None, "undo", "redo", None, "draw_box", "change_class",
            "delete", None, "previous_image", "next_image", "next_unreviewed", "mark_reviewed", None,
            "zoom_fit", "zoom_100", "toggle_boxes")


class _Docks(NamedTuple):
    images: QDockWidget
    classes: QDockWidget


class MainWindow(QMainWindow):
    def __init__(self, state: AppState | None = None, settings: QSettings | None = None,
                 autosave_seconds: float = AUTOSAVE_SECONDS, load_model: bool = True):
        """`load_model=False`: do not load the remembered (or the bundled demo) model at start."""
        super().__init__()
        self.settings = settings or QSettings("DETR Workbench", "DETR Workbench")
        self.state = state or AppState(parent=self)
        self._setup_sides()
        self.session = DocumentSession(self.state, self.settings, autosave_seconds, parent=self)
        self._close_confirmed = False
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self._setup_canvas()
        self._setup_docks()
        self._setup_actions()
        self._setup_menus()
        self._setup_toolbar()
        self._setup_status_bar()
        self.flows = FileFlows(self, self.state, self.session, self.recent)
        self._connect_actions()
        self._connect_state()
        install_export_action(self)  # File > Export Model... (ONNX)
        self.model_ui = install_model_ui(self, autoload=load_model)  # Model / Attention docks, canvas layers, Model menu
        self.training_ui = install_training_ui(self)  # Training dock, Train menu, close guard
        self.compare_ui = install_compare_ui(self)  # Compare dock, Train > Compare Models
        self.review_ui = install_review_ui(self)  # Review dock, Model > Build Review Queue
        fit_to_screen(self)  # down to 1366×768; a saved geometry wins
        self._restore_settings()
        self._on_state_document_opened()

    # -- set-up -----------------------------------------------------------------------------------
    def _setup_sides(self) -> None:
        """The model and training sides, over the same AppState (which builds neither); their
        widgets reach them as state.model / state.training."""
        self.model = self.state.model = ModelState(self.state)
        self.training = self.state.training = TrainingState(self.state)  # follows state.model

    def _setup_canvas(self) -> None:
        self.canvas = CanvasWidget(self.state, self)
        self.setCentralWidget(self.canvas)

    def _setup_docks(self) -> None:
        self.view_panels = QMenu("&Panels", self)
        self.image_list = ImageListWidget(self.state)
        self.classes = ClassesWidget(self.state)
        self.docks = _Docks(self.add_dock(self.image_list, "Images", Qt.DockWidgetArea.LeftDockWidgetArea, "images"),
                            self.add_dock(self.classes, "Classes", Qt.DockWidgetArea.RightDockWidgetArea, "classes"))
        self.resizeDocks(list(self.docks), [280, 300], Qt.Orientation.Horizontal)
        # The right-hand column (Classes, Attention, Model) runs the window's full height; the
        # bottom docks (Training, Compare) stop at it: on a 768 px screen the Model panel has room.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

    def _setup_actions(self) -> None:
        self.actions = build_actions(self)
        for action in self.actions.values():
            self.addAction(action)  # shortcuts work even when a menu item is hidden

    def _setup_menus(self) -> None:
        bar, a = self.menuBar(), self.actions
        self.menus: dict[str, QMenu] = {}
        file = self.menu("&File")
        file.addActions([a["open_image"], a["open_folder"], a["open_json"]])
        self.recent = RecentItems(self.settings, file.addMenu("Open &Recent"), self)
        file.addSeparator()
        file.addActions([a["save"], a["save_as"], a["close_document"]])
        file.addSeparator()
        file.addAction(a["quit"])
        edit = self.menu("&Edit")
        edit.addActions([a["undo"], a["redo"]])
        edit.addSeparator()
        edit.addActions([a["draw_box"], a["change_class"], a["duplicate"], a["delete"], a["select_all"]])
        edit.addMenu("Set Class").addActions([a[f"class_{n}"] for n in range(1, 10)])
        view = self.menu("&View")
        view.addActions([a["zoom_in"], a["zoom_out"], a["zoom_fit"], a["zoom_100"]])
        view.addSeparator()
        view.addActions([a["toggle_boxes"], a["toggle_labels"]])
        view.addMenu(self.view_panels)
        self.menu("&Go").addActions([a["previous_image"], a["next_image"], a["next_unreviewed"],
                                     a["mark_reviewed"], a["advance_after_review"]])
        self.menu("&Help").addActions([a["shortcuts"], a["about"]])
        bar.setNativeMenuBar(False)

    def _setup_toolbar(self) -> None:
        toolbar = QToolBar("Tools", self)
        toolbar.setObjectName("toolbar")
        for name in _TOOLBAR:
            toolbar.addSeparator() if name is None else toolbar.addAction(self.actions[name])
        self.addToolBar(toolbar)
        self.view_panels.addAction(toolbar.toggleViewAction())

    def _setup_status_bar(self) -> None:
        self.status_bar = StatusBarWidget(self.state, self)
        self.setStatusBar(self.status_bar)
        self.canvas.zoom_changed.connect(self.status_bar.on_canvas_zoom_changed)
        self.canvas.cursor_moved.connect(self.status_bar.on_canvas_cursor_moved)
        self.canvas.box_size_changed.connect(self.status_bar.on_canvas_box_size_changed)

    def _connect_actions(self) -> None:
        a, s, c, f = self.actions, self.state, self.canvas, self.flows
        handlers = {
            "open_image": f.open_image, "open_folder": f.open_folder, "open_json": f.open_json,
            "save": f.save, "save_as": f.save_as, "close_document": f.close_document, "quit": self.close,
            "undo": s.undo_stack.undo, "redo": s.undo_stack.redo, "draw_box": c.start_drawing,
            "change_class": c.change_class, "duplicate": lambda: s.edits.duplicate_boxes(s.current_row, s.selection),
            "delete": lambda: s.edits.delete_boxes(s.current_row, s.selection),
            "select_all": lambda: s.set_selection(sorted(c.box_items())),
            "next_image": lambda: s.go_next(1), "previous_image": lambda: s.go_next(-1),
            "next_unreviewed": s.go_next_unreviewed, "mark_reviewed": s.mark_reviewed,
            "advance_after_review": self._on_advance_toggled, "zoom_in": c.zoom_in, "zoom_out": c.zoom_out,
            "zoom_fit": c.zoom_fit, "zoom_100": c.zoom_actual,
            "toggle_boxes": lambda hidden: s.set_boxes_visible(not hidden),
            "toggle_labels": lambda hidden: s.set_labels_visible(not hidden),
            "shortcuts": self.show_shortcuts, "about": self._show_about,
            **{f"class_{n}": (lambda _checked=False, n=n:
                              s.edits.set_boxes_category_number(s.current_row, s.selection, n)) for n in range(1, 10)},
        }
        for name, handler in handlers.items():
            a[name].triggered.connect(handler)
        for changed in (s.undo_stack.canUndoChanged, s.undo_stack.canRedoChanged, s.busy_changed):
            changed.connect(self._refresh_undo_actions)
        s.undo_stack.undoTextChanged.connect(lambda t: a["undo"].setText(f"&Undo {t}".strip()))
        s.undo_stack.redoTextChanged.connect(lambda t: a["redo"].setText(f"&Redo {t}".strip()))
        self._refresh_undo_actions()

    def _refresh_undo_actions(self, *_changed) -> None:
        """Undo and Redo are off while a big document is being written (the stack refuses them)."""
        stack, busy = self.state.undo_stack, self.state.busy
        self.actions["undo"].setEnabled(stack.canUndo() and not busy)
        self.actions["redo"].setEnabled(stack.canRedo() and not busy)

    def _connect_state(self) -> None:
        self.state.document_opened.connect(self._on_state_document_opened)
        self.state.dirty_changed.connect(self.setWindowModified)
        self.state.visibility_changed.connect(
            lambda: self.actions["toggle_boxes"].setChecked(not self.state.boxes_visible))
        self.session.saved.connect(lambda _path: self._refresh_title_and_actions())

    # -- seams for other modules ------------------------------------------------------------------
    def add_dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea, name: str) -> QDockWidget:
        """Add a dock panel; its place is remembered between sessions and View > Panels toggles it."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(scrollable(widget))  # scrolls rather than growing the window
        self.addDockWidget(area, dock)
        self.restoreDockWidget(dock)
        self.view_panels.addAction(dock.toggleViewAction())
        return dock

    def menu(self, title: str) -> QMenu:
        """The top-level menu called `title`, created (before Help) if new."""
        if title not in self.menus:
            help_menu = self.menus.get("&Help")
            menu = QMenu(title, self)
            if help_menu is None:
                self.menuBar().addMenu(menu)
            else:
                self.menuBar().insertMenu(help_menu.menuAction(), menu)
            self.menus[title] = menu
        return self.menus[title]

    # -- slots ------------------------------------------------------------------------------------
    @Slot()
    def _on_state_document_opened(self) -> None:
        self._refresh_title_and_actions()

    def _refresh_title_and_actions(self) -> None:
        doc = self.state.document
        name = (doc.path.name if doc.path else f"{self.state.root.name} (not saved yet)") if doc else ""
        self.setWindowTitle(f"{name}[*] — {APP_NAME}" if doc else APP_NAME)
        self.setWindowModified(self.state.is_dirty())
        for key in _DOC_ACTIONS:
            self.actions[key].setEnabled(doc is not None)

    def _on_advance_toggled(self, on: bool) -> None:
        self.state.advance_after_review = on
        self.settings.setValue("review/advance", on)

    def show_shortcuts(self) -> ShortcutSheetDialog:
        if getattr(self, "_sheet", None) is None:
            self._sheet = ShortcutSheetDialog(self)
        self._sheet.show()
        self._sheet.raise_()
        return self._sheet

    def _show_about(self) -> None:
        QMessageBox.about(self, APP_NAME, f"<b>{APP_NAME}</b><p>Inspect, correct and fine-tune DETR "
                          "object detectors. Annotations are COCO JSON.</p>")

    # -- window events ----------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.flows.open_path(paths[0])

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.state.is_dirty() and not self._close_confirmed:
            event.ignore()
            self.flows.run_after_confirm(self._close_confirmed_now)
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.session.shutdown()
        self.session.discard_autosave()
        self.compare_ui.shutdown()
        self.review_ui.shutdown()
        self.state.shutdown()
        self.model.shutdown()
        self.training.shutdown()
        event.accept()

    def _close_confirmed_now(self) -> None:
        self._close_confirmed = True
        QTimer.singleShot(0, self.close)  # Qt ignores close() from inside closeEvent

    def _restore_settings(self) -> None:
        geometry, layout = self.settings.value("window/geometry"), self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if layout is not None:
            self.restoreState(layout)
        advance = str(self.settings.value("review/advance", "false")).lower() == "true"
        self.actions["advance_after_review"].setChecked(advance)
        self.state.advance_after_review = advance
