"""The installed package, not the checkout: build the wheel, install it into a fresh venv, and run
the CLI from there. The icons, the demo model and the samples must come from the installed
package data (a non-editable `pip install .` used to give a window without icons or model, and
said nothing).

The fresh venv gets no copies of torch & co.: a .pth line puts the site-packages of the Python
running the tests behind its own (path lines only: that folder's own .pth files, such as an
editable install of this project, are not run), so `app` and `detr_core` can only be the wheel's.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("app", "detr_core", "resources", "pyproject.toml", "setup.py", "README.md")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="venv layout")]

PROBE = """
import importlib.util, json
import app
from app import resources
found = {"app": app.__file__, "detr_core": importlib.util.find_spec("detr_core").origin,
         "resources": str(resources.resource_dir()), "demo": str(resources.demo_model()),
         "samples": str(resources.samples_dir()), "missing": resources.missing()}
if "--icons" in __import__("sys").argv:
    from PySide6.QtWidgets import QApplication
    qt = QApplication([])
    from app.icons import icon
    found["icon_ok"] = not icon("save").pixmap(16, 16).isNull()
print(json.dumps(found))
"""


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return dict(env, QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1", PYTHONNOUSERSITE="1")


def _run(args, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{args[:3]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the wheel built from this checkout installed (no dependencies)."""
    tmp = tmp_path_factory.mktemp("package")
    source = tmp / "source"  # a copy: the build writes build/ and *.egg-info next to its sources
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", tmp / "dist",
          source], cwd=tmp)
    (wheel,) = (tmp / "dist").glob("detr_workbench-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
         cwd=tmp)
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp)
                   .stdout.strip())
    heavy = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "_heavy_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(heavy)))
    return venv


def _probe(venv: Path, cwd: Path, *options: str) -> dict:
    """What the installed package finds, asked from the venv's own Python (`--icons`: also draw one)."""
    proc = _run([venv / "bin" / "python", "-c", PROBE, *options], cwd=cwd)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_installed_cli_detects_on_a_bundled_sample_with_the_bundled_model(installed, tmp_path):
    found = _probe(installed, tmp_path, "--icons")
    for key in ("app", "detr_core", "resources", "demo", "samples"):
        assert Path(found[key]).is_relative_to(installed), (key, found[key])  # the wheel's, not the checkout's
    assert found["missing"] == [] and found["icon_ok"], found
    sample = sorted((Path(found["samples"]) / "images").glob("*.jpg"))[0]
    out = tmp_path / "detections.json"
    _run([installed / "bin" / "detr-workbench", "detect", sample, "--checkpoint", found["demo"], "--device", "cpu",
          "--threshold", "0.5", "--out", out], cwd=tmp_path)
    results = json.loads(out.read_text())
    assert results and {r["file_name"] for r in results} == {sample.name}
    assert all(r["score"] >= 0.5 and len(r["bbox"]) == 4 for r in results)


def test_an_install_without_the_demo_model_says_so(installed, tmp_path):
    demo = Path(_probe(installed, tmp_path)["demo"])
    demo.rename(demo.with_name("demo.pth.away"))
    try:
        found = _probe(installed, tmp_path)
    finally:
        demo.with_name("demo.pth.away").rename(demo)
    assert found["missing"] == [f"bundled demo model not found: {demo} is missing"]
