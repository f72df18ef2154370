"""The document layer says it is Qt-free: importing it loads no PySide6 (checked in a fresh process)."""
from __future__ import annotations

import pytest

import subprocess
import sys

QT_FREE = ["app.document.entries", "app.document.image_filter", "app.document.commands",
           "app.document.editing", "app.document.opening", "app.training.snapshot"]


@pytest.mark.slow
def test_document_modules_import_no_qt():
    code = (
        "import importlib, sys\n"
        f"for name in {QT_FREE!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_sees_qt_when_it_is_there():
    """The same check fails for a module that does import Qt (so the test above can fail)."""
    code = "import sys, app.state\nsys.exit(0 if 'PySide6' in sys.modules else 1)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
