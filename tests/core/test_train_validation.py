"""The validation loss is computed at the run's resolution (issue 12: validation images were
resized with the reference 800/1333 transform while the model trained and was scored at 192 px,
so the validation loss of a fine-tune read 2-3x the training loss)."""
from __future__ import annotations

import torch

from detr_core.data.transforms import resolution_preset
from detr_core.model.criterion import SetCriterion
from detr_core.train.setup import load_data
from detr_core.train.validation import validation_loss

from test_train_helpers import shapes_dataset, tiny_model


def test_validation_images_are_resized_to_the_runs_resolution(tmp_path):
    train_json = shapes_dataset(tmp_path / "train", 2)
    val_json = shapes_dataset(tmp_path / "val", 2, seed=5)
    res = resolution_preset("192")
    loaded = load_data(train_json, None, val_json, None, res, hflip=False, seed=0)
    image, target = loaded.data.val[0]
    assert min(image.shape[-2:]) == res.eval_size == min(target["size"].tolist())
    assert max(image.shape[-2:]) <= res.max_size


def test_validation_loss_at_the_runs_resolution_matches_training_at_it(tmp_path):
    """Scored on the training images themselves, at the run's resolution, the validation loss of an
    untrained model equals the loss of the same images through the same transform."""
    json_path = shapes_dataset(tmp_path / "train", 2)
    res = resolution_preset("192")
    loaded = load_data(json_path, None, json_path, None, res, hflip=False, seed=0)
    model = tiny_model(seed=0)
    criterion = SetCriterion(5)
    val_terms = validation_loss(model, criterion, loaded.data.val, device=torch.device("cpu"), batch_size=1,
                                num_workers=0, autocast=torch.autocast("cpu", enabled=False))
    model.eval()
    with torch.no_grad():
        manual = []
        for i in range(2):
            image, target = loaded.data.val[i]
            out = model(image[None], None, aux=True)
            manual.append(float(criterion(out, [target], num_boxes=float(len(target["labels"])))["loss"]))
    assert abs(val_terms["loss"] - sum(manual) / 2) < 1e-4
