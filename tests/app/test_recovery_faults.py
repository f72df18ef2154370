"""Session-level faults through the window: the disk fills up under the journal, the JSON is
changed by another program between a crash and the reopen, the folder is read-only. Each says
what happened in one line and keeps the user's files."""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess

import pytest

from test_recovery import SAMPLES, crash, delete_first_box, reopen_and_recover
from workbench_helpers import close_window, make_window, open_and_wait



def test_disk_full_under_the_journal_warns_once_and_loses_nothing(qtbot, window, dialogs, settings,
                                                                  tmp_path, monkeypatch):
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder)
    open_and_wait(qtbot, window, folder)
    delete_first_box(qtbot, window)
    crash(window)
    keeper, real_write, full = window.session.journal, os.write, [True]

    def write(fd, data):
        if full[0] and fd == keeper.journal._fd:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    with qtbot.waitSignal(window.session.autosave_failed, timeout=5000) as failed:
        delete_first_box(qtbot, window)
    message = failed.args[0]
    assert "\n" not in message and str(keeper.path) in message and "No space left" in message
    delete_first_box(qtbot, window)  # more edits while full: no second dialog
    qtbot.wait(100)
    warnings = [t for t in dialogs.texts("warning") if "Autosave failed" in t]
    assert len(warnings) == 1 and "Ctrl+S" in warnings[0]
    full[0] = False  # space again: the next edit writes everything that waited
    delete_first_box(qtbot, window)
    crash(window)
    other = reopen_and_recover(qtbot, settings, tmp_path, dialogs, folder)
    assert json.dumps(other.state.document.data) == json.dumps(window.state.document.data)
    close_window(other, dialogs)


def test_a_json_changed_after_the_crash_is_not_replayed_onto_and_the_journal_is_kept(
        qtbot, window, dialogs, settings, tmp_path):
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder)
    open_and_wait(qtbot, window, folder)
    delete_first_box(qtbot, window)
    crash(window)
    target = folder / "annotations.json"
    theirs = json.loads(target.read_text())
    theirs["info"] = {"description": "changed by another program"}
    target.write_text(json.dumps(theirs))
    other = make_window(qtbot, settings, tmp_path)
    open_and_wait(qtbot, other, folder)
    assert not any("Recover" in t for t in dialogs.texts("question"))
    warning = dialogs.texts("warning")[-1]
    stale = folder / "annotations.json.journal.stale"
    assert "changed on disk since" in warning and str(stale) in warning
    assert stale.is_file() and not (folder / "annotations.json.journal").exists()
    assert json.loads(target.read_text()) == theirs and other.state.document.data["info"] == theirs["info"]
    close_window(other, dialogs)


@pytest.fixture
def read_only_samples(tmp_path):
    """resources/samples on a file system mounted read-only (skipped where mounting is not
    allowed; root ignores chmod)."""
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    shutil.copytree(SAMPLES, mount / "samples")
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    yield mount / "samples"
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_read_only_folder_journals_in_the_app_folder_and_refuses_the_save_in_one_line(
        qtbot, window, dialogs, settings, tmp_path, read_only_samples):
    folder = read_only_samples
    open_and_wait(qtbot, window, folder)
    delete_first_box(qtbot, window)
    assert window.session.journal.path.parent == window.session.fallback_dir
    original = (folder / "annotations.json").read_bytes()
    with qtbot.waitSignal(window.session.save_failed, timeout=5000) as failed:
        window.flows.save()
    assert "Read-only file system" in failed.args[0] and "\n" not in failed.args[0]
    assert (folder / "annotations.json").read_bytes() == original
    crash(window)
    other = reopen_and_recover(qtbot, settings, tmp_path, dialogs, folder)  # found in the app folder
    assert json.dumps(other.state.document.data) == json.dumps(window.state.document.data)
    close_window(other, dialogs)
