"""Size budgets (docs: style.md, "Size budgets"): no module over 400 lines, no class over 40
methods, in the shipped code (app/, detr_core/, main.py). Nothing is exempt; every offender is
listed, largest first, so it is easy to see what to split.

    python tests/check_sizes.py            # exit 1 and a table when anything is over budget
    python tests/check_sizes.py --all      # also the ten largest modules and classes within budget

Run by `make test`. Lines are physical lines. A class's methods are the functions defined in its
body and in its bases defined in this code (a mixin split does not make a class smaller: the
methods still share one object's state), each name once; properties and dunders count too.
"""
from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
MAX_CLASS_METHODS = 40
CHECKED = ("app", "detr_core", "main.py")


@dataclass(frozen=True)
class Measure:
    kind: str  # "module" | "class"
    name: str  # path relative to the root, and ::Class for a class
    size: int
    limit: int

    @property
    def over(self) -> bool:
        return self.size > self.limit


def python_files(root: Path) -> list[Path]:
    files = []
    for name in CHECKED:
        path = root / name
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    return files


def _base_names(node: ast.ClassDef) -> list[str]:
    return [b.id if isinstance(b, ast.Name) else b.attr for b in node.bases if isinstance(b, (ast.Name, ast.Attribute))]


def measure(root: Path = ROOT) -> list[Measure]:
    """Every module's line count and every class's method count (with its project bases)."""
    found, classes = [], []  # classes: (qualified name, node)
    for path in python_files(root):
        text = path.read_text(encoding="utf-8")
        relative = path.relative_to(root).as_posix()
        found.append(Measure("module", relative, len(text.splitlines()), MAX_MODULE_LINES))
        classes += [(f"{relative}::{node.name}", node) for node in ast.walk(ast.parse(text, filename=str(path)))
                    if isinstance(node, ast.ClassDef)]
    by_name: dict[str, list[ast.ClassDef]] = {}
    for _, node in classes:
        by_name.setdefault(node.name, []).append(node)

    def methods(node: ast.ClassDef, seen: frozenset = frozenset()) -> set[str]:
        own = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for base in _base_names(node):
            defined = by_name.get(base, [])
            if len(defined) == 1 and base not in seen:  # a project class, named unambiguously
                own |= methods(defined[0], seen | {node.name})
        return own

    found += [Measure("class", name, len(methods(node)), MAX_CLASS_METHODS) for name, node in classes]
    return found


def table(rows: list[Measure]) -> str:
    unit = {"module": "lines", "class": "methods"}
    return "\n".join(f"  {m.size:>5} {unit[m.kind]:<7} (limit {m.limit})  {m.name}" for m in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also show the largest within budget")
    args = parser.parse_args(argv)
    found = measure()
    over = sorted((m for m in found if m.over), key=lambda m: (m.kind, -m.size))
    if args.all:
        for kind in ("module", "class"):
            largest = sorted((m for m in found if m.kind == kind and not m.over), key=lambda m: -m.size)[:10]
            print(f"largest {kind}{'es' if kind == 'class' else 's'} within budget:\n{table(largest)}")
    modules = sum(m.kind == "module" for m in found)
    classes = len(found) - modules
    if over:
        print(f"size check: {len(over)} over budget (of {modules} modules, {classes} classes):\n{table(over)}")
        return 1
    print(f"size check: {modules} modules within {MAX_MODULE_LINES} lines, {classes} classes within "
          f"{MAX_CLASS_METHODS} methods")
    return 0


if __name__ == "__main__":
    sys.exit(main())
