"""The size check itself (tests/check_sizes.py, run by `make test`): it finds a long module and a
class made big by a mixin, and passes code within budget."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_sizes  # noqa: E402


def _methods(n: int, prefix: str) -> str:
    return "".join(f"    def {prefix}{i}(self):\n        pass\n" for i in range(n))


def test_a_long_module_and_a_class_grown_by_a_mixin_are_over_budget(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "detr_core").mkdir()
    (tmp_path / "app" / "long.py").write_text("x = 1\n" * 401)
    (tmp_path / "app" / "mixin.py").write_text("class EditsMixin:\n" + _methods(25, "edit_"))
    (tmp_path / "app" / "state.py").write_text(
        "from .mixin import EditsMixin\nclass AppState(EditsMixin, object):\n" + _methods(16, "own_")
        + "    def edit_0(self):\n        pass\n")  # an override counts once
    (tmp_path / "detr_core" / "fine.py").write_text("class Small:\n" + _methods(40, "m") + "x = 1\n" * 300)
    over = {m.name: m.size for m in check_sizes.measure(tmp_path) if m.over}
    assert over == {"app/long.py": 401, "app/state.py::AppState": 41}
