"""The file names of a training run directory (what each holds: run_files.py). No torch: the
window's Runs list reads run folders before torch is loaded."""
CHECKPOINT = "checkpoint.pth"
MODEL = "model.pth"
BEST = "best.pth"
METRICS = "metrics.jsonl"
RUN_JSON = "run.json"
RUN_FILES = (CHECKPOINT, MODEL, BEST, METRICS, RUN_JSON)
