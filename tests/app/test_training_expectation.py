"""What the fine-tune dialog computes before a run, without Qt: the expected time's arithmetic,
the preflight command (the same data, model and resolution as the run's), and reading the
preflight's output."""
from __future__ import annotations

from pathlib import Path

from app.training.command import DataFiles, TrainOptions, preflight_command, train_command
from app.training.expectation import StepTime, estimate_seconds, expected_time, steps_per_epoch
from app.training.preflight_check import failure_line, parse_findings


def test_steps_per_epoch_count_the_last_smaller_batch_and_the_processes():
    assert steps_per_epoch(4, 2) == 2
    assert steps_per_epoch(5, 2) == 3
    assert steps_per_epoch(5, 2, processes=2) == 2
    assert steps_per_epoch(0, 4) == 1


def test_a_step_takes_longer_with_more_images():
    step = StepTime(0.5, 2)  # the overfit: 0.5 s for a step of 2 images
    assert step.for_batch(2) == 0.5 and step.for_batch(4) == 1.0 and step.for_batch(1) == 0.25
    assert estimate_seconds(10, 5, 1.2) == 60.0


def test_the_expected_time_of_an_epochs_run():
    options = TrainOptions(epochs=10, batch_size=4)
    assert expected_time(options, 20, StepTime(0.6, 2)) == "~1 minute (10 epochs × 5 steps)."  # 10·5·1.2 s
    assert expected_time(TrainOptions(epochs=300, batch_size=4), 20, StepTime(0.6, 2)) == \
        "~30 minutes (300 epochs × 5 steps)."
    assert expected_time(options, 20, None) == \
        "10 epochs × 5 steps; time per step: measured by the preflight (its one-batch overfit)."
    assert "measured on the CPU" in expected_time(options, 20, StepTime(0.6, 2), on_gpu=True)


def test_a_timed_run_ends_on_time():
    assert expected_time(TrainOptions(minutes=10), 20, None) == "Ends in 10 minutes, with its best model."
    assert expected_time(TrainOptions(minutes=1), 20, StepTime(9.0, 2)) == "Ends in 1 minute, with its best model."


def test_the_step_time_is_read_from_the_overfit_measure():
    assert StepTime.of({"seconds_per_step": 0.31, "images_per_step": 2}) == StepTime(0.31, 2)
    assert StepTime.of(None) is None and StepTime.of({"seconds_per_step": 0.0, "images_per_step": 2}) is None


def _value(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_the_preflight_checks_what_the_run_would_use():
    data = DataFiles(Path("/r/data/train.json"), Path("/photos"), Path("/r/data/val.json"), Path("/photos"))
    for options in (TrainOptions(checkpoint="/m/model.pth", resolution="256"), TrainOptions(config="tiny")):
        train = train_command(Path("/r"), data, options)
        check = preflight_command(data, options)
        assert check[1:5] == ["-m", "detr_core", "preflight", "--json"]
        for flag in ("--train-json", "--train-images", "--val-json", "--val-images", "--resolution"):
            assert _value(check, flag) == _value(train, flag), flag
        model_flag = "--checkpoint" if options.checkpoint else "--config"
        assert _value(check, model_flag) == _value(train, model_flag)
        assert "--overfit-steps" not in check  # the command's own number of steps
    assert _value(preflight_command(data, TrainOptions(), overfit=False), "--overfit-steps") == "0"


def test_findings_are_read_from_json_lines_and_a_failure_is_its_last_line():
    out = ('{"severity": "warning", "check": "few_boxes", "message": "2 classes have fewer than 10 boxes"}\n'
           'not json\n'
           '{"severity": "ok", "check": "overfit", "message": "fine", "measured": {"seconds_per_step": 0.2, '
           '"images_per_step": 2}}\n')
    found = parse_findings(out)
    assert [(f.severity, f.check) for f in found] == [("warning", "few_boxes"), ("ok", "overfit")]
    assert found[1].measured == {"seconds_per_step": 0.2, "images_per_step": 2}
    err = "loading...\ndetr-workbench preflight: error: /m/x.pth: not a PyTorch checkpoint\n"
    assert failure_line(1, err, "p") == "detr-workbench preflight: error: /m/x.pth: not a PyTorch checkpoint"
    assert failure_line(None, "", "p") == "p: the preflight was killed by a signal"
