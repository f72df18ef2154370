"""The Review dock: the review queue (detr_core.review) in the window. The scoring runs in a child
process (`detr-workbench review --jsonl`, job.py), as training does, so no model runs in the
window's process; the dock (dock.py) fills as each image's review arrives."""
