"""Every CLI mode end to end on a tiny run; bad arguments give one-line errors."""
import json
import re
import subprocess
import sys

import pytest

from mnistlib.cli import main

TINY = ["--model", "CustomMLP_6", "--epochs", "2", "--train-subset", "600", "--test-subset", "300", "--no-progress"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def trained(capsys, scratch_folders):
    code, out, err = run_cli(capsys, "train", *TINY, "--save-every-epoch")
    assert code == 0, err
    run_dir = out.split()[0]
    return run_dir


def test_train_then_reuse(capsys, trained, scratch_folders):
    assert (scratch_folders / "runs").joinpath(trained.rsplit("/", 1)[-1], "history.csv").exists()
    code, out, err = run_cli(capsys, "train", *TINY)
    assert code == 0 and "finished run found, reusing it" in err and "finished run" not in out  # notes: stderr


def test_test_mode_evaluates_every_checkpoint(capsys, trained):
    code, out, _ = run_cli(capsys, "test", trained)
    assert code == 0
    for name in ("epoch_001", "epoch_002", "best", "last"):
        assert name in out
    assert "test_eval.csv" in out
    assert "calibration error (points)" in out and "test_acc" not in out and "confidence_right" not in out


def test_graph_and_compare(capsys, trained, scratch_folders):
    code, out, _ = run_cli(capsys, "graph", trained)
    assert code == 0 and out.strip().endswith(".svg")
    code2, _, err = run_cli(capsys, "train", *TINY[:-1], "--model", "CustomMLP_5", "--no-progress")
    assert code2 == 0, err
    code, out, _ = run_cli(capsys, "compare", "custommlp_6", "custommlp_5", "--out", "mlps", "--window", "1", "2")
    assert code == 0 and "mean test accuracy (%)" in out and "mean_test_acc" not in out
    figures = scratch_folders / "figures"
    assert {p.name for p in figures.iterdir()} >= {"mlps.png", "mlps.svg", "mlps.csv"}
    assert (figures / "mlps.png").stat().st_size > 5000


def test_params_data_runs(capsys, trained):
    code, out, _ = run_cli(capsys, "params", "LeNet5")
    assert code == 0 and "60806" in out and "1516" in out
    code, out, _ = run_cli(capsys, "data")
    facts = json.loads(out)
    assert code == 0 and facts["train"]["images"] == [60000, 28, 28]
    code, out, _ = run_cli(capsys, "runs")
    assert "2/2 epochs" in out


def test_config_file_and_flags_override(capsys, tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: CustomMLP_6\nepochs: 3\nweight_decay: 1e-3\ntrain_subset: 600\ntest_subset: 300\n")
    code, out, err = run_cli(capsys, "train", "--config", str(cfg), "--epochs", "1", "--no-progress")
    assert code == 0, err
    assert "-wd0.001-e1-" in out and "epochs=1" in out


def test_resume_by_run_name(capsys, tmp_path, mnist):
    from mnistlib import RunConfig, RunStore, train

    store = RunStore()
    cfg = RunConfig(model="CustomMLP_6", epochs=3, train_subset=600, test_subset=300)

    def stop(run, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, store=store, data=mnist, progress=False, callbacks=[stop])
    name = store.find(cfg).name
    code, out, err = run_cli(capsys, "train", "--resume", name, "--no-progress")
    assert code == 0 and "resuming after epoch 1" in err and "epochs=3" in out
    code, _, err = run_cli(capsys, "train", "--resume", name, "--epochs", "9")
    assert code == 2 and "--resume continues a run with its own config, so --epochs" in err


@pytest.mark.parametrize("argv,match", [
    (["train", "--model", "AlexNet"], "unknown model 'AlexNet'; choose one of LeNet5"),
    (["train", "--epochs", "0"], "epochs must be >= 1, got 0"),
    (["train", "--epochs", "-3"], "epochs must be >= 1, got -3"),
    (["train", "--weight-decay", "big"], "argument --weight-decay: invalid float value: 'big'"),
    (["train", "--noise-std", "-0.2"], "noise_std must be >= 0"),
    (["train", "--noise-mode", "once"], "noise_mode must be one of per-batch, fixed"),
    (["train", "--config", "/nonexistent.yaml"], "cannot read config"),
    (["params", "LeNet7"], "unknown model 'LeNet7'"),
    (["data", "--source", "kaggle"], "unknown data source 'kaggle'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_one_line(capsys, argv, match):
    """A bad command line or config: one line, exit code 2."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own type errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert match in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_python_dash_m_and_console_script(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mnistlib", "params", "CustomMLP_1"], capture_output=True, text=True)
    assert out.returncode == 0 and "60804" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "mnistlib", "train", "--lr", "-1"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip() == "mnistlib: error: lr must be > 0, got -1"


def test_train_with_graph_saves_the_figure(capsys, scratch_folders):
    code, out, err = run_cli(capsys, "train", *TINY, "--graph")
    assert code == 0, err
    figures = sorted(p.name for p in (scratch_folders / "figures").iterdir())
    assert len(figures) == 2 and figures[0].startswith("run-custommlp_6-e2-n600-ntest300-") and figures[0].endswith(".png")


def test_train_with_the_recipe_flags(capsys, scratch_folders):
    code, out, err = run_cli(capsys, "train", *TINY, "--schedule", "cosine", "--warmup-epochs", "1", "--shift", "2",
                             "--batch-size", "128", "--lr", "0.1")
    assert code == 0, err
    config = json.loads((scratch_folders / "runs" / out.split()[0].rsplit("/", 1)[-1] / "config.json").read_text())
    assert (config["schedule"], config["warmup_epochs"], config["shift"], config["batch_size"]) == ("cosine", 1, 2, 128)
    code, _, err = run_cli(capsys, "train", *TINY, "--shift", "9")
    assert code == 2 and err.strip() == "mnistlib: error: shift must be <= 4, got 9"


@pytest.mark.parametrize("argv,match", [
    (["graph", "no-such-run"], "run 'no-such-run' does not exist"),
    (["test", "no-such-run"], "run 'no-such-run' does not exist"),
    (["compare", "x", "y"], "does not exist"),
    (["data", "--data", "/nonexistent"], "no such file or folder"),
])
def test_failures_while_running_exit_1(capsys, argv, match):
    """A missing run or data file fails while running: one line, exit code 1."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1 and match in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_help_is_instant_and_says_the_exit_codes():
    """--help and usage errors do not import torch, so they answer at once."""
    probe = ("import sys\nfrom mnistlib.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n"
             "    print('exit', exc.code)\nprint('torch loaded:', 'torch' in sys.modules)")
    for argv in (["--help"], ["train", "--epochs", "many"], ["frobnicate"]):
        out = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True)
        assert "torch loaded: False" in out.stdout, (argv, out.stdout, out.stderr)
    helped = subprocess.run([sys.executable, "-m", "mnistlib", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "2 a bad command line" in helped.stdout and "130 interrupted" in helped.stdout


def test_a_short_run_says_what_it_has(capsys, scratch_folders):
    code, out, err = run_cli(capsys, "train", *TINY)
    assert code == 0, err
    assert "nan" not in out and "final test acc=" in out and "best=" in out
    assert "needs >= 49 epochs" in out


def test_report_without_the_notebooks_extra(capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "papermill" else real(name, *a))
    code = main(["report", "--profile", "smoke"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err
    assert err.startswith("mnistlib: error: mnistlib report needs the notebooks extra") and "pip install -e '.[notebooks]'" in err


def test_tensorboard_export(capsys, trained, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    code, out, err = run_cli(capsys, "export", trained, "--tensorboard", str(tmp_path / "tb"))
    assert code == 0, err
    folder = out.strip().splitlines()[0]
    events = EventAccumulator(folder)
    events.Reload()
    acc = [(e.step, round(e.value, 4)) for e in events.Scalars("accuracy/test")]
    history = __import__("pandas").read_csv(f"{trained}/history.csv")
    assert acc == [(int(r.epoch), round(r.test_acc, 4)) for r in history.itertuples()]
    assert set(events.Tags()["scalars"]) == {"loss/train", "loss/test", "accuracy/train", "accuracy/test"}
    assert run_cli(capsys, "export", trained, "--tensorboard", str(tmp_path / "tb"))[0] == 0  # again: replaced
    events = EventAccumulator(folder)
    events.Reload()
    assert len(events.Scalars("accuracy/test")) == len(history)


def test_tensorboard_missing_is_one_line(capsys, trained, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("TensorBoard logging requires TensorBoard")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    code, _, err = run_cli(capsys, "export", trained, "--tensorboard", str(tmp_path / "tb"))
    assert code == 1 and "pip install -e '.[tensorboard]'" in err and len(err.strip().splitlines()) == 1


def test_a_failing_notebook_exits_1_and_ctrl_c_130(capsys, monkeypatch):
    import mnistlib.report.runner as report

    def failing(*args, **kwargs):
        raise report.ReportError("03_weight_decay.ipynb failed in cell 5 (RuntimeError: x); partial notebook kept: y")

    monkeypatch.setattr(report, "run_report", failing)
    assert main(["report", "--profile", "smoke"]) == 1
    assert capsys.readouterr().err.startswith("mnistlib: error: 03_weight_decay.ipynb failed in cell 5")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "run_report", interrupted)
    assert main(["report", "--profile", "smoke"]) == 130


def test_train_help_reads_each_default_from_runconfig():
    """No default is typed twice: the help of every flag with one shows RunConfig's."""
    from dataclasses import fields

    from mnistlib import RunConfig
    from mnistlib.cli import TRAIN_FLAGS, build_parser

    text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    entries = {entry.split()[0]: entry for entry in re.split(r" (?=--[a-z][a-z-]* [A-Z_]+ )", text.split("options:")[1])}
    defaults = {f.name: f.default for f in fields(RunConfig)}
    for flag, (field, _, _) in TRAIN_FLAGS.items():
        value = defaults[field]
        if value is not None:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            assert entries[flag].endswith(f"(default {shown})"), (flag, entries[flag])
    assert "fast, one-epoch, far (notebook 8" in entries["--recipe"]
