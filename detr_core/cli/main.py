"""Entry point of the headless command line. Each subcommand lives in its own module, which
provides `add_parser(subparsers)`; the parser it adds sets `func(args) -> int`."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from ..errors import WorkbenchError

# name -> module; modules are imported only when their command (or --help) is asked for.
COMMANDS: dict[str, str] = {
    "detect": "detr_core.cli.detect",
    "coco": "detr_core.cli.coco",
    "export": "detr_core.cli.export",
    "train": "detr_core.cli.train",
    "eval": "detr_core.cli.evaluate",
    "compare": "detr_core.cli.compare",
    "review": "detr_core.cli.review",
    "preflight": "detr_core.cli.preflight",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detr-workbench",
        description="DETR Workbench: detect, train and evaluate DETR detectors. "
                    "Without a command (or with a path), opens the workbench window.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as e:
        print(f"detr-workbench {args.command}: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 1)
    except KeyboardInterrupt:
        print(f"detr-workbench {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `detr-workbench coco stats F | head`: the reader left
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
