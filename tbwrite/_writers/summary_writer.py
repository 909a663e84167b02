"""SummaryWriter: PyTorch's ``torch.utils.tensorboard.SummaryWriter`` API, without torch.

Strategy: each method validates all of its arguments first (so a rejected call writes
nothing), then builds one Summary and hands it to the run core
(:class:`~tbwrite._run.RunWriter`), which adds metadata once per tag and writes the record.
Scalars take a hand-encoded path (:mod:`tbwrite._format.fast_scalars`) to the main event
file, bound once from the run core (:meth:`~tbwrite._run.RunWriter.float_scalar_writer`);
other kinds are built with protobuf in :mod:`tbwrite._summaries`, imported on
first use together with numpy. The media methods live in :mod:`.media_methods`, the
histogram methods in :mod:`.histogram_methods`.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._checks import (
    as_float,
    as_scalar,
    as_step,
    as_walltime,
    check_filename_suffix,
    check_subrun_name,
    check_tag,
    check_text,
)
from .._lifecycle import hooks
from .._run import RunWriter
from .histogram_methods import HistogramMethods
from .hparams_methods import HParamsMethods
from .media_methods import MediaMethods

if TYPE_CHECKING:
    from .._types import ArrayLike, Real, Step, WallTime

__all__ = ["SummaryWriter", "default_logdir", "open_run", "writer_over"]

_now = time.time  # bound once: add_scalar is the hot path
HISTOGRAM_FORMS = ("torch", "tensor")


def default_logdir(comment: str = "") -> str:
    """``runs/<Mon><dd>_<HH-MM-SS>_<host><comment>``, as PyTorch names a new run."""
    import socket
    from datetime import datetime

    current_time = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", current_time + "_" + socket.gethostname() + comment)


_double_warning_lock = threading.Lock()
_double_warned = False


def _new_locks_in_child() -> None:
    # Another thread may have held the lock at a fork: the child makes its own.
    global _double_warning_lock
    _double_warning_lock = threading.Lock()


def _warn_double_once() -> None:
    global _double_warned
    with _double_warning_lock:
        if _double_warned:
            return
        _double_warned = True
    warnings.warn(
        "add_scalar(double_precision=True): TensorBoard's default loader (the Rust data "
        "server, --load_fast) drops float64 scalar tensors, so tbwrite stores scalars as "
        "float32, which every TensorBoard reader shows.",
        UserWarning,
        stacklevel=3,
    )


def open_run(
    log_dir: str | os.PathLike[str] | None,
    comment: str = "",
    purge_step: int | None = None,
    max_queue: int = 10,
    flush_secs: float = 120,
    filename_suffix: str = "",
) -> tuple[str, RunWriter]:
    """The run directory and its opened run core, every argument checked first: what
    each front (torch-style, clu-style) does on opening, with PyTorch's argument rules."""
    if log_dir is None:
        if not isinstance(comment, str):
            raise TypeError(f"comment must be a str, got {comment!r}")
        log_dir = default_logdir(comment)
    if not isinstance(log_dir, (str, os.PathLike)):
        raise TypeError(f"log_dir must be a str or os.PathLike, got {log_dir!r}")
    log_dir = os.fspath(log_dir)
    if not log_dir:
        raise ValueError("log_dir must not be empty")
    if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
        raise ValueError(f"max_queue must be a positive int, got {max_queue!r}")
    flush_secs = as_float(flush_secs, "flush_secs")
    if not 0 < flush_secs <= threading.TIMEOUT_MAX:
        raise ValueError(
            f"flush_secs must be a positive number of seconds of at most "
            f"{threading.TIMEOUT_MAX:g} (the longest timer), got {flush_secs!r}"
        )
    check_filename_suffix(filename_suffix)
    if "\x00" in log_dir:
        raise ValueError(f"log_dir must not contain NUL characters, got {log_dir!r}")
    if os.path.isfile(log_dir):
        raise ValueError(f"log_dir must be a directory, got the file {log_dir!r}")
    purge = None if purge_step is None else as_step(purge_step, "purge_step")
    run = RunWriter(
        log_dir,
        max_queue=max_queue,
        flush_secs=flush_secs,
        filename_suffix=filename_suffix,
        purge_step=purge,
    )
    return log_dir, run


def writer_over(run: RunWriter, log_dir: str, histogram_form: str = "torch") -> SummaryWriter:
    """A torch-style writer over a run core another front opened (the clu-style
    ``tb_writer``): the same run, files and session, PyTorch's methods."""
    writer = SummaryWriter.__new__(SummaryWriter)
    writer._bind(log_dir, run, histogram_form)  # noqa: SLF001 - this module's own class
    return writer


class SummaryWriter(HParamsMethods, MediaMethods, HistogramMethods):
    """Writes TensorBoard event files into ``log_dir``; a drop-in for PyTorch's writer.

    Args:
        log_dir: the run directory, or an fsspec URL such as ``s3://bucket/runs/x`` (see
            :mod:`tbwrite._sinks.remote`). Default ``runs/<date>_<host><comment>``.
        comment: appended to the default ``log_dir``; ignored when ``log_dir`` is given.
        purge_step: when resuming a run that crashed at a later step, events at and after
            this step in earlier files are hidden by TensorBoard (a ``SessionLog.START``
            event at this step).
        max_queue: records buffered before they are written to the file.
        flush_secs: seconds after which buffered records are written anyway.
        filename_suffix: appended to every event file name of this writer.
        histogram_form: ``"torch"`` (default): histograms as PyTorch writes them, a legacy
            HistogramProto with PyTorch's buckets, which ``EventAccumulator.Histograms()``
            and tbparse read; ``"tensor"``: TensorBoard's current [k, 3] float64 tensor,
            which both TensorBoard loaders show exactly (see :meth:`add_histogram`).

    Guarantees:

    - Every method checks all of its arguments before writing anything; a rejected call
      raises ``TypeError`` or ``ValueError`` naming the argument, writes nothing and leaves
      the writer usable.
    - :meth:`flush` returns once everything logged before it is in the event files.
    - :meth:`close` flushes and closes every file; closing twice is harmless; logging after
      close raises :class:`~tbwrite.WriterClosedError`.
    - Thread-safe; safe across ``os.fork`` (see :class:`~tbwrite._eventfile.EventFileWriter`).
    - Buffered records are written at interpreter exit; a crash (SIGKILL, power loss) loses
      at most what was logged since the last flush: ``max_queue`` records or
      ``flush_secs`` seconds.
    - A JAX scalar is read when its record is written, never at the call (see
      :meth:`add_scalar` and :class:`~tbwrite._eventfile.EventFileWriter`).
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
        *,
        histogram_form: str = "torch",
    ) -> None:
        if histogram_form not in HISTOGRAM_FORMS:
            raise ValueError(f"histogram_form must be 'torch' or 'tensor', got {histogram_form!r}")
        log_dir, run = open_run(
            log_dir, comment, purge_step, max_queue, flush_secs, filename_suffix
        )
        self._bind(log_dir, run, histogram_form)

    def _bind(self, log_dir: str, run: RunWriter, histogram_form: str) -> None:
        self._log_dir = log_dir
        self._histogram_form = histogram_form
        self._run = run
        hooks.on_fork_in_child(_new_locks_in_child)
        # The hot path's one step, bound once: the run core's scalar dispatch for a float.
        self._write_float = run.float_scalar_writer()

    # -- context manager ----------------------------------------------------------------

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._run.fail_unless_status_set()
        self.close()

    # -- accessors ----------------------------------------------------------------------

    def get_logdir(self) -> str:
        """The run directory this writer writes into."""
        return self._log_dir

    @property
    def log_dir(self) -> str:
        return self._log_dir

    @property
    def start_time(self) -> float:
        """When this writer was opened (seconds since the epoch): its session's start time."""
        return self._run.start_time

    # -- scalars ------------------------------------------------------------------------

    def add_scalar(
        self,
        tag: str,
        scalar_value: Real,
        global_step: Step = None,
        walltime: WallTime = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Log one scalar.

        ``scalar_value`` is a real number (Python, numpy, a one-element array, a JAX array);
        NaN and infinities are written as they are. The default form is ``simple_value``,
        read by every TensorBoard. ``new_style=True`` writes a rank-0 float32 tensor with
        the scalars plugin's metadata instead. ``double_precision=True`` is accepted for
        PyTorch compatibility but stores float32 too, with a one-time warning: TensorBoard's
        default loader drops float64 scalars.

        A JAX array is checked (shape, dtype) but not read at the call, which would wait for
        the device: it is read when its record is written (``new_style`` and
        ``double_precision``: at the call).
        """
        if type(tag) is not str or not tag:
            tag = check_tag(tag)
        if type(scalar_value) is float:
            value = scalar_value
        else:
            value = as_scalar(scalar_value, "scalar_value")
            if type(value) is not float:  # a device array
                if new_style or double_precision:
                    value = as_float(value, "scalar_value")  # read now
                else:
                    step, wall_time = as_step(global_step), as_walltime(walltime)
                    self._run.write_scalar(check_tag(tag), value, step, wall_time)
                    return
        if global_step is None:
            step = 0
        elif type(global_step) is int and -0x8000000000000000 <= global_step <= 0x7FFFFFFFFFFFFFFF:
            step = global_step
        else:
            step = as_step(global_step)
        wall_time = _now() if walltime is None else as_walltime(walltime)
        if new_style or double_precision:
            check_tag(tag)
            if double_precision:
                _warn_double_once()
            self._run.write_scalar_tensor(tag, value, step=step, wall_time=wall_time)
            return
        try:
            self._write_float(tag, value, step, wall_time)
        except UnicodeEncodeError:
            check_tag(tag)
            raise

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: Mapping[str, Real],
        global_step: Step = None,
        walltime: WallTime = None,
    ) -> None:
        """Log several scalars as one chart: each key is a sub-run
        ``<log_dir>/<main_tag with '/' as '_'>_<key>`` holding the scalar tag ``main_tag``,
        as PyTorch does.
        """
        main_tag = check_tag(main_tag, "main_tag")
        if not isinstance(tag_scalar_dict, Mapping):
            raise TypeError(
                f"tag_scalar_dict must be a mapping of str to number, got {tag_scalar_dict!r}"
            )
        step = as_step(global_step)
        wall_time = as_walltime(walltime)
        entries: list[tuple[Any, Any]] = []
        for key, raw in tag_scalar_dict.items():
            if type(raw) is not float:
                # A device array is read when its record is written (see add_scalar).
                raw = as_scalar(raw, f"tag_scalar_dict[{key!r}]")
            entries.append((key, raw))
        # The run core keeps each (main_tag, key)'s sub-run: a key seen before was checked.
        self._run.write_scalar_per_subrun(main_tag, entries, step, wall_time, self._subrun_path)

    def _subrun_path(self, main_tag: str, key: Any) -> str:
        """add_scalars' sub-run directory of a new key, checked. main_tag begins every new
        sub-run's directory name: a bad one is blamed, not the key."""
        prefix = main_tag.replace("/", "_") + "_"
        check_subrun_name(self._log_dir, prefix, "main_tag")
        key = check_tag(key, "tag_scalar_dict key")
        return check_subrun_name(self._log_dir, prefix + key, f"tag_scalar_dict key {key!r}")

    def add_scalar_series(
        self,
        tag: str,
        values: ArrayLike,
        steps: ArrayLike | None = None,
        walltimes: ArrayLike | None = None,
    ) -> None:
        """Log a whole series of scalars of one tag in one call, vectorized with numpy.

        ``values``: a 1-D array-like of real numbers (NaN and infinities are written as
        they are). ``steps``: 1-D integers (int64) of the same length; default
        ``0, 1, ..., len(values) - 1``. ``walltimes``: one finite number of seconds for
        every point, or a 1-D array of them; default now. The events are exactly those
        ``add_scalar`` would write, in order, streamed to the file in chunks of a few MB,
        so memory stays flat for series of any length. All arguments are checked first:
        on a bad one nothing is written.
        """
        tag = check_tag(tag)
        from .._checks import check_series

        self._run.write_scalar_series(check_series(tag, values, steps, walltimes))

    # -- text ---------------------------------------------------------------------------

    def add_text(
        self, tag: str, text_string: str, global_step: Step = None, walltime: WallTime = None
    ) -> None:
        """Log markdown text."""
        tag = check_tag(tag)
        check_text(text_string, "text_string")
        step = as_step(global_step)
        wall_time = as_walltime(walltime)
        self._run.write_text(tag, text_string, step=step, wall_time=wall_time)

    # -- flush / close ------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything logged so far to the event files."""
        self._run.flush()

    def close(self) -> None:
        """Flush and close every event file of this writer. Harmless when closed."""
        self._run.close()
