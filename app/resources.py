"""Where the bundled files are: the icons, the demo model and the sample images (no Qt).

They live in the repository's `resources/` folder. A wheel ships that folder as the package data
of `detr_workbench_resources` (setup.py maps the package onto the folder), so a non-editable
`pip install .` finds them too:

    running from a source checkout   <checkout>/resources/
    installed (wheel or editable)    the folder of the `detr_workbench_resources` package

Everything that needs a bundled file asks here; `missing()` says, one line each, what cannot be
found, so a broken install is reported instead of giving a window without icons or model.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

PACKAGE = "detr_workbench_resources"
_CHECKOUT = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def resource_dir() -> Path | None:
    """The folder holding icons/, models/ and samples/, or None when there is none."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "resources").is_dir():
        return _CHECKOUT / "resources"  # a source checkout: its own files, whatever is installed
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def resource(*parts: str) -> Path:
    """A bundled file or folder (which may not exist: see `missing`)."""
    root = resource_dir()
    return (root if root is not None else _CHECKOUT / "resources").joinpath(*parts)


def icon_dir() -> Path:
    return resource("icons")


def demo_model() -> Path:
    """The bundled demo detector (`make demo-model`)."""
    return resource("models", "demo.pth")


def samples_dir() -> Path:
    """24 synthetic shape images with their COCO JSON (`make run` opens them)."""
    return resource("samples")


def missing() -> list[str]:
    """One line per bundled thing that cannot be found (empty when the install is whole)."""
    root = resource_dir()
    if root is None:
        return [f"bundled resources not found: neither {_CHECKOUT / 'resources'} nor the {PACKAGE} "
                "package is there (icons, demo model and samples are missing; reinstall the package)"]
    checks = [(icon_dir() / "app.svg", "icons"), (demo_model(), "demo model"),
              (samples_dir() / "annotations.json", "sample images")]
    return [f"bundled {what} not found: {path} is missing" for path, what in checks if not path.is_file()]
