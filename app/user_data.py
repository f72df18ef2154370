"""Where the workbench writes a user's files, so that `make run` never writes into the checkout
(issue 17, item 8): the per-user data folder (platformdirs; DETR_WORKBENCH_DATA overrides it),
with `samples/`, the per-user copy of the bundled samples that saving, autosave and `.bak` files
change, and `runs/`, where fine-tuning runs go unless the dialog is told otherwise.

    path = user_path(path)        # the bundled samples -> their per-user copy; anything else as is
    runs_dir() / "annotations-20260101-120000"
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import platformdirs

from .resources import samples_dir

APP_DIR_NAME = "DETR Workbench"
ENV_OVERRIDE = "DETR_WORKBENCH_DATA"
BUNDLED_SAMPLES = samples_dir().resolve()  # in a checkout or an installed wheel


def user_data_dir() -> Path:
    override = os.environ.get(ENV_OVERRIDE)
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False))


def runs_dir() -> Path:
    return user_data_dir() / "runs"


def samples_copy(source: Path = BUNDLED_SAMPLES) -> Path:
    """The per-user copy of the bundled samples, made on first use (an existing copy is kept, with
    the user's edits). Raises OSError with the folder named when it cannot be written."""
    target = user_data_dir() / "samples"
    if not (target / "annotations.json").is_file():
        try:
            shutil.copytree(source, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("runs", "*.bak", "*.autosave*"))
        except OSError as e:
            raise OSError(f"{target}: cannot copy the samples there ({e.strerror or e})") from None
    return target


def user_path(path: str | os.PathLike) -> Path:
    """`path`, or its place in the per-user samples copy when it is in the bundled samples."""
    given = Path(path).expanduser()
    try:
        inside = given.resolve().relative_to(BUNDLED_SAMPLES)
    except (ValueError, OSError):
        return given
    return samples_copy() / inside
