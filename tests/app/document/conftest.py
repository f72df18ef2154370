"""The document layer is tested without a window and without a QApplication: this replaces the
window tests' autouse fixture (tests/app/conftest.py), which starts one."""
from __future__ import annotations

import pytest

from app.document.commands import EditTarget
from document_helpers import Notes, make_document


@pytest.fixture(autouse=True)
def gui_thread_gc():
    yield None


@pytest.fixture
def notes() -> Notes:
    return Notes()


@pytest.fixture
def target(tmp_path, notes) -> EditTarget:
    doc, images = make_document(tmp_path)
    return EditTarget(doc, images, notes)
