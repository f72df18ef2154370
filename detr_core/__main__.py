"""`python -m detr_core COMMAND ...`: the headless CLI, for servers without Qt."""
import sys

from .cli.main import main

sys.exit(main())
