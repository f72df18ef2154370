"""Start the DETR Workbench window: `python main.py [IMAGE | FOLDER | COCO.json]`."""
import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
