"""The model side of the workbench: a detector on a worker thread, its predictions on the canvas,
accepting them as annotations, attention heatmaps, and pre-annotating folders."""
