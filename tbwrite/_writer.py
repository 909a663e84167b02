"""SummaryWriter: PyTorch's ``torch.utils.tensorboard.SummaryWriter`` API, without torch.

Strategy: each method validates all of its arguments first (so a rejected call writes
nothing), then encodes one Event, frames it and hands the record to the run's
:class:`~tbwrite._eventfile.EventFileWriter`. Scalars take a hand-encoded path
(:mod:`tbwrite._encode`); other kinds are built with protobuf in :mod:`tbwrite._builders`,
imported on first use together with numpy.
"""

from __future__ import annotations

import atexit
import os
import socket
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Mapping
from datetime import datetime
from types import ModuleType, TracebackType
from typing import Any

from ._encode import ScalarEncoder, encode_varint, wrap_summary_event
from ._eventfile import EventFileWriter
from ._framing import frame
from ._values import (
    as_float,
    as_step,
    as_walltime,
    check_filename_suffix,
    check_subrun_name,
    check_tag,
)

__all__ = ["SummaryWriter"]

_now = time.time  # bound once: add_scalar is the hot path

_builders_module: ModuleType | None = None


def _builders() -> ModuleType:
    global _builders_module
    if _builders_module is None:
        from . import _builders as module

        _builders_module = module
    return _builders_module


def _hparams() -> ModuleType:
    from . import _hparams as module

    return module


_STATUSES = ("success", "failure", "unknown")


def default_logdir(comment: str = "") -> str:
    """``runs/<Mon><dd>_<HH-MM-SS>_<host><comment>``, as PyTorch names a new run."""
    current_time = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", current_time + "_" + socket.gethostname() + comment)


_double_warning_lock = threading.Lock()
_double_warned = False


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


class SummaryWriter:
    """Writes TensorBoard event files into ``log_dir``; a drop-in for PyTorch's writer.

    Args:
        log_dir: the run directory, or an fsspec URL such as ``s3://bucket/runs/x`` (see
            :mod:`tbwrite._remote`). Default ``runs/<date>_<host><comment>``.
        comment: appended to the default ``log_dir``; ignored when ``log_dir`` is given.
        purge_step: when resuming a run that crashed at a later step, events at and after
            this step in earlier files are hidden by TensorBoard (a ``SessionLog.START``
            event at this step).
        max_queue: records buffered before they are written to the file.
        flush_secs: seconds after which buffered records are written anyway.
        filename_suffix: appended to every event file name of this writer.

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
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
    ) -> None:
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

        self._log_dir = log_dir
        self._max_queue = max_queue
        self._flush_secs = flush_secs
        self._filename_suffix = filename_suffix
        self._lock = threading.Lock()
        self._closed = False
        self._scalars = ScalarEncoder()
        self._file = EventFileWriter(
            log_dir, max_queue=max_queue, flush_secs=flush_secs, filename_suffix=filename_suffix
        )
        self._subwriters: dict[str, EventFileWriter] = {}
        self._subruns: dict[tuple[str, str], EventFileWriter] = {}  # (main_tag, key) -> file
        self._pid = os.getpid()
        self._start_time = time.time()
        self._session_started = False
        self._status: str | None = None
        self._end_time: float | None = None
        _open_writers.add(self)
        _handle_sigterm()
        if purge is not None:
            # Two SessionLog.START events: TensorBoard's current Python loader takes the
            # first START of a run as the run's beginning and purges only at a later one,
            # while the Rust loader and EventAccumulator purge at every START. Writing two
            # at the same step purges in all three, and purging twice changes nothing.
            start = frame(_session_start_event(time.time(), purge))
            self._file.write_records([start, start])
            self._file.flush()

    # -- context manager ----------------------------------------------------------------

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and self._status is None:
            self._status = "failure"
        self.close()

    # -- accessors ----------------------------------------------------------------------

    def get_logdir(self) -> str:
        """The run directory this writer writes into."""
        return self._log_dir

    @property
    def log_dir(self) -> str:
        return self._log_dir

    # -- scalars ------------------------------------------------------------------------

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: Any = None,
        walltime: Any = None,
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
        """
        if type(tag) is not str or not tag:
            tag = check_tag(tag)
        value = (
            scalar_value if type(scalar_value) is float else as_float(scalar_value, "scalar_value")
        )
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
            self._write_summary(
                self._file,
                step,
                wall_time,
                tag,
                lambda first: _builders().scalar_tensor_summary(tag, value, with_metadata=first),
            )
            return
        try:
            record = self._scalars.record(tag, value, step, wall_time)
        except UnicodeEncodeError:
            check_tag(tag)
            raise
        self._file.write_record(record)

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: Mapping[str, Any],
        global_step: Any = None,
        walltime: Any = None,
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
        prefix = main_tag.replace("/", "_") + "_"
        known = self._subruns
        entries: list[tuple[Any, EventFileWriter | str, float]] = []
        for key, raw in tag_scalar_dict.items():
            # A (main_tag, key) seen before was checked then and has its sub-run open.
            target: EventFileWriter | str | None = known.get((main_tag, key))
            if target is None:
                # main_tag begins every new sub-run's directory name: blame it, not the key.
                check_subrun_name(self._log_dir, prefix, "main_tag")
                key = check_tag(key, "tag_scalar_dict key")
                target = check_subrun_name(
                    self._log_dir, prefix + key, f"tag_scalar_dict key {key!r}"
                )
            entries.append((key, target, as_float(raw, f"tag_scalar_dict[{key!r}]")))
        records = [self._scalars.record(main_tag, value, step, wall_time) for *_, value in entries]
        # Open every new sub-run first: a directory that cannot be made fails the call
        # before any value is written.
        writers = []
        for key, target, _ in entries:
            if isinstance(target, str):
                target = known[(main_tag, key)] = self._subwriter(target)
            writers.append(target)
        for writer, record in zip(writers, records):
            writer.write_record(record)

    def add_scalar_series(
        self,
        tag: str,
        values: Any,
        steps: Any = None,
        walltimes: Any = None,
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
        from . import _bulk

        series = _bulk.check_series(tag, values, steps, walltimes)
        self._check_open()
        for chunk in _bulk.encode_series(series, self._scalars):
            self._file.write_bytes(chunk)

    def _subwriter(self, path: str) -> EventFileWriter:
        with self._lock:
            self._check_open()
            writer = self._subwriters.get(path)
            if writer is None:
                writer = EventFileWriter(
                    path,
                    max_queue=self._max_queue,
                    flush_secs=self._flush_secs,
                    filename_suffix=self._filename_suffix,
                )
                self._subwriters[path] = writer
            return writer

    # -- histograms ---------------------------------------------------------------------

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: Any = None,
        bins: Any = "tensorflow",
        walltime: Any = None,
        max_bins: Any = None,
    ) -> None:
        """Log a histogram of ``values`` (any array-like of finite real numbers).

        Written in TensorBoard's current form, a [k, 3] float64 tensor of
        (left edge, right edge, count). ``bins``: ``"tensorflow"`` (default: 30
        equal-width buckets from min to max), an int, a numpy rule such as ``"auto"`` or
        ``"fd"``, or a sequence of edges; ``max_bins`` caps the bucket count by merging.
        """
        tag = check_tag(tag)
        step = as_step(global_step)
        wall_time = as_walltime(walltime)
        b = _builders()
        buckets = b.histogram_buckets(values, bins, max_bins)
        self._write_summary(
            self._file,
            step,
            wall_time,
            tag,
            lambda first: b.histogram_summary(tag, buckets, with_metadata=first),
        )

    def add_histogram_raw(
        self,
        tag: str,
        min: Any,
        max: Any,
        num: Any,
        sum: Any,
        sum_squares: Any,
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log a histogram from precomputed buckets, PyTorch's signature.

        Bucket i holds the values in (bucket_limits[i-1], bucket_limits[i]]; the first
        starts at ``min`` and the last ends at ``max``. Written in the [k, 3] form, as
        TensorBoard's loaders would convert it. ``sum`` and ``sum_squares`` are checked
        for being numbers but, as in TensorBoard's own conversion, not stored.
        """
        tag = check_tag(tag)
        step = as_step(global_step)
        wall_time = as_walltime(walltime)
        lo = as_float(min, "min")
        hi = as_float(max, "max")
        as_float(num, "num")
        as_float(sum, "sum")
        as_float(sum_squares, "sum_squares")
        b = _builders()
        buckets = b.histogram_from_raw(lo, hi, num, bucket_limits, bucket_counts)
        self._write_summary(
            self._file,
            step,
            wall_time,
            tag,
            lambda first: b.histogram_summary(tag, buckets, with_metadata=first),
        )

    # -- text ---------------------------------------------------------------------------

    def add_text(
        self, tag: str, text_string: str, global_step: Any = None, walltime: Any = None
    ) -> None:
        """Log markdown text."""
        tag = check_tag(tag)
        if not isinstance(text_string, str):
            raise TypeError(f"text_string must be a str, got {text_string!r}")
        try:
            text_string.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(f"text_string must be encodable as UTF-8: {err}") from None
        step = as_step(global_step)
        wall_time = as_walltime(walltime)
        self._write_summary(
            self._file,
            step,
            wall_time,
            tag,
            lambda first: _builders().text_summary(tag, text_string, with_metadata=first),
        )

    # -- images, figures, video, audio, PR curves, meshes, embeddings, custom scalars ---
    # Thin methods: the checks and encoders live in tbwrite._media (pixels, PNG, WAV,
    # GIF), tbwrite._plugins (summaries of each plugin) and tbwrite._projector.

    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        global_step: Any = None,
        walltime: Any = None,
        dataformats: str = "CHW",
    ) -> None:
        """Log one image as a PNG. ``img_tensor``: uint8 (0-255) or float (0.0-1.0) pixels
        with 1, 3 or 4 channels laid out as ``dataformats`` (CHW, HWC, HW, ...)."""
        from . import _media

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        self._write_image(tag, _media.image_hwc(img_tensor, dataformats), step, wall_time)

    def add_images(
        self,
        tag: str,
        img_tensor: Any,
        global_step: Any = None,
        walltime: Any = None,
        dataformats: str = "NCHW",
    ) -> None:
        """Log a batch of images (NCHW, NHWC, NHW, ...) tiled into one PNG, 8 per row with
        2 pixels of black padding around each (torchvision's ``make_grid`` layout)."""
        from . import _media

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        grid = _media.make_grid(_media.images_nhwc(img_tensor, dataformats))
        self._write_image(tag, grid, step, wall_time)

    def add_image_with_boxes(
        self,
        tag: str,
        img_tensor: Any,
        box_tensor: Any,
        global_step: Any = None,
        walltime: Any = None,
        rescale: Any = 1,
        dataformats: str = "CHW",
        labels: Any = None,
    ) -> None:
        """Log an image with boxes (K, 4) of (xmin, ymin, xmax, ymax) pixels drawn in red,
        then resized by ``rescale``. ``labels`` (one str per box) are drawn with Pillow (the
        ``video`` extra); the boxes need nothing."""
        from . import _media

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        factor = as_float(rescale, "rescale")
        if not 0 < factor < float("inf"):
            raise ValueError(f"rescale must be a positive finite number, got {rescale!r}")
        pixels = _media.image_hwc(img_tensor, dataformats)
        boxes = _media.boxes_array(box_tensor)
        texts = _media.box_labels(labels, len(boxes))
        image = _media.rescale_nearest(_media.draw_boxes(pixels, boxes, texts), factor)
        self._write_image(tag, image, step, wall_time)

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: Any = None,
        close: bool = True,
        walltime: Any = None,
    ) -> None:
        """Log a matplotlib figure rendered with Agg (a list of figures of one size: a grid,
        as :meth:`add_images`), closed afterwards unless ``close=False``."""
        from . import _media

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        image, figures = _media.figures_image(figure)
        self._write_image(tag, image, step, wall_time)
        if close:
            for f in figures:
                _media.close_figure(f)

    def add_video(
        self,
        tag: str,
        vid_tensor: Any,
        global_step: Any = None,
        fps: Any = 4,
        walltime: Any = None,
    ) -> None:
        """Log videos (N, T, C, H, W), uint8 or float in [0, 1], C 1 or 3, as one animated
        GIF at ``fps`` frames per second (the N videos tiled). Needs Pillow: the ``video``
        extra (``pip install 'tbwrite[video]'``)."""
        from . import _media

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        rate = as_float(fps, "fps")
        if not _media.MIN_GIF_FPS <= rate < float("inf"):
            raise ValueError(
                f"fps must be a finite number of frames per second of at least "
                f"{_media.MIN_GIF_FPS:.6g} (a GIF frame lasts at most 655.35 s), got {fps!r}"
            )
        frames = _media.video_frames(vid_tensor)
        gif = _media.gif_encode(frames, rate)
        self._write_image(tag, frames[0], step, wall_time, encoded=gif)

    def add_audio(
        self,
        tag: str,
        snd_tensor: Any,
        global_step: Any = None,
        sample_rate: Any = 44100,
        walltime: Any = None,
    ) -> None:
        """Log mono audio, float samples in [-1, 1] of shape (L,) or (1, L), as a PCM16 WAV."""
        from . import _media, _plugins

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        rate = _plugins.check_sample_rate(sample_rate)
        wav = _media.wav_encode(_media.sound_samples(snd_tensor), rate)
        self._write_summary(
            self._file,
            step,
            wall_time,
            tag,
            lambda first: _plugins.audio_summary(tag, [wav], with_metadata=first),
        )

    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        global_step: Any = None,
        num_thresholds: Any = 127,
        weights: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log a precision-recall curve of binary ``labels`` (0/1 or bool) and
        ``predictions`` in [0, 1] at ``num_thresholds`` thresholds evenly spaced in [0, 1]
        (not capped at 127, unlike PyTorch); ``weights`` scale each example's count."""
        from . import _plugins

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        data = _plugins.pr_curve_counts(labels, predictions, num_thresholds, weights)
        self._write_summary(
            self._file,
            step,
            wall_time,
            tag,
            lambda first: _plugins.pr_curve_summary(tag, data, with_metadata=first),
        )

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: Any,
        false_positive_counts: Any,
        true_negative_counts: Any,
        false_negative_counts: Any,
        precision: Any,
        recall: Any,
        global_step: Any = None,
        num_thresholds: Any = 127,
        weights: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log a precomputed PR curve: six 1-D arrays of one length (the number of
        thresholds TensorBoard shows, whatever ``num_thresholds`` says). ``weights`` is
        accepted for PyTorch's signature and ignored, as there."""
        from . import _plugins

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        data = _plugins.pr_curve_from_raw(
            true_positive_counts,
            false_positive_counts,
            true_negative_counts,
            false_negative_counts,
            precision,
            recall,
            num_thresholds,
        )
        self._write_summary(
            self._file,
            step,
            wall_time,
            tag,
            lambda first: _plugins.pr_curve_summary(tag, data, with_metadata=first),
        )

    def add_mesh(
        self,
        tag: str,
        vertices: Any,
        colors: Any = None,
        faces: Any = None,
        config_dict: Any = None,
        global_step: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log a batch of meshes for the mesh plugin: ``vertices`` (B, N, 3), ``colors``
        (B, N, 3) uint8 or floats in [0, 1], ``faces`` (B, F, 3) vertex indices, and
        ``config_dict`` of three.js settings (camera, lights, material)."""
        from . import _plugins

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        parts = _plugins.mesh_parts(vertices, colors, faces)
        config = _plugins.mesh_config(config_dict)
        components = _plugins.mesh_components([part for _, part, _ in parts])
        for _, part, arr in parts:
            self._write_summary(
                self._file,
                step,
                wall_time,
                _plugins.mesh_tag(tag, part),
                lambda first, part=part, arr=arr: _plugins.mesh_summary(
                    tag, part, arr, components, config, with_metadata=first
                ),
            )

    def add_embedding(
        self,
        mat: Any,
        metadata: Any = None,
        label_img: Any = None,
        global_step: Any = None,
        tag: str = "default",
        metadata_header: Any = None,
    ) -> None:
        """Add an embedding for the projector: ``mat`` (N, D) points; ``metadata`` N labels,
        or N rows of labels with ``metadata_header`` naming the columns; ``label_img``
        (N, C, H, W) images shown as a sprite. Written, as PyTorch does, into
        ``<log_dir>/<global_step %05d>/<tag>/`` and ``<log_dir>/projector_config.pbtxt``.
        """
        from . import _projector

        tag = check_tag(tag)
        step = as_step(global_step)
        prepared = _projector.prepare_embedding(
            mat, metadata, label_img, step, tag, metadata_header
        )
        self._check_open()
        _projector.write_embedding(self._log_dir, prepared)

    def add_custom_scalars(self, layout: Mapping[str, Any]) -> None:
        """Lay out the custom scalars dashboard, PyTorch's dict: ``{category: {title:
        ["Multiline", [tag regex, ...]] or ["Margin", [value, lower, upper]]}}``."""
        from . import _plugins

        layout_bytes = _plugins.custom_scalars_layout(layout)
        self._write_summary(
            self._file,
            0,
            time.time(),
            _plugins.CUSTOM_SCALARS_TAG,
            lambda first: _plugins.custom_scalars_summary(layout_bytes, with_metadata=first),
        )

    def _write_image(
        self, tag: str, pixels: Any, step: int, wall_time: float, encoded: bytes | None = None
    ) -> None:
        from . import _media, _plugins

        data = _media.png_encode(pixels) if encoded is None else encoded
        height, width = pixels.shape[:2]
        self._write_summary(
            self._file,
            step,
            wall_time,
            tag,
            lambda first: _plugins.image_summary(tag, [data], width, height, with_metadata=first),
        )

    # -- hparams ------------------------------------------------------------------------

    def add_hparams(
        self,
        hparam_dict: Mapping[str, Any],
        metric_dict: Mapping[str, Any] | None = None,
        hparam_domain_discrete: Mapping[str, Any] | None = None,
        run_name: str | None = None,
        global_step: Any = None,
    ) -> None:
        """Make this run an HParams session, with PyTorch's signature.

        By default the session is written into this writer's own run, so TensorBoard's
        HParams table shows the run as one session whose metric columns are the latest
        values of its scalar tags, moving as training goes. The session's end (SUCCESS, or
        FAILURE when a ``with`` block exits with an exception, or what :meth:`set_status`
        said) is written once, at :meth:`close`.

        Args:
            hparam_dict: name -> value. bool is shown as BOOL, str as STRING, int, float
                and numpy/JAX numbers as FLOAT64; anything else raises ``TypeError``.
            metric_dict: metric tag -> value (or None). Values given are logged as scalars
                at ``global_step`` so a value shows at once; log later values with
                :meth:`add_scalar` under the same tags.
            hparam_domain_discrete: name -> the list of values that hparam can take. Given,
                an experiment config with these domains is written into this run too; for a
                sweep prefer :func:`tbwrite.write_experiment` once at its root.
            run_name: only when given, PyTorch's behaviour: the session goes into the
                sub-run ``<log_dir>/<run_name>`` with its own experiment config, the
                metric values, and its end (SUCCESS) written at once.
            global_step: the step of the metric values.

        Raises:
            tbwrite.HParamsError: a session was already written into this run (TensorBoard
                would show only the first one).
        """
        h = _hparams()
        hparams = h.hparam_values(hparam_dict)
        if metric_dict is None:
            metric_dict = {}
        if not isinstance(metric_dict, Mapping):
            raise TypeError(f"metric_dict must be a mapping of str to numbers, got {metric_dict!r}")
        metrics: dict[str, float | None] = {}
        for key, raw in metric_dict.items():
            key = check_tag(key, "metric_dict key")
            metrics[key] = None if raw is None else as_float(raw, f"metric_dict[{key!r}]")
        domains = h.check_domain_discrete(hparam_domain_discrete, hparams)
        step = as_step(global_step)
        now = time.time()
        if run_name is not None:
            run_name = check_tag(run_name, "run_name")
            path = check_subrun_name(self._log_dir, run_name, "run_name")
            self._check_open()
            experiment = h.experiment_for_session(hparams, metrics, domains)
            records = [
                frame(wrap_summary_event(now, 0, h.experiment_summary(experiment))),
                frame(wrap_summary_event(now, 0, h.session_start_summary(hparams, now))),
                *self._metric_records(metrics, step, now),
                frame(wrap_summary_event(now, 0, h.session_end_summary("success", now))),
            ]
            sub = EventFileWriter(
                path, max_queue=len(records) + 1, filename_suffix=self._filename_suffix
            )
            try:
                sub.write_records(records)
            finally:
                sub.close()
            return
        # Every record is encoded before the run is marked as having a session, so a call
        # that fails leaves the run free for the next add_hparams.
        records = []
        if domains:
            experiment = h.experiment_for_session(hparams, metrics, domains)
            records.append(frame(wrap_summary_event(now, 0, h.experiment_summary(experiment))))
        records.append(
            frame(wrap_summary_event(now, 0, h.session_start_summary(hparams, self._start_time)))
        )
        records.extend(self._metric_records(metrics, step, now))
        with self._lock:
            self._check_open()
            if self._session_started:
                raise h.HParamsError(
                    f"add_hparams was already called for the run {self._log_dir!r}: TensorBoard "
                    "shows only the first session of a run. Log changing values as scalars, "
                    "or pass run_name= for a separate session."
                )
            self._session_started = True
        try:
            self._file.write_records(records)
        except BaseException:
            # A call that raised kept nothing: the run has no session yet.
            with self._lock:
                self._session_started = False
            raise
        self._file.flush()  # the HParams dashboard shows the session at once

    def write_hparams(self, hparams: Mapping[str, Any]) -> None:
        """clu's ``MetricWriter.write_hparams``: this run's hyperparameters as its session.

        Nested mappings are flattened to dotted names (``{"opt": {"lr": 0.1}}`` becomes
        ``opt.lr``), as clu does. Metrics are this run's scalar tags.
        """
        if not isinstance(hparams, Mapping):
            raise TypeError(f"hparams must be a mapping of str to values, got {hparams!r}")
        self.add_hparams(_hparams().flatten(hparams))

    def set_status(self, status: str, end_time: Any = None) -> None:
        """How this run's HParams session ends at :meth:`close`: ``"success"`` (the
        default), ``"failure"``, or ``"unknown"`` (ended without a verdict, e.g. a pruned
        trial). For code that does not use ``with``. ``end_time``: seconds since the epoch
        to record as the end (default: the time of :meth:`close`), for runs logged after
        the fact.
        """
        if status not in _STATUSES:
            raise ValueError(f"status must be 'success', 'failure' or 'unknown', got {status!r}")
        self._end_time = None if end_time is None else as_walltime(end_time, "end_time")
        self._status = status

    def _metric_records(
        self, metrics: Mapping[str, float | None], step: int, now: float
    ) -> list[bytes]:
        return [
            frame(self._scalars.encode(tag, value, step, now))
            for tag, value in metrics.items()
            if value is not None
        ]

    # -- flush / close ------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything logged so far to the event files."""
        for writer in self._all_files():
            writer.flush()

    def close(self) -> None:
        """Flush and close every event file of this writer. Harmless when closed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        _open_writers.discard(self)
        first_error: BaseException | None = None
        if self._session_started and self._pid == os.getpid():
            # Exactly one end info, now that the outcome is known. (Only the first counts,
            # so none is written while the run is open.)
            end_time = time.time() if self._end_time is None else self._end_time
            end = _hparams().session_end_summary(self._status or "success", end_time)
            try:
                self._file.write_record(frame(wrap_summary_event(time.time(), 0, end)))
            except BaseException as err:
                first_error = err
        files = self._all_files()
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
        errors = _run_within([w.close for w in files if w.slow], f"closing {self._log_dir!r}")
        if first_error is None and errors:
            first_error = errors[0]
        if first_error is not None:
            raise first_error

    # -- internals ----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            from ._errors import WriterClosedError

            raise WriterClosedError(f"the SummaryWriter for {self._log_dir!r} is closed")

    def _all_files(self) -> list[EventFileWriter]:
        with self._lock:
            return [self._file, *self._subwriters.values()]

    def _write_summary(
        self, writer: EventFileWriter, step: int, wall_time: float, tag: str, build: Any
    ) -> None:
        # Metadata goes with the first value of a tag in each file: readers keep only the
        # first and ignore the rest.
        first = tag not in writer.metadata_written
        record = frame(wrap_summary_event(wall_time, step, build(first)))
        writer.write_record(record)
        if first:
            writer.metadata_written.add(tag)


def _session_start_event(wall_time: float, step: int) -> bytes:
    # Event{wall_time, step, session_log{status: START}}: TensorBoard purges the events of
    # earlier files at and after `step` when it reads this (file_version >= 2).
    from ._encode import _event_prefix

    session_log = b"\x08\x01"  # SessionLog.status = START
    return _event_prefix(wall_time, step) + b"\x3a" + encode_varint(len(session_log)) + session_log


_open_writers: weakref.WeakSet[SummaryWriter] = weakref.WeakSet()


def _run_within(jobs: list[Any], what: str) -> list[BaseException]:
    """Run ``jobs`` (calls that may wait on a store) side by side, waiting at most one
    upload's deadline for all of them; return their errors, and a ``WriterFailedError``
    for those still running then (they go on in the background)."""
    if not jobs:
        return []
    from ._errors import WriterFailedError
    from ._remote import upload_timeout

    errors: list[BaseException] = []

    def run(job: Any) -> None:
        try:
            job()
        except BaseException as err:  # noqa: BLE001 - reported to the caller
            errors.append(err)

    if len(jobs) == 1:
        run(jobs[0])  # bounded by its own deadline already
        return errors
    timeout = upload_timeout()
    deadline = time.monotonic() + timeout
    threads = []
    for job in jobs:
        thread = threading.Thread(target=run, args=(job,), name="tbwrite-close", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no new threads at interpreter shutdown: one after the other
            run(job)
            continue
        threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = sum(thread.is_alive() for thread in threads)
    if late:
        errors.append(
            WriterFailedError(
                f"{what}: {late} uploads did not finish within {timeout:g} s (the store's "
                "deadline for one upload); they go on in the background until the process ends"
            )
        )
    return errors


def _close_all_at_exit() -> None:
    # A writer left open ends with the interpreter: its session ends SUCCESS, or FAILURE
    # when the program is dying of an uncaught exception (the interpreter has stored it in
    # sys.last_value by now). Writers on a store close side by side, within one deadline.
    failed = getattr(sys, "last_value", None) is not None
    writers = list(_open_writers)
    for writer in writers:
        if failed and writer._status is None:
            writer._status = "failure"
    local = [w for w in writers if not any(f.slow for f in w._all_files())]
    for writer in local:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - nobody to raise to at exit
            pass
    _run_within([w.close for w in writers if w not in local], "closing at exit")


# SIGTERM (docker stop, Kubernetes and Slurm preemption) kills a process without running
# atexit: where the program left SIGTERM's default action, the first SummaryWriter installs
# a handler that ends every open writer (status FAILURE, buffers flushed) and then dies of
# the signal as the default action would. A handler the program installs replaces it.
SIGTERM_CLOSE_TIMEOUT = 10.0  # seconds the writers get to close before the process dies
_sigterm_installed = False


def _handle_sigterm() -> None:
    global _sigterm_installed
    if _sigterm_installed or os.name != "posix":
        return
    import signal

    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set a handler; the next writer made there will
    _sigterm_installed = True
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # pragma: no cover - not the main interpreter
        pass


def _on_sigterm(signum: int, frame: Any) -> None:
    import signal

    def close_all() -> None:
        for writer in list(_open_writers):
            try:
                if writer._status is None:
                    writer._status = "failure"
                writer.close()
            except Exception:  # noqa: BLE001 - dying anyway; close the others
                pass

    # On a thread of its own, with a deadline: the signal may have interrupted this thread
    # inside a writer, holding a lock that close() needs.
    closer = threading.Thread(target=close_all, name="tbwrite-sigterm", daemon=True)
    closer.start()
    closer.join(SIGTERM_CLOSE_TIMEOUT)
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)  # die of the signal, as without this handler


def _after_fork_in_child() -> None:
    # A lock held by another thread at the fork stays held forever in the child, where that
    # thread does not exist: every lock of this module is made anew there.
    global _double_warning_lock
    _double_warning_lock = threading.Lock()
    for writer in list(_open_writers):
        writer._lock = threading.Lock()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
