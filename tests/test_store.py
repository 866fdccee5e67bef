"""The versioned run store: a store an earlier mnistlib wrote (tests/fixtures/store_format1, made by the
code of commit 1006edd; store_format2, by that of 8e9aef5) is upgraded by the first command that writes,
every run reused and none retrained, and a kill at any moment of the upgrade leaves a store the next
command finishes."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch

import mnistlib.training.lifecycle as lifecycle
from mnistlib import RunConfig, RunStore, train
from mnistlib.cli import main
from mnistlib.errors import RunStoreError, StoreFormatError
from mnistlib.store.format import FORMAT, MARK, STORE_FILE

FIXTURE = Path(__file__).parent / "fixtures" / "store_format1"
FIXTURE_2 = Path(__file__).parent / "fixtures" / "store_format2"
TINY = dict(train_subset=200, test_subset=100, subset_mode="stratified")
# The fixture's runs: folder name under format 1 -> the same run's config today.
FINISHED = {
    "mlp8-e1-n200-ntest100-stratified-960464c2": RunConfig(model="mlp:8", epochs=1, **TINY),
    "mlp8-e2-n200-ntest100-stratified-4008d974": RunConfig(model="mlp:8", epochs=2, **TINY),  # continued
    "mlp8-lr0.05-e2-n200-ntest100-cosine-stratified-f8d3ecd9": RunConfig(model="mlp:8", epochs=2, schedule="cosine",
                                                                          lr=0.05, **TINY),
    "mlp8-e1-n200-ntest100-stratified-seedprotocol-6ec5f130": RunConfig.preset("original", model="mlp:8", epochs=1,
                                                                                **TINY),
    "mlp8-e2-seed1-n200-ntest100-stratified-f1a1fb45": RunConfig(model="mlp:8", epochs=2, seed=1, save_every_epoch=True,
                                                                 **TINY),
    "lenet5-seedprotocol-imported-c617bbed": RunConfig.preset("original", model="LeNet5", epochs=50,
                                                              origin="original-checkpoint"),
}
INTERRUPTED = ("mlp8-e3-seed2-n200-ntest100-stratified-bca93f34", RunConfig(model="mlp:8", epochs=3, seed=2, **TINY))


def old_store(tmp_path: Path, name: str = "runs") -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / name))


def snapshot(root: Path) -> dict:
    """Every file under ``root`` and its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def no_training(monkeypatch):
    monkeypatch.setattr(lifecycle, "train_epoch", lambda *a, **k: pytest.fail("a stored run was trained again"))


def test_reading_an_older_store_says_how_to_upgrade_it_and_changes_nothing(tmp_path, capsys):
    root = old_store(tmp_path)
    before = snapshot(root)
    with pytest.raises(StoreFormatError, match=r"a run store of format 1, from an earlier mnistlib; upgrade it "
                                               r"with `mnistlib upgrade`"):
        RunStore(root).find(FINISHED["mlp8-e1-n200-ntest100-stratified-960464c2"])
    for command in (["runs"], ["graph", "mlp8-e1"], ["compare", "mlp8-e1", "mlp8-e2"]):
        assert main([*command, "--runs-dir", str(root)]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "mnistlib upgrade" in err, err
    assert snapshot(root) == before


def test_the_first_writer_upgrades_and_every_run_is_reused(tmp_path, monkeypatch, mnist):
    root = old_store(tmp_path)
    store = RunStore(root)
    no_training(monkeypatch)
    for old, cfg in FINISHED.items():
        if cfg.origin == "trained":
            run = train(cfg, store=store, data=mnist, progress=False)
        else:
            run = store.find(cfg)
        assert run.finished and run.path.name != old, old
        expected = pd.read_csv(FIXTURE / old / "history.csv")
        pd.testing.assert_frame_equal(run.history, expected, check_dtype=False)
        config = json.loads((run.path / "config.json").read_text())
        assert config[MARK] == FORMAT and RunConfig.from_dict({k: v for k, v in config.items() if k != MARK}) == cfg
        for checkpoint in (run.path / "checkpoints").glob("*.pt"):  # the config inside each checkpoint too
            assert torch.load(checkpoint, weights_only=True)["config"] == cfg.to_dict(), checkpoint
    assert json.loads((root / STORE_FILE).read_text()) == {"format": FORMAT}
    assert len(store.run_folders()) == len(FINISHED) + 1 and not list(root.glob(".upgrade-*"))
    every = store.find(FINISHED["mlp8-e2-seed1-n200-ntest100-stratified-f1a1fb45"])
    assert {p.name for p in (every.path / "checkpoints").iterdir()} == {"best.pt", "last.pt", "epoch_001.pt",
                                                                         "epoch_002.pt"}
    assert (every.path / "test_eval.csv").read_bytes() == (FIXTURE / "mlp8-e2-seed1-n200-ntest100-stratified-f1a1fb45"
                                                           / "test_eval.csv").read_bytes()
    base = store.find(FINISHED["mlp8-e1-n200-ntest100-stratified-960464c2"])
    continued = store.find(FINISHED["mlp8-e2-n200-ntest100-stratified-4008d974"])
    assert json.loads((continued.path / "run.json").read_text())["continued_from"] == base.name
    locks = {p.name for p in (root / ".locks").iterdir()}
    assert not {f"{old.rsplit('-', 1)[1]}.lock" for old in FINISHED} & locks  # named by the old hashes: gone
    assert main(["upgrade", "--runs-dir", str(root)]) == 0  # nothing left to do


def test_a_format_2_store_takes_the_originals_names(tmp_path, monkeypatch, mnist):
    """Format 3 renamed the original's loss, protocol and origin (they said "seed"): part of the runs'
    identities, so their folders, configs and continued_from follow."""
    root = Path(shutil.copytree(FIXTURE_2, tmp_path / "runs"))
    no_training(monkeypatch)
    store = RunStore(root)
    template = train(RunConfig(model="mlp:8", epochs=1, **TINY), store=store, data=mnist, progress=False)
    assert template.path.name == "mlp8-e1-n200-ntest100-stratified-d321989c"  # untouched by the renames
    short, long = (train(RunConfig.preset("original", model="mlp:8", epochs=e, **TINY), store=store, data=mnist,
                         progress=False) for e in (1, 2))
    for run in (short, long):
        assert "-originalprotocol-" in run.path.name and run.config.loss == "softmax_then_cross_entropy"
        old = next(FIXTURE_2.glob(f"mlp8-e{run.config.epochs}-*-seedprotocol-*"))
        pd.testing.assert_frame_equal(run.history, pd.read_csv(old / "history.csv"), check_dtype=False)
    assert json.loads((long.path / "run.json").read_text())["continued_from"] == short.name
    imported = store.find(RunConfig.preset("original", model="CustomMLP_6", epochs=50, origin="original-checkpoint"))
    assert imported.finished and imported.path.name.startswith("custommlp_6-originalprotocol-imported-")
    assert len(store.run_folders()) == 4 and json.loads((root / STORE_FILE).read_text()) == {"format": FORMAT}


def test_an_interrupted_run_resumes_after_the_upgrade(tmp_path, monkeypatch, mnist):
    root = old_store(tmp_path)
    calls = []
    real = lifecycle.train_epoch
    monkeypatch.setattr(lifecycle, "train_epoch", lambda *a, **k: calls.append(1) or real(*a, **k))
    run = train(INTERRUPTED[1], store=RunStore(root), data=mnist, progress=False)
    assert len(calls) == 2 and run.finished and run.history.epoch.tolist() == [1, 2, 3]
    first = pd.read_csv(FIXTURE / INTERRUPTED[0] / "history.csv")
    pd.testing.assert_frame_equal(run.history.iloc[:1], first, check_dtype=False)
    alone = train(INTERRUPTED[1], store=RunStore(tmp_path / "alone"), data=mnist, progress=False)
    pd.testing.assert_frame_equal(run.history.drop(columns="seconds"), alone.history.drop(columns="seconds"))


def test_a_run_of_an_earlier_model_revision_stays_unusable(tmp_path, capsys):
    """A folder written before LeNet-5's F6 changed (no model_revision in config.json: revision 1) is
    upgraded in place, keeps its name, and is still refused, not reused; an MLP's (revision 1 then and
    now) becomes readable."""
    root = old_store(tmp_path)
    old = root / "lenet5-06d745cb"
    shutil.copytree(root / "mlp8-e1-n200-ntest100-stratified-960464c2", old)
    values = json.loads((old / "config.json").read_text())
    (old / "config.json").write_text(json.dumps({**values, "model": "LeNet5"}))
    store = RunStore(root)
    assert store.upgrade() == len(FINISHED) + 2
    assert store.find(RunConfig()) is None
    with pytest.raises(RunStoreError, match="revision 1 of model LeNet5"):
        store.load("lenet5-06d745cb")
    assert main(["runs", "--runs-dir", str(root)]) == 0  # listed as unusable, not fatal
    assert "lenet5-06d745cb" in capsys.readouterr().out


def test_a_store_newer_than_this_mnistlib_is_refused(tmp_path, capsys, mnist):
    root = old_store(tmp_path)
    (root / STORE_FILE).write_text(json.dumps({"format": FORMAT + 1}))
    before = snapshot(root)
    message = rf"a run store of format {FORMAT + 1}, newer than this mnistlib's \({FORMAT}\); update mnistlib"
    with pytest.raises(StoreFormatError, match=message):
        RunStore(root).run_folders()
    with pytest.raises(StoreFormatError, match=message):
        train(INTERRUPTED[1], store=RunStore(root), data=mnist, progress=False)
    assert main(["train", "--model", "mlp:8", "--epochs", "1", "--runs-dir", str(root), "--no-progress"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert snapshot(root) == before


def test_upgrade_finds_older_run_folders_copied_into_a_current_store(tmp_path, capsys):
    root = tmp_path / "runs"
    RunStore(root).writable()
    assert json.loads((root / STORE_FILE).read_text()) == {"format": FORMAT}
    shutil.copytree(FIXTURE / INTERRUPTED[0], root / INTERRUPTED[0])
    with pytest.raises(StoreFormatError, match="a run folder of an earlier store format"):
        RunStore(root).load(INTERRUPTED[0])
    assert main(["upgrade", "--runs-dir", str(root)]) == 0
    assert "1 run upgraded, none retrained" in capsys.readouterr().out
    assert RunStore(root).find(INTERRUPTED[1]).epochs_done == 1


def test_a_damaged_run_does_not_stop_the_upgrade(tmp_path):
    root = old_store(tmp_path)
    (root / INTERRUPTED[0] / "config.json").write_text("{not json")
    (root / "mlp8-e1-n200-ntest100-stratified-960464c2" / "checkpoints" / "best.pt").write_bytes(b"garbage")
    notes = []
    from mnistlib.store.format import ensure_current

    assert ensure_current(root, notes.append) == len(FINISHED)
    assert any("unreadable, left as it is" in note for note in notes)
    assert (root / INTERRUPTED[0]).exists()  # still there, for its owner to restore
    run = RunStore(root).find(FINISHED["mlp8-e1-n200-ntest100-stratified-960464c2"])
    assert (run.path / "checkpoints" / "best.pt").read_bytes() == b"garbage"  # carried over as it was


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import mnistlib.store.format as sf
    from mnistlib import RunStore

    where, after = sys.argv[2], int(sys.argv[3])
    calls = []

    def kill_after(real, before_dying=lambda *args: None):
        def call(*args, **kwargs):
            calls.append(1)
            if len(calls) > after:
                before_dying(*args)
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return call

    if where == "rename into place":       # a run's new folder complete, the old one still there
        sf._discard = kill_after(sf._discard)
    elif where == "checkpoint":            # halfway through writing a run's new folder
        sf.save_checkpoint = kill_after(sf.save_checkpoint)
    elif where == "removing the old":      # the old folder renamed out of the store and partly deleted
        sf.shutil.rmtree = kill_after(sf.shutil.rmtree, lambda path: next(Path(path).rglob("*.pt")).unlink())
    elif where == "store.json":            # every run done, the store's own file not yet written
        real_write = sf.write_json
        sf.write_json = lambda path, value: (kill_after(real_write)(path, value) if path.name == sf.STORE_FILE
                                             else real_write(path, value))
    RunStore(sys.argv[1]).upgrade()
""")


@pytest.mark.parametrize("where, after", [("rename into place", 2), ("checkpoint", 5), ("removing the old", 3),
                                          ("store.json", 0)])
@pytest.mark.slow
def test_a_kill_during_the_upgrade_leaves_a_store_the_next_command_finishes(tmp_path, mnist, monkeypatch, where,
                                                                            after):
    reference = old_store(tmp_path, "reference")
    RunStore(reference).upgrade()
    root = old_store(tmp_path)
    killed = subprocess.run([sys.executable, "-c", KILLER, str(root), where, str(after)], capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    assert not (root / STORE_FILE).exists()
    with pytest.raises(StoreFormatError):  # still an older store to a reader
        RunStore(root).run_folders()
    no_training(monkeypatch)
    assert train(FINISHED["mlp8-e1-n200-ntest100-stratified-960464c2"], store=RunStore(root), data=mnist,
                 progress=False).finished  # the next command that writes finishes the upgrade
    assert sorted(p.name for p in root.iterdir() if p.name != ".locks") == \
        sorted(p.name for p in reference.iterdir() if p.name != ".locks")
    for run in RunStore(reference).run_folders():
        theirs, ours = snapshot(run), snapshot(root / run.name)
        assert theirs.keys() == ours.keys(), run.name
        for name in ("config.json", "history.csv"):
            assert ours[name] == theirs[name], (run.name, name)
    assert os.listdir(root / ".locks")  # the store lock stays, as it should


# ----------------------------------------------------------------------------- what the store's files are

@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_the_stores_files_get_the_umasks_mode(mnist, tmp_path, mask):
    """A store shared by several users or machines: every file and folder a run writes (trained or imported)
    has the mode a plain open or mkdir gives under the umask, not a temporary file's 0600."""
    from mnistlib.original.checkpoints import import_original

    old = os.umask(mask)
    try:
        store = RunStore(tmp_path / "runs")
        train(RunConfig(model="CustomMLP_6", epochs=1, **TINY), store=store, data=mnist, progress=False)
        import_original(store=store)
    finally:
        os.umask(old)
    modes = {path.relative_to(store.root): path.stat().st_mode & 0o777 for path in store.root.rglob("*")
             if ".locks" not in path.parts}
    assert modes and all(mode == (0o777 if path.is_dir() else 0o666) & ~mask
                         for path, mode in modes.items() for path in [store.root / path]), modes


def test_the_run_hash_and_the_checkpoints_name_no_module_of_mnistlib(mnist, tmp_path):
    """Nothing stored depends on where mnistlib's code lives: a run's identity is its settings' values, and its
    checkpoints hold tensors and plain containers, no pickled class or function (so a package moved into folders
    reads every stored run, and a checkpoint never runs code)."""
    import pickletools
    import zipfile

    from mnistlib.original.checkpoints import import_original
    from mnistlib.store.identity import identity
    from mnistlib.training.lifecycle import train_stack

    store = RunStore(tmp_path / "runs")
    cfgs = [RunConfig(model="LeNet5", epochs=1, seed=s, optimizer="adam", eval_every=3, **TINY) for s in (0, 1)]
    runs = [*train_stack(cfgs, store=store, data=mnist, progress=False), *import_original(store=store)]
    assert all(isinstance(value, (int, float, str, bool)) for run in runs for value in identity(run.config).values())
    checkpoints = list(store.root.rglob("*.pt"))
    assert len(checkpoints) >= 4
    for path in checkpoints:
        with zipfile.ZipFile(path) as archive:
            data = archive.read(next(name for name in archive.namelist() if name.endswith("data.pkl")))
        modules, strings = set(), []
        for op, arg, _ in pickletools.genops(data):
            if isinstance(arg, str):
                strings.append(arg)
            if op.name == "GLOBAL":
                modules.add(arg.split()[0])
            elif op.name == "STACK_GLOBAL":  # module and name: the two strings pushed last
                modules.add(strings[-2])
        assert modules and not any(module.split(".")[0] == "mnistlib" for module in modules), (path, modules)
    assert torch.load(checkpoints[0], weights_only=True)  # and torch's safe loader reads each


@pytest.mark.parametrize("links", [True, False], ids=["hard link", "copy where links are refused"])
def test_a_stacked_run_keeps_its_previous_epoch_until_it_finishes(tmp_path, monkeypatch, links):
    if not links:
        monkeypatch.setattr(os, "link", lambda *a: (_ for _ in ()).throw(PermissionError("no links here")))
    store, cfg = RunStore(tmp_path), RunConfig(model="CustomMLP_1", epochs=3, train_subset=20, test_subset=10)
    path, _, status = store.begin(cfg, {})
    rows = []
    for epoch in (1, 2):
        rows.append({"epoch": epoch, "train_loss": 1.0 / epoch, "train_acc": 50.0, "test_loss": 1.0, "test_acc": 40.0 + epoch,
                     "seconds": 0.1})
        store.save_epoch(path, cfg, {"epoch": epoch, "config": cfg.to_dict(), "history": list(rows)}, keep_previous=True)
    assert store.previous(path)["epoch"] == 1 and torch.load(path / "checkpoints" / "last.pt")["epoch"] == 2
    store.finish(path, status)
    assert store.previous(path) is None and not list((path / "checkpoints").glob(".*tmp"))
