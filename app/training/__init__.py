"""Fine-tuning from the workbench: a dialog that snapshots the annotations, a `detr-workbench train`
child process whose JSON-lines events feed live curves, a run history, and "use this model"."""
