"""The run core: one run directory's event files, its HParams session, its exit.

Strategy: both fronts (the torch-style :class:`~tbwrite.SummaryWriter` and the clu-style
writer) check their arguments and hand finished summaries to a :class:`RunWriter`, which
knows the rest:

- the run's main event file and its sub-runs (``add_scalars`` keys, ``run_name``
  sessions), each an :class:`~tbwrite._eventfile.EventFileWriter`;
- metadata once per tag and file: TensorBoard's readers keep only the first
  ``SummaryMetadata`` of a tag, so :meth:`RunWriter.write_summary` asks the builder for it
  with the first value only;
- the HParams session: its start written once, its end written once at :meth:`close` with
  the status the run ended with;
- the lifecycle layer (:mod:`tbwrite._lifecycle`): a run left open is closed at interpreter
  exit, its session ending FAILURE when the program dies of an uncaught exception; runs on
  a store close side by side within one upload deadline (:func:`run_within`), at exit as
  in :meth:`close`;
- SIGTERM: where the program left its default action, the first run installs a handler
  that closes every open run (session FAILURE, buffers flushed), then dies of the signal;
  where the program installed its own handler first, it is chained: every open run's
  buffer is written, then the program's handler runs (no session is ended for it).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable

from ._deferred import DeferredRecord
from ._errors import HParamsError, WriterClosedError
from ._eventfile import EventFileWriter, open_event_file
from ._format.fast_scalars import ScalarEncoder
from ._format.tfrecord import frame
from ._format.wire import session_start_event, summary_record
from ._lifecycle.registry import open_runs
from ._lifecycle.runs import register_run, run_within

if TYPE_CHECKING:
    import numpy as np

    from ._format.fast_series import SeriesInput
    from ._summaries.hparam_values import HParamValue

__all__ = ["STATUSES", "RunWriter", "SummaryBuilder", "run_within"]

STATUSES = ("success", "failure", "unknown")

# Builds a serialized Summary; its one argument says whether to include the tag's metadata.
# (mypy cannot infer a lambda with default arguments as this type: bind loop variables
# with a def, or call write_summary where the lambda is made, as the write_* methods do.)
SummaryBuilder = Callable[[bool], bytes]

# Writes a simple_value scalar of a Python float: (tag, value, step, wall_time).
FloatScalarWriter = Callable[[str, float, int, float], None]


class RunWriter:
    """The event files of one run directory (or store URL) ``log_dir``.

    Arguments are trusted: the fronts check them. ``purge_step``, when given, hides the
    events at and after it in the run's earlier files (a resumed run).

    Guarantees:

    - :meth:`flush` returns once everything written before it is in the files.
    - :meth:`close` writes the session's end (if a session was started), flushes and closes
      every file; a second ``close()`` does nothing; writing after it raises
      :class:`~tbwrite.WriterClosedError`. Files on a store close side by side: ``close()``
      waits at most one upload's deadline (``_sinks.remote.upload_timeout()``) for all.
    - :meth:`start_session` that raised left the run without a session.
    - Thread-safe, also in a forked child (the lock is made anew there).
    """

    def __init__(
        self,
        log_dir: str,
        *,
        max_queue: int = 10,
        flush_secs: float = 120.0,
        filename_suffix: str = "",
        purge_step: int | None = None,
    ) -> None:
        self.log_dir = log_dir
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self._lock = threading.Lock()
        self._closed = False
        self._closer = 0  # the thread that is closing the run (its ident), once closed
        self._close_done = threading.Event()
        self.scalars = ScalarEncoder()
        self.main = open_event_file(
            log_dir, max_queue=max_queue, flush_secs=flush_secs, filename_suffix=filename_suffix
        )
        self._subruns: dict[str, EventFileWriter] = {}  # sub-run directory -> its file
        self._subrun_of: dict[tuple[str, str], EventFileWriter] = {}  # (tag, key) -> file
        self._pid = os.getpid()
        self.start_time = time.time()
        self._session_started = False
        self._status: str | None = None
        self._end_time: float | None = None
        register_run(self)
        if purge_step is not None:
            # Two SessionLog.START events: TensorBoard's current Python loader takes the
            # first START of a run as the run's beginning and purges only at a later one,
            # while the Rust loader and EventAccumulator purge at every START. Writing two
            # at the same step purges in all three, and purging twice changes nothing.
            start = frame(session_start_event(time.time(), purge_step))
            self.main.write_records([start, start])
            self.main.flush()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- writing ----------------------------------------------------------------------------

    def _deferred_scalar(self, tag: str, value: Any, step: int, wall_time: float) -> DeferredRecord:
        scalars = self.scalars
        scalars.head(tag)  # a tag too long for the format is refused now, not later
        return DeferredRecord(
            value, lambda number: scalars.record(tag, number, step, wall_time), tag, step
        )

    def write_scalar(
        self,
        tag: str,
        value: Any,
        step: int,
        wall_time: float,
        *,
        file: EventFileWriter | None = None,
    ) -> None:
        """Write a ``simple_value`` scalar into ``file`` (default: the main file): a Python
        float framed at once; a device array checked by :func:`tbwrite._checks.as_scalar`
        as a :class:`~tbwrite._deferred.DeferredRecord`, encoded when written, so the
        caller does not wait for the device. (``simple_value`` carries no metadata, so a
        late value changes nothing of metadata once per tag.)"""
        writer = self.main if file is None else file
        if type(value) is float:
            writer.write_record(self.scalars.record(tag, value, step, wall_time))
        else:
            writer.write_deferred(self._deferred_scalar(tag, value, step, wall_time))

    def write_scalar_per_subrun(
        self,
        tag: str,
        entries: Sequence[tuple[str, Any]],
        step: int,
        wall_time: float,
        path_of: Callable[[str, str], str],
    ) -> None:
        """``add_scalars``: each ``(key, value)`` of ``entries`` as the ``simple_value``
        scalar ``tag`` in the sub-run of ``key``. A key seen before with this ``tag`` goes
        to its open file; ``path_of(tag, key)`` gives (and checks) a new key's directory. Every
        value is encoded and every new key's path found, then every new sub-run opened (a
        directory that cannot be made fails the call), before any is written."""
        encode, deferred = self.scalars.record, self._deferred_scalar
        records = [
            encode(tag, value, step, wall_time)
            if type(value) is float
            else deferred(tag, value, step, wall_time)
            for _, value in entries
        ]
        known = self._subrun_of
        found = [known.get((tag, key)) for key, _ in entries]
        if None in found:
            paths = [path_of(tag, key) if f is None else f for (key, _), f in zip(entries, found)]
            files = [self.subrun(p) if isinstance(p, str) else p for p in paths]
            for (key, _), file in zip(entries, files):
                known[(tag, key)] = file
        else:
            files = found  # type: ignore[assignment]  # no None in it
        for file, record in zip(files, records):
            if type(record) is bytes:
                file.write_record(record)
            else:
                file.write_deferred(record)  # type: ignore[arg-type]  # not bytes: deferred

    def write_scalar_series(self, series: SeriesInput) -> None:
        """``add_scalar_series``: the checked ``series`` into the main file, encoded in
        chunks of a few MB (:func:`tbwrite._format.fast_series.encode_series`)."""
        from ._format.fast_series import encode_series

        self.check_open()
        for chunk in encode_series(series, self.scalars):
            self.main.write_bytes(chunk)

    def float_scalar_writer(self) -> FloatScalarWriter:
        """:meth:`write_scalar` of a Python float into the main file, as one function for
        a front to bind once: the hot path (``add_scalar``, whose value is already known to
        be a float), its two steps, encode and buffer, bound in it rather than looked up at
        every call."""
        encode, put = self.scalars.record, self.main.write_record

        def write(tag: str, value: float, step: int, wall_time: float) -> None:
            put(encode(tag, value, step, wall_time))

        return write

    def write_summary(
        self,
        tag: str,
        build: SummaryBuilder,
        step: int = 0,
        wall_time: float | None = None,
        *,
        file: EventFileWriter | None = None,
    ) -> None:
        """Write the Summary ``build(with_metadata)`` at ``step`` into ``file`` (default: the
        run's main file); ``with_metadata`` is true for the first value of ``tag`` there."""
        writer = self.main if file is None else file
        first = tag not in writer.metadata_written
        record = summary_record(time.time() if wall_time is None else wall_time, step, build(first))
        writer.write_record(record)
        if first:
            writer.metadata_written.add(tag)

    # -- one typed method per kind of :data:`tbwrite._summaries.kinds.KINDS` --------------
    #
    # Each is named ``write_<kind>`` (a unit test holds the table and these methods in
    # step), takes its builder's arguments, and imports the builder when first called: the
    # builders import numpy and protobuf, which ``import tbwrite`` does not.

    def write_scalar_tensor(
        self,
        tag: str,
        value: float,
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """``tf.summary.scalar``'s form: a rank-0 float32 tensor, the scalars plugin's
        metadata with the tag's first value."""
        from ._summaries.scalars_text import scalar_tensor_summary

        self.write_summary(
            tag,
            lambda first: scalar_tensor_summary(tag, value, with_metadata=first),
            step,
            wall_time,
            file=file,
        )

    def write_scalar_tensors(
        self,
        values: Sequence[tuple[str, Any]],
        *,
        step: int,
        wall_time: float,
        file: EventFileWriter | None = None,
    ) -> None:
        """Several ``(tag, value)`` in :meth:`write_scalar_tensor`'s form, every float
        encoded before any is written. A device array checked by
        :func:`tbwrite._checks.as_scalar` is encoded when written
        (:class:`~tbwrite._deferred.DeferredRecord`) and carries the metadata itself: a value
        that cannot be read is dropped then, so it is never a tag's one value with it."""
        from ._summaries.scalars_text import scalar_tensor_summary

        writer = self.main if file is None else file
        records: list[bytes | DeferredRecord] = []
        first_seen: set[str] = set()
        for tag, value in values:
            first = type(value) is not float or (
                tag not in writer.metadata_written and tag not in first_seen
            )
            if type(value) is float:
                first_seen.add(tag)

            def encode(number: float, tag: str = tag, first: bool = first) -> bytes:
                summary = scalar_tensor_summary(tag, number, with_metadata=first)
                return summary_record(wall_time, step, summary)

            records.append(
                encode(value) if type(value) is float else DeferredRecord(value, encode, tag, step)
            )
        for record in records:
            if isinstance(record, DeferredRecord):
                writer.write_deferred(record)
            else:
                writer.write_record(record)
        writer.metadata_written.update(first_seen)

    def write_histogram(
        self,
        tag: str,
        buckets: np.ndarray,
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """TensorBoard's current histogram: ``buckets``, a [k, 3] float64 tensor of (left
        edge, right edge, count)."""
        from ._summaries.histograms import histogram_summary

        self.write_summary(
            tag,
            lambda first: histogram_summary(tag, buckets, with_metadata=first),
            step,
            wall_time,
            file=file,
        )

    def write_text(
        self,
        tag: str,
        text: str,
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """Markdown ``text`` for the text plugin."""
        from ._summaries.scalars_text import text_summary

        self.write_summary(
            tag,
            lambda first: text_summary(tag, text, with_metadata=first),
            step,
            wall_time,
            file=file,
        )

    def write_image(
        self,
        tag: str,
        encoded: Sequence[bytes],
        width: int,
        height: int,
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """``tf.summary.image``'s form: the images plugin's [width, height, image, ...]
        string tensor, each encoded image a sample of the tag."""
        from ._summaries.images_audio import image_summary

        self.write_summary(
            tag,
            lambda first: image_summary(tag, encoded, width, height, with_metadata=first),
            step,
            wall_time,
            file=file,
        )

    def write_audio(
        self,
        tag: str,
        clips: Sequence[bytes],
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """``tf.summary.audio``'s form: WAV ``clips``, each a sample of the tag."""
        from ._summaries.images_audio import audio_summary

        self.write_summary(
            tag,
            lambda first: audio_summary(tag, clips, with_metadata=first),
            step,
            wall_time,
            file=file,
        )

    def write_pr_curve(
        self,
        tag: str,
        data: np.ndarray,
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """A PR curve: ``data``, the plugin's [6, thresholds] float tensor."""
        from ._summaries.pr_curves import pr_curve_summary

        self.write_summary(
            tag,
            lambda first: pr_curve_summary(tag, data, with_metadata=first),
            step,
            wall_time,
            file=file,
        )

    def write_mesh(
        self,
        tag: str,
        parts: Sequence[tuple[str, Any, np.ndarray]],
        json_config: str,
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """A mesh: one summary per part of ``parts`` (checked by
        :func:`tbwrite._summaries.mesh.mesh_parts`), each under its own tag
        (``<tag>_VERTEX``, ...) with its metadata, all naming the parts present."""
        from ._summaries.mesh import mesh_components, mesh_summary, mesh_tag

        components = mesh_components([part for _, part, _ in parts])
        for _, part, arr in parts:

            def build(first: bool, part: Any = part, arr: np.ndarray = arr) -> bytes:
                return mesh_summary(tag, part, arr, components, json_config, with_metadata=first)

            self.write_summary(mesh_tag(tag, part), build, step, wall_time, file=file)

    def write_custom_scalars(
        self,
        tag: str,
        layout: bytes,
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """The custom scalars dashboard's ``layout`` (a serialized Layout)."""
        from ._summaries.custom_scalars import custom_scalars_summary

        self.write_summary(
            tag,
            lambda first: custom_scalars_summary(tag, layout, with_metadata=first),
            step,
            wall_time,
            file=file,
        )

    def write_tensor(
        self,
        tag: str,
        value: Any,
        metadata: Any,
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """A raw tensor ``value`` with the caller's ``metadata`` (a SummaryMetadata, its
        bytes, or None) on the tag's first value."""
        from ._summaries.tensors import tensor_summary

        self.write_summary(
            tag,
            lambda first: tensor_summary(tag, value, metadata, with_metadata=first),
            step,
            wall_time,
            file=file,
        )

    # PyTorch's legacy forms (Summary.Value.image / .audio / .histo).

    def write_legacy_image(
        self,
        tag: str,
        encoded: bytes,
        height: int,
        width: int,
        channels: int,
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """A Summary.Image holding one ``encoded`` PNG (or GIF), as PyTorch writes it."""
        from ._summaries.legacy import image_summary

        self.write_summary(
            tag,
            lambda first: image_summary(tag, encoded, height, width, channels, with_metadata=first),
            step,
            wall_time,
            file=file,
        )

    def write_legacy_audio(
        self,
        tag: str,
        wav: bytes,
        sample_rate: int,
        frames: int,
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """A Summary.Audio holding one ``wav`` clip, as PyTorch writes it."""
        from ._summaries.legacy import audio_summary

        self.write_summary(
            tag,
            lambda first: audio_summary(tag, wav, sample_rate, frames, with_metadata=first),
            step,
            wall_time,
            file=file,
        )

    def write_legacy_histogram(
        self,
        tag: str,
        min: float,
        max: float,
        num: float,
        sum: float,
        sum_squares: float,
        bucket_limit: Sequence[float] | np.ndarray,
        bucket: Sequence[float] | np.ndarray,
        *,
        step: int,
        wall_time: float | None = None,
        file: EventFileWriter | None = None,
    ) -> None:
        """A HistogramProto of the fields given, as PyTorch writes it."""
        from ._summaries.legacy import histogram_summary

        fields = (min, max, num, sum, sum_squares, bucket_limit, bucket)
        self.write_summary(
            tag,
            lambda first: histogram_summary(tag, *fields, with_metadata=first),
            step,
            wall_time,
            file=file,
        )

    def subrun(self, path: str) -> EventFileWriter:
        """The event file of the sub-run directory ``path``, opened on first use."""
        with self._lock:
            self.check_open()
            writer = self._subruns.get(path)
            if writer is None:
                writer = open_event_file(
                    path,
                    max_queue=self.max_queue,
                    flush_secs=self.flush_secs,
                    filename_suffix=self.filename_suffix,
                )
                self._subruns[path] = writer
            return writer

    # -- the HParams session ----------------------------------------------------------------

    def write_closed_session(
        self,
        path: str,
        hparams: Mapping[str, HParamValue],
        *,
        experiment: bytes | None = None,
        metrics: Mapping[str, float] | None = None,
        metric_step: int = 0,
    ) -> None:
        """A finished session in a new event file of the run directory ``path`` (PyTorch's
        ``add_hparams(run_name=...)``): the ``experiment`` summary (if any), the start info
        of ``hparams``, the ``metrics`` values as scalars at ``metric_step``, the end info
        (SUCCESS), all now."""
        from ._summaries.hparams import session_end_summary, session_start_summary

        self.check_open()
        now = time.time()
        records = [
            *([] if experiment is None else [summary_record(now, 0, experiment)]),
            summary_record(now, 0, session_start_summary(hparams, now)),
            *self._metric_records(metrics, metric_step, now),
            summary_record(now, 0, session_end_summary("success", now)),
        ]
        sub = open_event_file(
            path, max_queue=len(records) + 1, filename_suffix=self.filename_suffix
        )
        try:
            sub.write_records(records)
        finally:
            sub.close()

    def start_session(
        self,
        hparams: Mapping[str, HParamValue],
        *,
        group: str = "",
        experiment: bytes | None = None,
        metrics: Mapping[str, float] | None = None,
        metric_step: int = 0,
        start_time: float | None = None,
    ) -> None:
        """Start this run's session: the ``experiment`` summary (if any), the start info of
        ``hparams`` (started at ``start_time``, by default :attr:`start_time`; in session
        group ``group``, "" letting TensorBoard name it) and the first ``metrics`` values
        as scalars at ``metric_step``, written into the main file and flushed, so the
        dashboard shows the session now. Its end is written at :meth:`close`, with the
        status set by then.

        Raises :class:`~tbwrite.HParamsError` when this run already has a session:
        TensorBoard shows only the first one.
        """
        from ._summaries.hparams import session_start_summary

        now = time.time()
        if start_time is None:
            start_time = self.start_time
        start = session_start_summary(hparams, start_time, group)
        records = [
            *([] if experiment is None else [summary_record(now, 0, experiment)]),
            summary_record(now, 0, start),
            *self._metric_records(metrics, metric_step, now),
        ]
        with self._lock:
            self.check_open()
            if self._session_started:
                raise HParamsError(
                    f"add_hparams was already called for the run {self.log_dir!r}: TensorBoard "
                    "shows only the first session of a run. Log changing values as scalars, "
                    "or pass run_name= for a separate session."
                )
            self._session_started = True
        try:
            self.main.write_records(records)
            self.main.keep_at_start(records)
        except BaseException:
            # A call that raised kept nothing: the run has no session yet.
            with self._lock:
                self._session_started = False
            raise
        self.main.flush()

    def _metric_records(
        self, metrics: Mapping[str, float] | None, step: int, now: float
    ) -> list[bytes]:
        encode = self.scalars.record
        return [encode(tag, value, step, now) for tag, value in (metrics or {}).items()]

    @property
    def status(self) -> str | None:
        """How the session ends at close (None: ``"success"`` unless the run fails)."""
        return self._status

    def set_status(self, status: str, end_time: float | None = None) -> None:
        """``status`` (one of :data:`STATUSES`, checked by the caller) and the end time to
        record at close (None: the time of close)."""
        self._end_time = end_time
        self._status = status

    def fail_unless_status_set(self) -> None:
        """The run is ending with an exception: its session ends FAILURE, unless a status
        was set explicitly."""
        if self._status is None:
            self._status = "failure"

    # -- flush / close ------------------------------------------------------------------------

    def after_fork_in_child(self) -> None:
        """In a forked child: a new lock (another thread may have held this one), and a
        close in progress in the parent counts as done (its thread is not here)."""
        self._lock = threading.Lock()
        self._close_done = threading.Event()
        if self._closed:
            self._close_done.set()

    def check_open(self) -> None:
        if self._closed:
            raise WriterClosedError(f"the SummaryWriter for {self.log_dir!r} is closed")

    def files(self) -> list[EventFileWriter]:
        """The main file and every sub-run's file."""
        with self._lock:
            return [self.main, *self._subruns.values()]

    def flush(self) -> None:
        """Write everything written so far to the event files."""
        for writer in self.files():
            writer.flush()

    def close(self) -> None:
        """End the session (if any), flush and close every file. Harmless when closed; a
        close from another thread while one is in progress returns when it is done."""
        me = threading.get_ident()
        with self._lock:
            first = not self._closed
            if first:
                self._closed, self._closer = True, me
        if not first:
            # The SIGTERM path closes every open run from threads of its own, and waits for
            # them, while the main thread may be in the middle of this very close.
            if self._closer != me:
                self._close_done.wait()
            return
        try:
            self._close()
        finally:
            open_runs.discard(self)  # until now, the SIGTERM path waits for it
            self._close_done.set()

    def _close(self) -> None:
        first_error: BaseException | None = None
        if self._session_started and self._pid == os.getpid():
            # Exactly one end info, now that the outcome is known. (Only the first counts,
            # so none is written while the run is open.)
            from ._summaries.hparams import session_end_summary

            end_time = time.time() if self._end_time is None else self._end_time
            end = session_end_summary(self._status or "success", end_time)
            try:
                self.main.write_record(summary_record(time.time(), 0, end))
            except BaseException as err:
                first_error = err
        files = self.files()
        for writer in files:
            if writer.slow:
                continue
            try:
                writer.close()
            except BaseException as err:  # close the others, then report the first failure
                if first_error is None:
                    first_error = err
        # A store's uploads run side by side, within one deadline for all of them (a run
        # with sub-runs against a silent store would otherwise wait deadline after deadline).
        errors = run_within([w.close for w in files if w.slow], f"closing {self.log_dir!r}")
        if first_error is None and errors:
            first_error = errors[0]
        if first_error is not None:
            raise first_error

    @property
    def slow(self) -> bool:
        """Whether closing may wait on a store (any of the run's files is on one)."""
        return any(w.slow for w in self.files())
