"""The small-data recipe (train/recipe.py) and training for a time (train/budget.py)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from detr_core.cli.main import main as cli
from detr_core.train.budget import BudgetError, TimeBudget, parse_duration
from detr_core.train.config import TrainConfig
from detr_core.train.engine import train
from detr_core.train.recipe import DataFacts, choose

from test_train_helpers import Recorder, shapes_dataset, tiny_config, tiny_model, train_data


def test_small_data_gets_groups_ema_and_says_why():
    facts = DataFacts(images=20, boxes=60, classes=7, max_boxes=6, new_classes=2, from_scratch=False)
    recipe = choose(facts)
    cfg = recipe.config
    assert cfg.groups == 4 and cfg.batch_size == 4 and cfg.schedule == "cosine"
    # measured (README, convergence table): the backbone at the main lr; EMA and lr 2e-4 did not help
    assert cfg.lr == 1e-4 and cfg.lr_backbone == 1e-4 and cfg.ema_decay == 0 and cfg.num_workers == 0
    # a CPU preset's small backbone adapts at 10x the main lr; a large one (or unknown) at the main lr
    small = choose(dataclasses.replace(facts, backbone="resnet18"))
    assert small.config.lr == 1e-4 and small.config.lr_backbone == 1e-3
    assert any(line.startswith("  lr_backbone = 0.001: 20 images, a resnet18 backbone") for line in small.lines)
    assert choose(dataclasses.replace(facts, backbone="resnet50")).config.lr_backbone == 1e-4
    text = "\n".join(recipe.lines)
    assert "20 images" in text and "2 new" in text and "groups = 4" in text


def test_every_choice_can_be_overridden():
    facts = DataFacts(images=20, boxes=60, classes=7, max_boxes=6, new_classes=2, from_scratch=False)
    recipe = choose(facts, given={"groups": 1, "lr": 5e-5})
    assert recipe.config.groups == 1 and recipe.config.lr == 5e-5
    assert "  groups = 1 (given)" in recipe.lines


def test_from_scratch_on_a_few_images_memorises_them():
    """4 images from scratch can only be memorised: the recipe turns off what slows that down (the
    overfit benchmark: dropout 0.1 or the reference augmentation cut AP50 from 0.78 to 0.22-0.31)."""
    facts = DataFacts(images=4, boxes=9, classes=9, max_boxes=4, new_classes=0, from_scratch=True)
    recipe = choose(facts)
    cfg = recipe.config
    assert (cfg.dropout, cfg.augment, cfg.lr, cfg.lr_backbone) == (0.0, "resize", 5e-4, 5e-4)
    assert (cfg.groups, cfg.schedule, cfg.hflip) == (1, "step", False)
    assert (cfg.warmup_steps, cfg.drop_fraction) == (0, 0.8)
    assert cfg.replace(epochs=150).drop_epoch == 120  # the lr stays high for 80 % of the run
    assert any("memorise" in line for line in recipe.lines)
    assert choose(facts, given={"drop_fraction": 0.5}).config.drop_fraction == 0.5
    assert choose(facts, given={"augment": "reference"}).config.augment == "reference"
    assert choose(facts, given={"hflip": True}).config.hflip is True
    more = choose(DataFacts(images=200, boxes=900, classes=9, max_boxes=9, new_classes=0, from_scratch=True)).config
    assert (more.dropout, more.augment, more.lr, more.hflip) == (None, "reference", 2e-4, True)
    tuned = choose(DataFacts(images=4, boxes=9, classes=9, max_boxes=4, new_classes=0, from_scratch=False)).config
    assert (tuned.dropout, tuned.augment, tuned.hflip) == (None, "reference", True)  # fine-tuning keeps the model's own


def test_flips_are_given_only_when_asked_for_on_the_command_line():
    """--no-flip and --flip are the user's own choices and win over the recipe's; without either
    the recipe decides (no flips when memorising a few images, flips otherwise)."""
    from detr_core.cli.train import recipe_inputs

    facts = DataFacts(images=4, boxes=9, classes=9, max_boxes=4, new_classes=0, from_scratch=True)
    for argv, expected in (([], False), (["--flip"], True), (["--no-flip"], False)):
        given, base = recipe_inputs(["--out", "run", "--config", "tiny", *argv], True)
        assert ("hflip" in given) == bool(argv)
        assert choose(facts, given, base).config.hflip is expected, argv


def test_large_data_keeps_the_reference_recipe():
    facts = DataFacts(images=50_000, boxes=300_000, classes=80, max_boxes=60, new_classes=0, from_scratch=False)
    cfg = choose(facts).config
    assert cfg == TrainConfig()


@pytest.mark.parametrize("text, seconds", [("10m", 600), ("90s", 90), ("1h30m", 5400), ("45", 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10x", "", "0s", "m"])
def test_bad_durations_name_the_setting(text):
    with pytest.raises(BudgetError, match="--time-budget"):
        parse_duration(text)


def test_the_fit_keeps_evaluation_within_a_tenth_of_the_budget():
    budget = TimeBudget(600.0, steps_per_epoch=5)
    plan = budget.fit(elapsed_s=5.0, steps_done=4, step_s=0.5, epoch_overhead_s=0.2, eval_s=6.0, has_val=True)
    evals = plan.epochs // plan.eval_every + 1
    assert evals * 6.0 <= 0.1 * 600 + 6.0
    train_s = plan.epochs * (5 * 0.5 + 0.2)
    assert train_s + evals * 6.0 <= 600 - 5.0 + 5 * 0.5 + 6.0  # within one epoch and one eval of the budget
    assert plan.epochs >= 180  # and uses it: (600 - 60) / 2.7 s per epoch


def test_a_budget_shorter_than_one_step_is_refused():
    with pytest.raises(BudgetError, match="shorter than one training step"):
        TimeBudget(2.0, 5).fit(elapsed_s=3.0, steps_done=1, step_s=3.0, epoch_overhead_s=0, eval_s=0,
                               has_val=False)


def test_out_of_time_before_the_last_step_and_final_eval():
    budget = TimeBudget(100.0, 5)
    assert not budget.out_of_time(90.0, 2.0, 5.0)
    assert budget.out_of_time(95.0, 2.0, 5.0)


@pytest.mark.slow
def test_a_run_with_a_budget_fits_its_epochs_and_ends_completed(tmp_path):
    data = train_data(shapes_dataset(tmp_path / "train", 4), shapes_dataset(tmp_path / "val", 2, seed=4))
    cfg = TrainConfig(epochs=1, batch_size=1, num_workers=0, time_budget_s=60.0, groups=2, ema_decay=0.9)
    rec = Recorder()
    (tmp_path / "run").mkdir()
    result = train(cfg, tiny_model(seed=0), data, rec, model_config=tiny_config(), run_dir=tmp_path / "run")
    assert rec.of("start")[0]["time_budget_s"] == 60.0
    plans = [s["plan"] for s in rec.of("step") if s.get("plan")]
    if result.step > 4:  # the first 4 steps are timed before the fit (a loaded machine may not get there)
        assert plans and "min budget" in plans[0], plans
    assert result.status == "completed" and (tmp_path / "run/model.pth").is_file()
    assert rec.of("eval") and rec.events[-1]["type"] == "end"  # the final evaluation happens on time
    assert result.epoch == rec.of("end")[0]["epoch"] >= 1


def test_train_refuses_a_bad_budget_before_writing(tmp_path, capsys):
    train_json = shapes_dataset(tmp_path / "train", 2)
    out = tmp_path / "run"
    code = cli(["train", "--train-json", str(train_json), "--config", "tiny", "--out", str(out),
                "--time-budget", "ten minutes"])
    assert code == 1 and not out.exists()
    assert "--time-budget" in capsys.readouterr().err


def test_a_run_with_dropout_set_trains_and_saves_without_it(tmp_path):
    data = train_data(shapes_dataset(tmp_path / "train", 2))
    model = tiny_model(seed=0)  # the tiny preset: dropout 0.1
    cfg = TrainConfig(epochs=1, batch_size=2, num_workers=0, dropout=0.0, eval_every=0)
    (tmp_path / "run").mkdir()
    train(cfg, model, data, model_config=tiny_config(), run_dir=tmp_path / "run")
    model.train()
    images = torch.rand(1, 3, 96, 96)
    with torch.no_grad():  # no dropout left anywhere: two training-mode passes agree
        assert torch.equal(model(images)["pred_logits"], model(images)["pred_logits"])
    saved = torch.load(tmp_path / "run/model.pth", weights_only=True)
    assert saved["model_config"]["dropout"] == 0.0


def test_resize_augmentation_keeps_every_image_at_the_evaluation_size(tmp_path):
    from detr_core.data.transforms import RESOLUTIONS
    from detr_core.train.setup import load_data

    path = shapes_dataset(tmp_path / "train", 3)
    res = RESOLUTIONS["192"]
    for augment, sizes in (("resize", {res.eval_size}), ("reference", None)):
        data = load_data(path, None, None, None, res, hflip=True, seed=0, augment=augment).data
        seen = set()
        for epoch in range(4):
            data.train.set_epoch(epoch)
            seen |= {min(data.train[i][0].shape[1:]) for i in range(3)}
        assert seen == sizes if sizes else len(seen) > 1, (augment, seen)


@pytest.mark.slow
def test_train_from_scratch_on_a_few_images_prints_and_uses_the_memorising_recipe(tmp_path, capsys):
    train_json = shapes_dataset(tmp_path / "train", 2)
    out = tmp_path / "run"
    code = cli(["train", "--train-json", str(train_json), "--config", "tiny", "--out", str(out),
                "--epochs", "1", "--resolution", "192"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "augment = resize" in err and "dropout = 0.0" in err and "lr = 0.0005" in err
    assert "hflip = False" in err
    saved = torch.load(out / "model.pth", weights_only=True)
    assert saved["model_config"]["dropout"] == 0.0
