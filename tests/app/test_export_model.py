"""File ▸ Export Model… in the window: the loaded model goes to ONNX on a worker thread, the
dialog shows the self-check, and a failure says why and writes nothing."""
from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime")

from model_helpers import CLASS_NAMES, checkpoint, model_window  # noqa: E402,F401

from app.export_model import ExportModelDialog  # noqa: E402



@pytest.mark.slow
def test_export_model_from_the_file_menu(qtbot, model_window, checkpoint, tmp_path):
    from detr_core.infer.onnx_runner import OnnxDetector

    window = model_window
    action = window.actions["export_model"]
    assert action in window.menu("&File").actions()
    action.trigger()
    dialog = window.findChild(ExportModelDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.checkpoint_edit.text() == str(checkpoint)  # the model loaded in the window
    assert dialog.out_edit.text() == str(checkpoint.with_suffix(".onnx"))
    out = tmp_path / "exported.onnx"
    dialog.out_edit.setText(str(out))
    with qtbot.waitSignal(dialog.exported, timeout=300_000) as blocker:
        dialog.start_export()
        # start_export returns at once: the export runs on its worker thread
        assert dialog.is_running() and not dialog.export_button.isEnabled()
    result = blocker.args[0]
    assert result.path == out and out.is_file() and result.report.ok
    assert not dialog.is_running() and dialog.export_button.isEnabled()
    assert "self-check passed on 3 cases" in dialog.status.text()
    assert "padded batch of 2" in dialog.report.toPlainText()
    assert OnnxDetector.from_file(out).class_names == CLASS_NAMES


def test_a_failed_export_says_why_and_writes_nothing(qtbot, tmp_path):
    dialog = ExportModelDialog(str(tmp_path / "missing.pth"))
    qtbot.addWidget(dialog)
    dialog.show()
    out = tmp_path / "never.onnx"
    dialog.out_edit.setText(str(out))
    with qtbot.waitSignal(dialog.failed, timeout=120_000) as blocker:
        dialog.start_export()
    assert str(tmp_path / "missing.pth") in blocker.args[0] and "\n" not in blocker.args[0]
    assert dialog.status.text().startswith("Not exported: ")
    assert not out.exists() and dialog.export_button.isEnabled()
