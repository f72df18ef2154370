"""Every command of the window with its keys, in one table: the window builds its QActions
and menus from it, and the shortcut sheet (F1) lists it, so the sheet cannot miss a key.

Single-letter keys are window shortcuts; a text field with focus keeps its typing (Qt lets line
edits override them). Keys the canvas handles itself are in CANVAS_KEYS.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from .icons import icon


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    keys: tuple[str, ...] = ()
    icon: str = ""
    menu: str = "File"  # menu it goes in, and the section of the shortcut sheet
    checkable: bool = False
    tip: str = ""


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_image", "Open &Image…", ("Ctrl+O",), "open-image", "File", tip="Open an image (and its folder)"),
    ActionSpec("open_folder", "Open &Folder…", ("Ctrl+Shift+O",), "open-folder", "File",
               tip="Open every image in a folder, recursively"),
    ActionSpec("open_json", "Open &COCO JSON…", ("Ctrl+J",), "open-json", "File", tip="Open a COCO instances file"),
    ActionSpec("save", "&Save", ("Ctrl+S",), "save", "File", tip="Save the COCO JSON"),
    ActionSpec("save_as", "Save &As…", ("Ctrl+Shift+S",), "", "File"),
    ActionSpec("close_document", "&Close", ("Ctrl+W",), "", "File"),
    ActionSpec("import_predictions", "Import &Predictions…", ("Ctrl+I",), "", "File",
               tip="Show a COCO results file (detect --out, coco merge-results) as the predictions"),
    ActionSpec("export_model", "E&xport Model…", (), "", "File",
               tip="Export the model to ONNX, checked against PyTorch before the file is written"),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "", "File"),
    ActionSpec("undo", "&Undo", ("Ctrl+Z",), "undo", "Edit"),
    ActionSpec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo", "Edit"),
    ActionSpec("draw_box", "&Draw Box", ("R", "W"), "draw-box", "Edit", tip="Drag a box, then pick its class"),
    ActionSpec("change_class", "Change &Class…", ("C",), "change-class", "Edit",
               tip="Pick the class of the selected boxes from a searchable list"),
    ActionSpec("duplicate", "D&uplicate Boxes", ("Ctrl+D",), "duplicate", "Edit"),
    ActionSpec("delete", "&Delete Boxes", ("Delete", "Backspace"), "delete", "Edit"),
    ActionSpec("select_all", "Select &All Boxes", ("Ctrl+A",), "", "Edit"),
    *(ActionSpec(f"class_{n}", f"Class {n}", (str(n),), "", "Edit",
                 tip=f"Set the selected boxes to the class numbered {n}") for n in range(1, 10)),
    ActionSpec("next_image", "&Next Image", ("D",), "next", "Go"),
    ActionSpec("previous_image", "&Previous Image", ("A",), "previous", "Go"),
    ActionSpec("next_unreviewed", "Next &Unreviewed Image", ("N",), "next-unreviewed", "Go"),
    ActionSpec("mark_reviewed", "Mark &Reviewed", ("Space",), "reviewed", "Go",
               tip="The boxes of this image are checked (a short tap on the canvas)"),
    ActionSpec("advance_after_review", "Go to Next Unreviewed After Marking", (), "", "Go", checkable=True),
    ActionSpec("zoom_in", "Zoom &In", ("Ctrl+=", "Ctrl++"), "zoom-in", "View"),
    ActionSpec("zoom_out", "Zoom &Out", ("Ctrl+-",), "zoom-out", "View"),
    ActionSpec("zoom_fit", "&Fit Image", ("Ctrl+F",), "zoom-fit", "View"),
    ActionSpec("zoom_100", "&Actual Pixels (100 %)", ("Ctrl+0",), "zoom-100", "View"),
    ActionSpec("toggle_boxes", "&Hide All Boxes", ("H",), "visibility", "View", checkable=True),
    ActionSpec("toggle_labels", "Hide Class &Names", ("L",), "", "View", checkable=True,
               tip="Hide the class-name tags (crowded images)"),
    ActionSpec("run_model", "&Detect on This Image", ("F5",), "", "Model",
               tip="Run the model on the image on screen now"),
    ActionSpec("accept_prediction", "&Accept Prediction", ("Return", "Enter"), "", "Model",
               tip="Turn the selected prediction into an annotation (or double-click it)"),
    ActionSpec("accept_all", "Accept All Above &Threshold", ("Shift+Return", "Shift+Enter"), "", "Model",
               tip="Turn every shown prediction of this image into annotations (one undo step)"),
    ActionSpec("reject_prediction", "&Reject Prediction", ("X",), "", "Model",
               tip="Hide the selected prediction (again: bring it back)"),
    ActionSpec("next_query", "&Next Prediction", ("]",), "", "Model",
               tip="Select the next prediction by score; its attention shows"),
    ActionSpec("previous_query", "&Previous Prediction", ("[",), "", "Model",
               tip="Select the previous prediction by score"),
    ActionSpec("raise_threshold", "Raise Threshold", ("Ctrl+Up",), "", "Model",
               tip="Show fewer predictions (threshold + 0.05)"),
    ActionSpec("lower_threshold", "Lower Threshold", ("Ctrl+Down",), "", "Model",
               tip="Show more predictions (threshold - 0.05)"),
    ActionSpec("toggle_predictions", "Hide &Predictions", ("P",), "", "Model", checkable=True),
    ActionSpec("toggle_heatmap", "Hide Attention &Heatmap", ("M",), "", "Model", checkable=True),
    ActionSpec("encoder_mode", "&Encoder Attention at a Point", ("E",), "", "Model", checkable=True,
               tip="Click the image: show where that point attends (encoder self-attention)"),
    ActionSpec("attention_grid", "Attention &Grid", ("G",), "", "Model", checkable=True,
               tip="The top queries' attention maps next to their boxes"),
    ActionSpec("preannotate", "Pre-&annotate Images", ("Ctrl+Shift+P",), "", "Model",
               tip="Run the model over all images (or the listed ones) in the background"),
    ActionSpec("cancel_preannotate", "&Cancel Pre-annotation", (), "", "Model"),
    ActionSpec("export_view", "E&xport View as PNG…", ("Ctrl+E",), "", "Model",
               tip="Save the image with heatmap, predictions and boxes as a PNG"),
    ActionSpec("class_mapping", "Class &Mapping…", (), "", "Model",
               tip="Which dataset class each model class becomes when accepted"),
    ActionSpec("review_queue", "Build &Review Queue", ("Ctrl+Shift+F",), "", "Model",
               tip="Rank the images by where the model and the saved labels disagree, with a reason per box"),
    ActionSpec("fine_tune", "&Fine-tune…", ("Ctrl+T",), "", "Train",
               tip="Fine-tune the model on these annotations in a background job, with live curves"),
    ActionSpec("cancel_training", "&Stop Job", ("Ctrl+Shift+T",), "", "Train",
               tip="Stop the training job cleanly: it writes a checkpoint that Resume continues from"),
    ActionSpec("kill_training", "&Kill Job", (), "", "Train",
               tip="End a job that does not stop at once (no new checkpoint)"),
    ActionSpec("resume_training", "&Resume Run", ("Ctrl+Shift+R",), "", "Train",
               tip="Continue the stopped run (or the one selected in Runs) from its last checkpoint"),
    ActionSpec("use_trained_model", "&Use This Model", ("Ctrl+U",), "", "Train",
               tip="Load the run's trained weights into the detector and detect on this image"),
    ActionSpec("compare_models", "&Compare Models…", ("Ctrl+Shift+C",), "", "Train",
               tip="Compare two models object by object on these labels (by default before and after the last run)"),
    ActionSpec("run_loop", "Use, Pre-&label && Compare", ("Ctrl+Shift+L",), "", "Train",
               tip="After a run: use its model, pre-label the unreviewed images, compare old and new model"),
    ActionSpec("shortcuts", "&Keyboard Shortcuts", ("F1",), "keyboard", "Help"),
    ActionSpec("about", "&About DETR Workbench", (), "", "Help"),
)

CANVAS_KEYS: tuple[tuple[str, str], ...] = (
    ("Mouse wheel", "Zoom at the cursor"),
    ("Space + drag, or middle-button drag", "Pan"),
    ("Space (short tap on the canvas)", "Mark the image reviewed"),
    ("Click · Ctrl+click · drag on empty area", "Select a box · add/remove one · select in a rectangle"),
    ("Drag a box · drag one of its 8 handles", "Move · resize (stays inside the image)"),
    ("Tab · Shift+Tab", "Select the next · previous box (left to right)"),
    ("Arrow keys · Shift+arrow keys", "Nudge the selected boxes by 1 px · 10 px"),
    ("Esc", "Cancel drawing, close the class list, or clear the selection"),
    ("Class list: type · ↑ ↓ · Enter · 1–9", "Search or name a new class · move · accept · pick directly"),
    ("Drop a file or folder on the window", "Open it"),
    ("Click · double-click a dashed prediction", "Select it (its attention shows) · accept it"),
    ("Click the image in encoder mode (E)", "Show where that point attends"),
)


def build_actions(parent: QWidget) -> dict[str, QAction]:
    """One QAction per ACTIONS row, with its keys, icon and tip; not yet connected."""
    actions = {}
    for spec in ACTIONS:
        action = QAction(spec.text, parent)
        if spec.icon:
            action.setIcon(icon(spec.icon))
        action.setObjectName(spec.name)
        action.setShortcuts([QKeySequence(k) for k in spec.keys])
        action.setCheckable(spec.checkable)
        tip = spec.tip or spec.text.replace("&", "").rstrip("…")
        if spec.keys:
            tip += f" ({' / '.join(spec.keys)})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        actions[spec.name] = action
    return actions
