"""The Training panel's progress bar follows a time budget's refits: a run that starts planning
one number of steps and then plans another (train/budget.py fits the steps it measured) shows
the new total, not the first."""
from __future__ import annotations

from detr_core.train.events import RunStarted, StepDone
from training_helpers import job_question, train_window  # noqa: F401


def _step(n: int, total: int) -> StepDone:
    return StepDone(epoch=1, epoch_step=n, steps_per_epoch=750, step=n, total_steps=total, loss=1.0,
                    losses={}, lr=1e-4, lr_backbone=1e-4, grad_norm=1.0, images_per_s=4.0, elapsed_s=n, eta_s=60.0)


def test_the_progress_bar_takes_the_refitted_total(qtbot, train_window):
    training, panel = train_window.state.training, train_window.training_ui.panel
    training.event_received.emit(RunStarted(
        run_dir="/r", resumed=False, epochs=1, steps_per_epoch=750, total_steps=750, start_epoch=1, start_step=0,
        batch_size=4, world_size=1, device="cpu", train_images=3000, val_images=0, class_names=["a"],
        model_config={}, train_config={}, base="tiny"))
    assert panel.progress.maximum() == 750
    training.event_received.emit(_step(4, 2782))  # the budget's first fit: 3.7 epochs
    assert (panel.progress.maximum(), panel.progress.value()) == (2782, 4)
    assert "step 4/2782" in panel.progress.format()
    training.event_received.emit(_step(5, 2790))  # refitted after a faster step
    assert panel.progress.maximum() == 2790
