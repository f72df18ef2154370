"""Training: the engine, its config, events and sinks, batch-norm fold, random-generator state,
set-up, optimizer and schedule, run files, fine-tuning, distributed helpers and evaluation."""
