"""Packages whose names are imported on first use (so that importing one light name does not
import torch):

    _WHERE = {"load_checkpoint": "loader", ...}          # name -> submodule
    __getattr__, __dir__ = lazy_exports(__name__, _WHERE)

A name must not also be the name of one of the package's submodules: once that submodule is
imported, the package attribute is the module and the name is never looked up again (this is
refused here).
"""
from __future__ import annotations

import importlib
import sys
from typing import Callable


def lazy_exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    clashes = sorted(set(where) & set(where.values()))
    if clashes:
        raise ValueError(f"{package}: {', '.join(clashes)} is both an exported name and a submodule")

    def __getattr__(name: str):
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(where)

    return __getattr__, __dir__
