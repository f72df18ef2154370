"""The `detr-workbench` command line: detect, train, eval and coco subcommands (no Qt)."""
