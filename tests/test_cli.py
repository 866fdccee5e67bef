"""Every CLI mode end to end on a tiny run; bad arguments give one-line errors."""
import json
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
    code, out, _ = run_cli(capsys, "train", *TINY)
    assert code == 0 and "finished run found, reusing it" in out


def test_test_mode_evaluates_every_checkpoint(capsys, trained):
    code, out, _ = run_cli(capsys, "test", trained)
    assert code == 0
    for name in ("epoch_001", "epoch_002", "best", "last"):
        assert name in out
    assert "test_eval.csv" in out


def test_graph_and_compare(capsys, trained, scratch_folders):
    code, out, _ = run_cli(capsys, "graph", trained)
    assert code == 0 and out.strip().endswith(".svg")
    code2, _, err = run_cli(capsys, "train", *TINY[:-1], "--model", "CustomMLP_5", "--no-progress")
    assert code2 == 0, err
    code, out, _ = run_cli(capsys, "compare", "custommlp_6", "custommlp_5", "--out", "mlps", "--window", "1", "2")
    assert code == 0 and "mean_test_acc" in out
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
    code, out, _ = run_cli(capsys, "train", "--resume", name, "--no-progress")
    assert code == 0 and "resuming after epoch 1" in out and "epochs=3" in out
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
    (["graph", "no-such-run"], "run 'no-such-run' does not exist"),
    (["test", "no-such-run"], "run 'no-such-run' does not exist"),
    (["compare", "x", "y"], "does not exist"),
    (["params", "LeNet7"], "unknown model 'LeNet7'"),
    (["data", "--data", "/nonexistent"], "no such file or folder"),
    (["data", "--source", "kaggle"], "unknown data source 'kaggle'"),
])
def test_bad_arguments_one_line(capsys, argv, match):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own type errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert match in err
    assert len(err.strip().splitlines()) == 1, err


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
