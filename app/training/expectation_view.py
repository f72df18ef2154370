"""ExpectationView: the fine-tune dialog's "what this run will do": the lines of the automatic
recipe (timed runs; a fixed-height box that scrolls) and the expected time (expectation.py)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QPlainTextEdit

from .command import DataFiles, TrainOptions, train_command
from .expectation import StepTime, expected_time, recipe_lines
from .snapshot import DataPlan

RECIPE_HEIGHT = 100  # px: about five lines, then it scrolls


class ExpectationView:
    """Owns two widgets the dialog lays out: `recipe` and `expected`."""

    def __init__(self):
        self.recipe = QPlainTextEdit()
        self.recipe.setReadOnly(True)
        self.recipe.setFixedHeight(RECIPE_HEIGHT)
        self.recipe.setToolTip("The automatic recipe for this data, as the run prints it at start")
        self.expected = QLabel()
        self.expected.setWordWrap(True)

    def clear(self) -> None:
        self.recipe.setPlainText("")
        self.expected.setText("")

    def show(self, plan: DataPlan, options: TrainOptions, base_names: tuple[str, ...] | None,
             step: StepTime | None, on_gpu: bool, base_backbone: str | None = None) -> None:
        """`base_names`, `base_backbone`: the starting checkpoint's classes and backbone if known
        here; `step`: the preflight's measure for this model and resolution, or None."""
        if options.minutes is not None:
            args = train_command(Path("run"), DataFiles(Path("train.json"), Path(".")), options)
            text = "\n".join(recipe_lines(plan, options, args[args.index("train") + 1:], base_names,
                                          base_backbone))
            if self.recipe.toPlainText() != text:  # keeps the scroll position while nothing changes
                self.recipe.setPlainText(text)
        self.expected.setText(expected_time(options, len(plan.train_ids), step, on_gpu))
