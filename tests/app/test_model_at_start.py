"""Which model a window loads at start: the bundled demo model when nothing is remembered (found
by app.resources), and none at all when made with load_model=False (what the tests that are not
about the model use, so they never pay for loading and running one)."""
from __future__ import annotations

from app.resources import demo_model, missing
from model_helpers import wait_model
from workbench_helpers import close_window, make_window


def test_a_first_start_loads_the_bundled_demo_model(qtbot, settings, tmp_path, dialogs):
    assert missing() == []
    window = make_window(qtbot, settings, tmp_path, load_model=True)
    try:
        wait_model(qtbot, window, demo_model(), timeout=60_000)
        assert window.state.model.info.class_names and window.model_ui.panel.checkpoint.findData(str(demo_model())) >= 0
    finally:
        close_window(window, dialogs)


def test_a_window_made_without_a_model_loads_none(qtbot, window):
    qtbot.wait(200)  # a load would have been requested while the window was built
    assert window.state.model.info is None and not window.state.model.loading
