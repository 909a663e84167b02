"""Many processes, one logdir: which process this is, and a writer that fits.

Strategy: no framework is imported. The process index and count come from, in order:

1. the arguments, when given;
2. JAX, only if the program already imported it (``"jax" in sys.modules``):
   ``jax.process_index()`` and ``jax.process_count()``. Call them after
   ``jax.distributed.initialize()``, as for any JAX computation;
3. the launcher's environment: ``RANK`` / ``WORLD_SIZE`` (torchrun, torch.distributed,
   Accelerate, DeepSpeed), ``SLURM_PROCID`` / ``SLURM_NTASKS`` (srun),
   ``OMPI_COMM_WORLD_RANK`` / ``OMPI_COMM_WORLD_SIZE`` (Open MPI), ``PMI_RANK`` /
   ``PMI_SIZE`` (MPICH, Intel MPI), the first pair present. ``LOCAL_RANK`` and
   ``SLURM_LOCALID`` number the processes of one host only and are never used;
4. otherwise process 0 of 1.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import Any

__all__ = ["NullWriter", "process_count", "process_index", "process_writer"]

# (index variable, count variable), in the order they are looked up.
ENV_CONVENTIONS = (
    ("RANK", "WORLD_SIZE"),
    ("SLURM_PROCID", "SLURM_NTASKS"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("PMI_RANK", "PMI_SIZE"),
)

MODES = ("main", "per_process")


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"environment variable {name} must be >= 0, got {raw!r}")
    return value


def _detect() -> tuple[int, int]:
    jax = sys.modules.get("jax")
    if jax is not None and hasattr(jax, "process_index"):
        return int(jax.process_index()), int(jax.process_count())
    for index_var, count_var in ENV_CONVENTIONS:
        index = _env_int(index_var)
        if index is not None:
            count = _env_int(count_var)
            return index, (index + 1 if count is None else count)
    return 0, 1


def process_index() -> int:
    """This process's index among the processes of the job (see the module docstring)."""
    return _detect()[0]


def process_count() -> int:
    """How many processes the job has (see the module docstring)."""
    return _detect()[1]


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


class NullWriter:
    """Accepts every :class:`~tbwrite.SummaryWriter` method and writes nothing.

    What :func:`process_writer` gives the processes that do not log, so that the training
    code needs no ``if process_index() == 0`` around each call. A name that is not a
    ``SummaryWriter`` method still raises ``AttributeError``.
    """

    def __init__(self, log_dir: str | None = None) -> None:
        self.log_dir = log_dir

    def get_logdir(self) -> str | None:
        return self.log_dir

    def __getattr__(self, name: str) -> Any:
        from .summary_writer import SummaryWriter

        if name.startswith("_") or not callable(getattr(SummaryWriter, name, None)):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return _discard

    def __enter__(self) -> NullWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def __repr__(self) -> str:
        return f"NullWriter(log_dir={self.log_dir!r})"


def _discard(*args: Any, **kwargs: Any) -> None:
    return None


def process_writer(
    log_dir: str | os.PathLike[str],
    *,
    mode: str = "main",
    process_index: int | None = None,
    process_count: int | None = None,
    **writer_kwargs: Any,
) -> Any:
    """A writer for this process of a multi-process (multi-host) job.

    Args:
        log_dir: the run directory (``mode="main"``) or the parent of the processes' runs
            (``mode="per_process"``); a local path or an fsspec URL.
        mode: ``"main"``: process 0 gets a :class:`~tbwrite.SummaryWriter` on ``log_dir``,
            every other process a :class:`NullWriter` (the usual convention, clu's: log
            metrics that are already the same on every process once). ``"per_process"``:
            every process gets a writer on its own run ``<log_dir>/process_<index>``,
            zero-padded to the width of ``process_count - 1`` so that runs sort in order.
        process_index: overrides the detection (see the module docstring).
        process_count: overrides the detection (see the module docstring).
        writer_kwargs: passed to ``SummaryWriter``.

    Each process's files carry its host, pid and a counter in their names, so processes never
    share a file even when they share a directory.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'main' or 'per_process', got {mode!r}")
    if not isinstance(log_dir, (str, os.PathLike)):
        raise TypeError(f"log_dir must be a str or os.PathLike, got {log_dir!r}")
    root = os.fspath(log_dir)
    if process_index is None or process_count is None:
        index, count = _detect()
        if process_index is None:
            process_index = index
        if process_count is None:
            process_count = count
    index = _check_int(process_index, "process_index", 0)
    count = _check_int(process_count, "process_count", 1)
    if index >= count:
        raise ValueError(f"process_index must be < process_count ({count}), got {index}")

    from .summary_writer import SummaryWriter

    if mode == "main":
        if index != 0:
            return NullWriter(root)
        return SummaryWriter(root, **writer_kwargs)
    from .._sinks import join

    width = len(str(count - 1))
    name = f"process_{index:0{width}d}"
    path = join(root, name)
    return SummaryWriter(path, **writer_kwargs)
