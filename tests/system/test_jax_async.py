"""Real JAX arrays logged as scalars: not read at the call, read back by TensorBoard.

JAX runs in a subprocess (it starts threads, and other tests of the suite fork).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELPERS = ROOT / "tests" / "helpers"
if str(HELPERS) not in sys.path:
    sys.path.insert(0, str(HELPERS))

_SCRIPT = r"""
import json, sys, time
import jax, jax.numpy as jnp
from tbwrite import DeviceValueError, SummaryWriter
from tbwrite.integrations.clu import SummaryWriter as CluWriter

root = sys.argv[1]
out = {}

@jax.jit
def train_step(w, x):
    loss, grad = jax.value_and_grad(lambda w: jnp.mean(jnp.tanh(x @ w) ** 2))(w)
    return w - 0.5 * grad, loss

@jax.jit
def slow(x):  # ~tens of ms on a CPU: long enough to catch it unfinished
    return jax.lax.fori_loop(0, 200, lambda i, a: jnp.tanh(a @ a), x).sum()

key = jax.random.PRNGKey(0)
w = jax.random.normal(key, (64, 8)) * 0.3
x = jax.random.normal(jax.random.PRNGKey(1), (256, 64))
losses = []
writer = SummaryWriter(root + "/torch", max_queue=4)
clu = CluWriter(root + "/clu")
for step in range(30):
    w, loss = train_step(w, x)
    losses.append(loss)
    writer.add_scalar("loss", loss, step)
    writer.add_scalar("loss_bf16", loss.astype(jnp.bfloat16), step)
    if step == 0:  # a numpy bfloat16 (ml_dtypes, numpy kind "V") is a real number too
        import numpy as np
        writer.add_scalar("np_bf16", np.asarray(loss.astype(jnp.bfloat16)), step)
    writer.add_scalars("pair", {"a": loss.reshape(1), "b": 1.0}, step)
    clu.write_scalars(step, {"loss": loss, "lr": 0.5})

big = jnp.ones((300, 300)) * 1e-3
slow(big).block_until_ready()
t_dispatch = time.perf_counter()
y = slow(big)
t0 = time.perf_counter()
writer.add_scalar("slow", y, 0)
out["call_seconds"] = time.perf_counter() - t0
out["ready_after_call"] = bool(y.is_ready())
out["slow"] = float(y)
out["compute_seconds"] = time.perf_counter() - t_dispatch

for bad, name in [(jnp.ones(3), "shape"), (jnp.ones((), jnp.complex64), "dtype")]:
    try:
        writer.add_scalar("bad", bad, 0)
    except (TypeError, ValueError) as err:
        out["refused_" + name] = type(err).__name__

writer.flush()  # an empty buffer: the next record stays in it (max_queue 4)
gone = train_step(w, x)[1]
writer.add_scalar("gone", gone, 0)
gone.delete()  # as a donated buffer would be
try:
    writer.flush()
except DeviceValueError as err:
    out["gone_error"] = [err.tag, err.step]
writer.close()
clu.close()
out["losses"] = [float(v) for v in losses]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory):
    pytest.importorskip("jax")
    root = tmp_path_factory.mktemp("jax")
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(root)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, json.loads(proc.stdout.strip().splitlines()[-1])


def _scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    from readback import accumulator

    return [(e.step, e.value) for e in accumulator(run_dir).Scalars(tag)]


def _tensor_scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    # The clu-style writer writes tf.summary.scalar's form: rank-0 tensors.
    from readback import accumulator
    from tensorboard.util import tensor_util

    events = accumulator(run_dir).Tensors(tag)
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in events]


def test_jax_values_are_read_back_by_tensorboard_in_order(jax_run) -> None:
    root, out = jax_run
    losses = out["losses"]
    assert losses[-1] < losses[0]  # it trained: the values differ step to step
    expected = [(s, pytest.approx(v, rel=1e-6)) for s, v in enumerate(losses)]
    assert _scalars(root / "torch", "loss") == expected
    assert _scalars(root / "torch" / "pair_a", "pair") == expected
    assert _tensor_scalars(root / "clu", "loss") == expected
    assert _scalars(root / "torch", "loss_bf16") == [
        (s, pytest.approx(v, rel=1e-2)) for s, v in enumerate(losses)
    ]
    assert _scalars(root / "torch", "np_bf16") == [(0, pytest.approx(losses[0], rel=1e-2))]
    assert _scalars(root / "torch", "slow") == [(0, pytest.approx(out["slow"], rel=1e-6))]


def test_the_call_does_not_wait_for_the_device(jax_run) -> None:
    _, out = jax_run
    assert out["ready_after_call"] is False
    assert out["call_seconds"] < out["compute_seconds"] / 10


def test_bad_arrays_are_refused_at_the_call_and_a_deleted_one_is_reported(jax_run) -> None:
    root, out = jax_run
    assert out["refused_shape"] == "ValueError" and out["refused_dtype"] == "TypeError"
    assert out["gone_error"] == ["gone", 0]
    from readback import accumulator

    tags = accumulator(root / "torch").Tags()["scalars"]
    assert "gone" not in tags and "bad" not in tags


def test_bench_jax_runs_its_three_loops() -> None:
    pytest.importorskip("jax")
    proc = subprocess.run(
        [sys.executable, "-m", "tbwrite", "bench", "--jax", "--quick", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    # Each logging loop's losses were all in its file (the benchmark checks, or fails).
    for loop in ("no logging", "add_scalar(loss)", "add_scalar(float(loss))"):
        assert any(line.strip().startswith(loop) and "ms/step" in line for line in lines)


_EXIT_SCRIPT = r"""
import sys
from tbwrite import SummaryWriter

writer = SummaryWriter(sys.argv[1])  # opened before JAX is imported
import jax, jax.numpy as jnp

@jax.jit
def slow(x):  # ~0.1 s a value: all four still being computed when the loop below ends
    return jax.lax.fori_loop(0, 200, lambda i, a: jnp.tanh(a @ a), x).sum()

x = jnp.ones((300, 300)) * 1e-3
values = [slow(x * (i + 1)) for i in range(4)]
for i, v in enumerate(values):
    writer.add_scalar("v", v, i)
print(sum(not v.is_ready() for v in values))
# no flush, no close: the exit hook waits for the values
"""


def test_exit_writes_jax_values_still_being_computed(tmp_path) -> None:
    pytest.importorskip("jax")
    proc = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.split()[-1]) > 0  # some were still being computed at the end
    assert [step for step, _ in _scalars(tmp_path, "v")] == [0, 1, 2, 3]
