"""`detr-workbench`: subcommands go to the headless CLI in detr_core; anything else opens the
window. Qt is imported only when the window is opened, so `train` under torchrun stays Qt-free."""
from __future__ import annotations

import sys

from detr_core.cli.main import COMMANDS
from detr_core.cli.main import main as core_main


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help", "-v", "--verbose")):
        return core_main(argv)
    from app.main import run_gui  # deferred: Qt loads only for the window

    return run_gui(argv)
