"""Run histories out to other tools: TensorBoard event files, one folder per run.

    mnistlib export lenet5-59c19bf5 custommlp_6-aa11bb22 --tensorboard tb/
    tensorboard --logdir tb/

TensorBoard is an optional extra (it brings grpcio and protobuf): ``pip install -e '.[tensorboard]'``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from ..errors import MnistlibError
from .store import Run

# history column -> TensorBoard tag: training and test curves share a chart
TAGS = {"train_loss": "loss/train", "test_loss": "loss/test", "train_acc": "accuracy/train", "test_acc": "accuracy/test"}


def summary_writer():
    """torch's SummaryWriter class, or one MnistlibError line saying how to install TensorBoard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise MnistlibError("exporting to TensorBoard needs the tensorboard package, which is not installed; "
                            "install it with: pip install -e '.[tensorboard]' (or pip install tensorboard)") from None
    return SummaryWriter


def to_tensorboard(runs: Iterable[Run], folder: str | Path) -> list[Path]:
    """Write each run's per-epoch history as scalars (and its config as text) under ``folder/<run>``;
    returns the run folders written. Writing again replaces a run's earlier events."""
    writer_class = summary_writer()
    written = []
    for run in runs:
        target = Path(folder) / run.name
        for old in target.glob("events.out.tfevents.*"):
            old.unlink()  # a second export must not add a second copy of every point
        writer = writer_class(log_dir=str(target))
        try:
            for row in run.history.itertuples():
                for column, tag in TAGS.items():
                    writer.add_scalar(tag, getattr(row, column), int(row.epoch))
            writer.add_text("config", f"```\n{json.dumps(run.config.to_dict(), indent=2)}\n```")
        finally:
            writer.close()
        written.append(target)
    return written
