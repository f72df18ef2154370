"""The curves read in plain words (detr_core.train.reading) from real event types."""
from __future__ import annotations

from detr_core.train.events import EpochDone, EvalDone, StepDone
from detr_core.train.reading import CurveReader


def _step(i: int, loss=1.0, class_error=50.0) -> StepDone:
    return StepDone(epoch=1, epoch_step=i, steps_per_epoch=100, step=i, total_steps=100, loss=loss,
                    losses={"loss_ce": 0.5, "class_error": class_error}, lr=1e-4, lr_backbone=1e-5,
                    grad_norm=1.0, images_per_s=1.0, elapsed_s=1.0, eta_s=1.0)


def _epoch(e: int, loss: float, class_error: float = 20.0) -> EpochDone:
    return EpochDone(epoch=e, epochs=10, step=e * 10, total_steps=100, loss=loss,
                     losses={"class_error": class_error}, duration_s=1.0, images_per_s=1.0, eta_s=1.0, metrics=None)


def _eval(e: int, ap: float, loss: float | None = None, per_class=None) -> EvalDone:
    return EvalDone(epoch=e, step=e * 10, metrics={"AP": ap, "AP50": min(1.0, 2 * ap), "per_class": per_class or {}},
                    images=10, duration_s=1.0, loss=loss)


def _read(events) -> CurveReader:
    reader = CurveReader()
    for event in events:
        reader.add(event)
    return reader


def test_overfitting_is_named_when_validation_loss_rises_as_training_loss_falls():
    events = []
    for e, (train, val) in enumerate([(2.0, 1.5), (1.6, 1.4), (1.2, 1.5), (0.9, 1.6), (0.7, 1.8)], start=1):
        events += [_epoch(e, train), _eval(e, 0.2 + 0.01 * e, val)]
    text = _read(events).reading()
    assert "overfitting" in text and "1.400 → 1.800" in text


def test_class_error_stuck_at_100_points_at_the_category_ids():
    reader = _read([_step(i, class_error=100.0) for i in range(25)])
    assert "check the category ids" in reader.reading()
    assert reader.class_error() == 100.0
    assert "category ids" not in _read([_step(i, class_error=100.0) for i in range(5)]).reading()


def test_flat_training_loss_plateau_and_healthy_runs_read_differently():
    flat = _read([_epoch(e, 1.0 - 0.001 * e) for e in range(1, 5)]).reading()
    assert "not falling" in flat
    plateau = []
    for e, ap in enumerate([0.1, 0.3, 0.29, 0.28, 0.3], start=1):
        plateau += [_epoch(e, 2.0 / e), _eval(e, ap, 1.0)]
    assert "plateau" in _read(plateau).reading()
    healthy = []
    for e, ap in enumerate([0.1, 0.2, 0.3], start=1):
        healthy += [_epoch(e, 2.0 / e), _eval(e, ap, 1.0 / e)]
    text = _read(healthy).reading()
    assert "training loss falling" in text and "validation AP rising (10.0 → 30.0)" in text


def test_non_finite_loss_comes_first_and_weakest_classes_are_listed_worst_first():
    reader = _read([_eval(1, 0.3, per_class={"star": 0.5, "cross": 0.1, "circle": None, "square": 0.9}),
                    _step(1, loss=None)])
    assert "not finite" in reader.reading()
    assert reader.weakest(2) == [("cross", 0.1), ("star", 0.5)]
    assert _read([]).reading() == "too early to read the curves" and _read([]).class_error() is None
