"""The demo: a small hyperparameter sweep of real training runs, written with tbwrite.

Each run trains a logistic-regression classifier with numpy mini-batch SGD on a synthetic
two-class problem, logging losses and accuracies every step, weight histograms, the
weights as an image, a text note, a custom scalars layout and a PR curve at the end, so
TensorBoard has something real to show. The sweep's experiment config (domains, display
names, metric descriptions) is written once at its root; every run logs its
hyperparameters into its own run, so the HParams table follows training, and one run, with
its weight decay's sign flipped (a classic bug), diverges and ends as FAILURE.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from .._format.names import FILE_PREFIX

DEFAULT_DIR = "tbwrite-demo"


def _make_data(rng: Any, n: int, dim: int) -> tuple[Any, Any]:
    import numpy as np

    true_w = rng.normal(size=dim)
    x = rng.normal(size=(n, dim))
    logits = x @ true_w + 0.5 * rng.normal(size=n)
    y = (logits > 0).astype(np.float64)
    return x, y


class Diverged(FloatingPointError):
    """The training loss stopped being finite."""


def train_run(
    logdir: str, lr: float, batch_size: int, l2: float, steps: int = 200, seed: int = 0
) -> dict[str, float]:
    """Train one model and log it into ``logdir``; returns its final metrics.

    Raises :class:`Diverged` (after logging the run as FAILURE) when the loss blows up.
    """
    import numpy as np

    from .._writers.summary_writer import SummaryWriter

    rng = np.random.default_rng(seed)
    x, y = _make_data(rng, 2000, 16)
    x_train, y_train, x_val, y_val = x[:1600], y[:1600], x[1600:], y[1600:]
    w = np.zeros(x.shape[1])
    b = 0.0

    def evaluate(xs: Any, ys: Any) -> tuple[float, float]:
        p = 0.5 * (1.0 + np.tanh(0.5 * (xs @ w + b)))  # a sigmoid that cannot overflow
        eps = 1e-12
        loss = float(-np.mean(ys * np.log(p + eps) + (1 - ys) * np.log(1 - p + eps)))
        acc = float(np.mean((p > 0.5) == (ys > 0.5)))
        return loss, acc

    with SummaryWriter(logdir) as writer:
        writer.add_hparams(
            {"lr": lr, "batch_size": batch_size, "l2": l2, "optimizer": "sgd", "bias": True},
            {"loss/validation": None, "accuracy/validation": None},
        )
        writer.add_text(
            "notes",
            f"Logistic regression, SGD with **lr={lr}**, batch size {batch_size}, L2 {l2}.",
            0,
        )
        writer.add_custom_scalars(
            {"losses": {"train vs validation": ["Multiline", ["loss/train", "loss/validation"]]}}
        )
        for step in range(1, steps + 1):
            idx = rng.integers(0, len(x_train), size=batch_size)
            xb, yb = x_train[idx], y_train[idx]
            p = 0.5 * (1.0 + np.tanh(0.5 * (xb @ w + b)))
            grad_w = xb.T @ (p - yb) / batch_size + l2 * w
            grad_b = float(np.mean(p - yb))
            w -= lr * grad_w
            b -= lr * grad_b
            train_loss, train_acc = evaluate(xb, yb)
            norm = float(np.linalg.norm(w))
            if not np.isfinite(norm) or norm > 1e6:
                writer.add_text("notes", f"Diverged at step {step}: weight norm {norm:.3g}.", step)
                raise Diverged(f"weights diverged at step {step}")
            writer.add_scalar("loss/train", train_loss, step)
            writer.add_scalar("accuracy/train", train_acc, step)
            if step % 10 == 0:
                val_loss, val_acc = evaluate(x_val, y_val)
                writer.add_scalar("loss/validation", val_loss, step)
                writer.add_scalar("accuracy/validation", val_acc, step)
                writer.add_histogram("weights", w, step)
                writer.add_histogram("gradients", grad_w, step)
            if step % 50 == 0:
                # The 16 weights as a 4x4 grid of 16-pixel cells: red positive, blue negative.
                scaled = np.clip(w.reshape(4, 4) / (np.abs(w).max() + 1e-12), -1.0, 1.0)
                scaled = np.kron(scaled, np.ones((16, 16)))
                image = np.stack([scaled.clip(0, 1), np.zeros_like(scaled), (-scaled).clip(0, 1)])
                writer.add_image("weights/image", image, step)
        val_loss, val_acc = evaluate(x_val, y_val)
        p_val = 0.5 * (1.0 + np.tanh(0.5 * (x_val @ w + b)))
        writer.add_pr_curve("pr/validation", y_val, p_val, steps)
    return {"loss/validation": val_loss, "accuracy/validation": val_acc}


def write_config(root: str) -> None:
    """The sweep's experiment config, once at its root."""
    from .._summaries.hparams import Discrete, HParam, Metric, RealInterval
    from .._writers.experiment import write_experiment

    write_experiment(
        root,
        hparams=[
            HParam(
                "lr",
                RealInterval(0.001, 100.0),
                display_name="learning rate",
                description="SGD step size",
            ),
            HParam("batch_size", Discrete([16, 64]), display_name="batch size"),
            HParam("l2", RealInterval(-1.0, 1.0), description="L2 weight decay"),
            HParam("optimizer", Discrete(["sgd"])),
            HParam("bias", Discrete([True, False]), description="learn a bias term"),
        ],
        metrics=[
            Metric(
                "loss/validation",
                display_name="val loss",
                dataset_type="validation",
                description="cross-entropy on the held-out 400 examples",
            ),
            Metric("accuracy/validation", display_name="val accuracy", dataset_type="validation"),
            Metric("loss/train", display_name="train loss", dataset_type="training"),
        ],
        name="tbwrite demo",
        description="Logistic regression on a synthetic two-class problem.",
    )


MARKER = ".tbwrite-demo"
GRID = [*itertools.product([0.03, 0.3], [16, 64], [0.0]), (1.0, 16, -1.0)]


def _run_name(lr: float, batch_size: int, l2: float) -> str:
    return f"lr={lr},batch={batch_size}" + (f",l2={l2}" if l2 else "")


def prepare(root: str) -> None:
    """Make ``root`` ready for a new demo sweep.

    An earlier demo's output (``root`` holds the demo's marker file) is replaced: two
    sweeps in one run directory would mix their sessions. Any other non-empty ``root`` is
    refused, so the demo never deletes files it did not write.
    """
    import shutil

    if os.path.isdir(root) and os.listdir(root):
        if not os.path.exists(os.path.join(root, MARKER)):
            raise ValueError(
                f"{root!r} is not empty and holds no earlier demo: pass an empty or new DIR"
            )
        for entry in os.listdir(root):
            path = os.path.join(root, entry)
            if entry in {_run_name(*g) for g in GRID}:
                shutil.rmtree(path)
            elif entry.startswith(FILE_PREFIX + ".") and entry.endswith(".hparams"):
                os.remove(path)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, MARKER), "w") as f:
        f.write("written by `tbwrite demo`; running it again replaces this sweep\n")


def run_demo(root: str = DEFAULT_DIR, quiet: bool = False) -> list[str]:
    """Write the demo sweep under ``root``; returns the run directories."""
    prepare(root)
    write_config(root)
    runs = []
    for i, (lr, batch_size, l2) in enumerate(GRID):
        name = _run_name(lr, batch_size, l2)
        logdir = os.path.join(root, name)
        runs.append(logdir)
        try:
            metrics = train_run(logdir, lr, batch_size, l2, seed=i)
        except Diverged as err:
            if not quiet:
                print(f"  {name:<22} FAILED: {err}")
            continue
        if not quiet:
            print(f"  {name:<22} val accuracy {metrics['accuracy/validation']:.3f}")
    return runs
