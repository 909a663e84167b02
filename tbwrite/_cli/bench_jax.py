"""``tbwrite bench --jax``: does logging the loss every step slow a JAX training loop?

The same jit-compiled MLP training step, fed a batch made on the host with numpy every step
(a data pipeline), in three loops:

- ``no logging``: the loss is not looked at;
- ``add_scalar(loss)``: ``writer.add_scalar("loss", loss, step)`` with the ``jax.Array``,
  which tbwrite reads when the record is written, not at the call;
- ``add_scalar(float(loss))``: the blocking baseline, which waits for every step before
  the host makes the next batch.

On a CPU the "device" is XLA's CPU client, which by default runs a step on every core, the
host's too. ``--device-threads 1`` (the default) gives it one thread, so that on a machine
of two cores or more the host and the device run side by side, as with an accelerator (0:
XLA's default). Each loop is timed from its first step until the parameters are computed
and the writer is closed (every loss is in the file, checked after timing). The loops run
in turn, ``repeats`` times, each in each position; printed are the medians and the median
of the ratios to the loop that does not log, run by run. Figures only: nothing here
asserts a speed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

__all__ = ["main", "run"]

LOOPS = ("no logging", "add_scalar(loss)", "add_scalar(float(loss))")


def _model(batch: int, width: int, depth: int) -> tuple[Callable[..., Any], Any, Any]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    keys = jax.random.split(jax.random.PRNGKey(0), depth + 1)
    sizes = [width] * (depth + 1) + [10]
    params = [
        (jax.random.normal(k, (m, n)) / jnp.sqrt(m), jnp.zeros(n))
        for k, m, n in zip(keys, sizes[:-1], sizes[1:])
    ]
    labels = np.eye(10, dtype=np.float32)[np.arange(batch) % 10]
    rng = np.random.default_rng(0)

    def next_batch() -> tuple[Any, Any]:
        return rng.standard_normal((batch, width), dtype=np.float32), labels

    def loss_fn(params: Any, x: Any, y: Any) -> Any:
        h = x
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b)
        w, b = params[-1]
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(h @ w + b) * y, axis=-1))

    def sgd_step(params: Any, x: Any, y: Any) -> tuple[Any, Any]:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads), loss

    # jax.jit called, not used as a decorator: without jax installed (the core
    # environment's type check) it is Any, and an Any decorator would untype the function.
    step = jax.jit(sgd_step)

    return step, params, next_batch


def _wait(params: Any) -> None:
    import jax

    for leaf in jax.tree_util.tree_leaves(params):
        leaf.block_until_ready()


def _loop(
    kind: str,
    step: Callable[..., Any],
    params: Any,
    next_batch: Callable[[], Any],
    steps: int,
    logdir: str,
) -> float:
    from tbwrite import SummaryWriter

    writer = SummaryWriter(logdir)
    t0 = time.perf_counter()
    if kind == LOOPS[0]:
        for _ in range(steps):
            params, _loss = step(params, *next_batch())
    elif kind == LOOPS[1]:
        for i in range(steps):
            params, loss = step(params, *next_batch())
            writer.add_scalar("loss", loss, i)
    else:
        for i in range(steps):
            params, loss = step(params, *next_batch())
            writer.add_scalar("loss", float(loss), i)
    _wait(params)
    writer.close()
    return time.perf_counter() - t0


def run(
    steps: int = 500, repeats: int = 11, batch: int = 128, width: int = 512, depth: int = 2
) -> dict[str, Any]:
    """Time the three loops: the step and batch times, each loop's median seconds and the
    median ratio of its time to the not-logging loop's, run by run."""
    import jax

    from tbwrite import read_scalars

    step, params, next_batch = _model(batch, width, depth)
    params, loss = step(params, *next_batch())  # compile
    _wait(params)
    t0 = time.perf_counter()
    for _ in range(20):
        params, loss = step(params, *next_batch())
        float(loss)
    step_ms = (time.perf_counter() - t0) / 20 * 1000
    t0 = time.perf_counter()
    for _ in range(20):
        next_batch()
    batch_ms = (time.perf_counter() - t0) / 20 * 1000
    times: dict[str, list[float]] = {kind: [] for kind in LOOPS}
    with tempfile.TemporaryDirectory() as root:
        for kind in LOOPS:  # warm-up: the writer's first use, the loops' code paths
            _loop(kind, step, params, next_batch, 20, f"{root}/warm{LOOPS.index(kind)}")
        for r in range(repeats):
            order = LOOPS[r % 3 :] + LOOPS[: r % 3]  # each loop in each position in turn
            for kind in order:
                logdir = f"{root}/{r}-{LOOPS.index(kind)}"
                times[kind].append(_loop(kind, step, params, next_batch, steps, logdir))
                if kind != LOOPS[0]:
                    got = len(read_scalars(logdir)["."]["loss"])
                    if got != steps:
                        raise RuntimeError(f"{kind}: {got} losses in the file, not {steps}")
    base = times[LOOPS[0]]
    return {
        "device": str(jax.devices()[0]),
        "steps": steps,
        "repeats": repeats,
        "step_ms": step_ms,
        "batch_ms": batch_ms,
        "seconds": {kind: statistics.median(t) for kind, t in times.items()},
        "ratio": {
            kind: statistics.median(a / b for a, b in zip(t, base)) for kind, t in times.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tbwrite bench --jax", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--steps", type=int, default=500, help="training steps per loop")
    parser.add_argument("--repeats", type=int, default=11, help="runs of each loop (median)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--width", type=int, default=512, help="the MLP's hidden width")
    parser.add_argument("--depth", type=int, default=2, help="hidden layers")
    parser.add_argument(
        "--device-threads",
        type=int,
        default=1,
        help="threads of XLA's CPU device (default 1; 0: XLA's default, every core)",
    )
    args = parser.parse_args(argv)
    if args.device_threads and "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (
            f"{flags} --xla_cpu_multi_thread_eigen=false "
            f"intra_op_parallelism_threads={args.device_threads}"
        ).strip()
    try:
        import jax  # noqa: F401
    except ImportError:
        print("tbwrite bench --jax needs JAX: pip install jax")
        return 1
    result = run(args.steps, args.repeats, args.batch, args.width, args.depth)
    threads = args.device_threads or "XLA's default"
    print(
        f"JAX training loop on {result['device']} (device threads: {threads}), MLP "
        f"{args.depth}x{args.width}, batch {args.batch}: one step waited for takes "
        f"~{result['step_ms']:.2f} ms, the host makes a batch in ~{result['batch_ms']:.2f} ms; "
        f"{result['steps']} steps a loop, median of {result['repeats']} runs"
    )
    for kind in LOOPS:
        seconds = result["seconds"][kind]
        per_step = seconds / result["steps"] * 1000
        ratio = result["ratio"][kind]
        print(f"  {kind:<26} {seconds:7.3f} s  {per_step:6.3f} ms/step  x{ratio:.3f}")
    print("x: the loop's time over the time of the loop that does not log (run by run)")
    return 0
