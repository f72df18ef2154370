"""detr_core.lazy: the packages' names load on first use, and a name that is also a submodule is
refused (`from detr_core.data import collate` once gave the module, not the function)."""
from __future__ import annotations

import importlib

import pytest

from detr_core.lazy import lazy_exports


@pytest.mark.parametrize("package", ["detr_core.checkpoints", "detr_core.compare", "detr_core.data",
                                     "detr_core.review"])
def test_every_exported_name_resolves_to_what_its_submodule_defines(package):
    pkg = importlib.import_module(package)
    for name in pkg.__all__:
        value = getattr(pkg, name)
        assert not isinstance(value, type(pkg)), f"{package}.{name} is a module"
    assert set(pkg.__all__) <= set(dir(pkg))


def test_a_name_that_is_also_a_submodule_is_refused():
    with pytest.raises(ValueError, match="collate is both an exported name and a submodule"):
        lazy_exports("detr_core.data", {"collate": "collate"})
