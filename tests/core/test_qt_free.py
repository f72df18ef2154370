"""detr_core never imports Qt (or the app): the CLI must run on a server without a display."""
import pytest
import subprocess
import sys


@pytest.mark.slow
def test_detr_core_imports_no_qt():
    code = (
        "import sys, detr_core, detr_core.infer.detector, detr_core.cli.main, detr_core.cli.detect\n"
        "import pkgutil, importlib\n"
        "for m in pkgutil.walk_packages(detr_core.__path__, 'detr_core.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'app')]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_headless_cli_does_not_load_qt():
    code = (
        "import sys\n"
        "from app.cli import main\n"
        "try:\n"
        "    main(['detect', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.exit(1 if 'PySide6' in sys.modules else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
