"""Compare mode: two models' boxes against the labels, object by object (detr_core.compare)."""
