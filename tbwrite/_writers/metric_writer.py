"""MetricWriter: clu's ``MetricWriter`` interface with TensorFlow's summary forms.

The front for JAX and Flax code (and the Keras callback): every ``write_*`` method takes a
step and a mapping of tag -> value, checks every value before writing any, and writes what
``tf.summary`` writes for it (:mod:`tbwrite._summaries.tf_rules`): scalars as rank-0
float32 tensors, images as the images plugin's ``[width, height, png, ...]`` tensor, audio
with every channel kept, histograms in 30 equal-width buckets, hparams with a session group
name. It holds its own run core (:class:`~tbwrite._run.RunWriter`), opened by the same
argument checks as the torch-style :class:`~tbwrite.SummaryWriter`; ``tb_writer`` is a
torch-style view of that same run, for the methods clu's interface does not have.

It imports neither clu nor JAX: JAX arrays (anything with ``__array__``) are read through
numpy; scalars are read without waiting for the device (see :meth:`MetricWriter.write_scalars`).
When clu is imported before a writer is made, the class is registered as a virtual subclass
of clu's abstract ``MetricWriter``, so ``isinstance`` checks and clu's wrappers
(``AsyncWriter``, ``MultiWriter``, ``write_values``) accept it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._checks import as_scalar, as_step, check_tag, check_text
from .._summaries.hparam_values import flatten_hparams
from .summary_writer import SummaryWriter, open_run, writer_over

if TYPE_CHECKING:
    from .._types import ArrayLike, Real

__all__ = ["MetricWriter"]


_registered = False
_register_lock = threading.Lock()


def _register_with_clu() -> None:
    # Only when the user has imported clu already: importing it here would import JAX.
    global _registered
    if _registered:
        return
    interface = sys.modules.get("clu.metric_writers.interface")
    if interface is None:
        return
    with _register_lock:
        if not _registered:
            interface.MetricWriter.register(MetricWriter)
            _registered = True


_VIDEO_FPS = 4  # add_video's default: clu's writers give no frame rate

_MAX_CHANNELS = 65535  # a WAV file's channel count field is 16 bits


def _check_mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of str to values, got {value!r:.80}")
    return value


def _text_metadata() -> Any:
    from .._format.plugin_names import PLUGIN_TEXT
    from .._proto import summary_pb2

    return summary_pb2.SummaryMetadata(plugin_data={"plugin_name": PLUGIN_TEXT})


class MetricWriter:
    """A clu ``MetricWriter`` writing TensorBoard event files into ``logdir``.

    Every ``write_*`` method takes the step and a mapping of tag -> value, as clu's
    interface; values may be Python numbers, numpy arrays or JAX arrays.

    - :meth:`write_scalars`: one scalar per tag, all checked before any is written, in
      ``tf.summary.scalar``'s form (a rank-0 float32 tensor with the scalars plugin's
      metadata), as clu's own writer writes them. A JAX array is not read at the call
      (which would wait for the device): its shape and dtype are checked, and it is read
      when its record is written, as :meth:`tbwrite.SummaryWriter.add_scalar` does.
    - :meth:`write_images`: ``[N, H, W, C]`` or ``[H, W, C]``, C 1, 3 or 4, uint8 or floats
      in [0, 1] (converted as ``tf.summary.image`` does: ``x * 255.5``, clipped, truncated);
      the N images are kept apart under one tag (TensorBoard's sample slider).
    - :meth:`write_videos`: ``[N, T, H, W, C]`` or ``[T, H, W, C]`` as an animated GIF
      (needs Pillow, the ``video`` extra; without it a warning is given once and nothing
      is written, as clu's own writers do for videos).
    - :meth:`write_audios`: ``[N, T, C]`` floats in [-1, 1], written as
      ``tf.summary.audio`` writes them (every channel kept; ``round(x * 32768)``, clipped);
      the N clips are kept apart under one tag.
    - :meth:`write_texts`: markdown.
    - :meth:`write_histograms`: ``num_buckets`` maps a tag to its bucket count (default 30
      equal-width buckets, as TensorFlow's).
    - :meth:`write_hparams`: call once; flattened as clu does (:func:`tbwrite.flatten_hparams`).
      The run becomes an HParams session whose metrics are its scalar tags, ending SUCCESS
      at :meth:`close`, or FAILURE when a ``with`` block exits with an exception.
    - :meth:`write_pointcloud`: ``[N, 3]`` points (optional ``[N, 3]`` colors) for
      TensorBoard's mesh plugin.
    - :meth:`write_summaries`: raw tensors with a ``SummaryMetadata`` (a protobuf message of
      any package, or its serialized bytes).
    - :meth:`flush` returns once everything written is in the files; :meth:`close` flushes
      and closes, a second close does nothing.
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        *,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
        histogram_form: str = "tensor",
    ) -> None:
        """``logdir``: the run directory or an fsspec URL. The keywords are those of
        :class:`tbwrite.SummaryWriter`, checked by the same rules; ``histogram_form``
        applies to :attr:`tb_writer`'s ``add_histogram`` (default ``"tensor"``, the [k, 3]
        tensor ``tf.summary`` writes)."""
        if histogram_form not in ("torch", "tensor"):
            raise ValueError(f"histogram_form must be 'torch' or 'tensor', got {histogram_form!r}")
        self._logdir, self._run = open_run(
            logdir, comment, purge_step, max_queue, flush_secs, filename_suffix
        )
        self._histogram_form = histogram_form
        self._view: SummaryWriter | None = None
        self._video_warned = False
        _register_with_clu()

    @property
    def logdir(self) -> str:
        return self._logdir

    @property
    def tb_writer(self) -> SummaryWriter:
        """A torch-style :class:`tbwrite.SummaryWriter` over this same run (same files,
        same HParams session), for ``set_status``, ``add_embedding`` and the other methods
        clu's interface does not have."""
        if self._view is None:
            self._view = writer_over(self._run, self._logdir, self._histogram_form)
        return self._view

    def __enter__(self) -> MetricWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._run.fail_unless_status_set()
        self._run.close()

    # -- the MetricWriter interface --------------------------------------------------------

    def write_scalars(self, step: int, scalars: Mapping[str, Real]) -> None:
        """Write each scalar as ``tf.summary.scalar`` does, the form clu's own writer
        writes: a rank-0 float32 tensor with the scalars plugin's metadata (readers file
        these under ``tensors``, as they do clu's and Keras's logs)."""
        step = as_step(step, "step")
        wall_time = time.time()
        # Every value is checked before any is written.
        checked: list[tuple[str, Any]] = []
        for key, value in _check_mapping(scalars, "scalars").items():
            tag = key if type(key) is str and key else check_tag(key, "scalars key")
            check_tag(tag, "scalars key")
            if type(value) is not float:  # a device array is read when its record is written
                value = as_scalar(value, f"scalars[{key!r}]")
            checked.append((tag, value))
        self._run.write_scalar_tensors(checked, step=step, wall_time=wall_time)

    def write_images(self, step: int, images: Mapping[str, ArrayLike]) -> None:
        import numpy as np

        from .._summaries import media as _media
        from .._summaries import tf_rules

        step = as_step(step, "step")
        prepared = []
        for key, value in _check_mapping(images, "images").items():
            tag = check_tag(key, "images key")
            arr = _media.as_array(value, f"images[{key!r}]")
            if arr.ndim == 3:
                arr = arr[None]
            if arr.ndim == 4 and np.issubdtype(arr.dtype, np.floating):
                arr = tf_rules.pixels_uint8(arr)  # as tf.summary.image converts floats
            batch = _media.images_nhwc(arr, "NHWC", f"images[{key!r}]")
            height, width = batch.shape[1:3]
            pngs = [_media.png_encode(np.ascontiguousarray(img)) for img in batch]
            prepared.append((tag, pngs, width, height))
        for tag, pngs, width, height in prepared:
            self._run.write_image(tag, pngs, width, height, step=step)

    def write_videos(self, step: int, videos: Mapping[str, ArrayLike]) -> None:
        import numpy as np

        step = as_step(step, "step")
        try:
            import PIL  # noqa: F401
        except ImportError:
            if not self._video_warned:
                self._video_warned = True
                warnings.warn(
                    "write_videos needs Pillow (pip install 'tbwrite[video]'); "
                    "videos are not written",
                    UserWarning,
                    stacklevel=2,
                )
            return
        from .._summaries import av as _av

        # Every video is checked and encoded before any is written.
        prepared = []
        for key, value in _check_mapping(videos, "videos").items():
            tag = check_tag(key, "videos key")
            arr = np.asarray(value)
            if arr.ndim == 4:
                arr = arr[None]
            if arr.ndim != 5:
                raise ValueError(
                    f"videos[{key!r}] must have shape [N, T, H, W, C] or "
                    f"[T, H, W, C], got {arr.shape}"
                )
            try:
                frames = _av.video_frames(arr.transpose(0, 1, 4, 2, 3))
                gif = _av.gif_encode(frames, _VIDEO_FPS)
            except (TypeError, ValueError) as err:
                raise type(err)(f"videos[{key!r}]: {err}") from err
            prepared.append((tag, frames[0], gif))
        wall_time = time.time()
        for tag, first, gif in prepared:  # a Summary.Image holding the GIF, as add_video
            height, width, channels = first.shape
            self._run.write_legacy_image(
                tag, gif, height, width, channels, step=step, wall_time=wall_time
            )

    def write_audios(self, step: int, audios: Mapping[str, ArrayLike], *, sample_rate: int) -> None:
        import numpy as np

        from .._summaries import images_audio as _images_audio
        from .._summaries import tf_rules

        step = as_step(step, "step")
        rate = _images_audio.check_sample_rate(sample_rate)
        prepared = []
        for key, value in _check_mapping(audios, "audios").items():
            tag = check_tag(key, "audios key")
            arr = np.asarray(value, dtype=np.float32)
            if arr.ndim != 3 or arr.shape[1] == 0 or not 1 <= arr.shape[2] <= _MAX_CHANNELS:
                raise ValueError(
                    f"audios[{key!r}] must have shape [N, T, C] with T >= 1 and C from 1 to "
                    f"{_MAX_CHANNELS}, got {arr.shape}"
                )
            if not np.isfinite(arr).all():
                raise ValueError(f"audios[{key!r}] must be finite")
            # As tf.summary.audio: every channel kept, samples scaled by 32768 and rounded.
            clips = [tf_rules.wav_encode(clip, rate) for clip in arr]
            prepared.append((tag, clips))
        for tag, clips in prepared:
            self._run.write_audio(tag, clips, step=step)

    def write_texts(self, step: int, texts: Mapping[str, str]) -> None:
        step = as_step(step, "step")
        # Every text is checked before any is written.
        prepared = []
        for key, value in _check_mapping(texts, "texts").items():
            tag = check_tag(key, "texts key")
            prepared.append((tag, check_text(value, f"texts[{key!r}]")))
        # tf.summary.text's form: a rank-0 string tensor, the text plugin's metadata without
        # a data class (TensorBoard reads it as a tensor).
        metadata = _text_metadata()
        for tag, value in prepared:
            self._run.write_tensor(tag, value, metadata, step=step)

    def write_histograms(
        self,
        step: int,
        arrays: Mapping[str, ArrayLike],
        num_buckets: Mapping[str, int] | None = None,
    ) -> None:
        from .._summaries.histograms import histogram_buckets

        step = as_step(step, "step")
        buckets = {} if num_buckets is None else _check_mapping(num_buckets, "num_buckets")
        # Every array is checked and bucketed before any is written.
        prepared = []
        for key, value in _check_mapping(arrays, "arrays").items():
            tag = check_tag(key, "arrays key")
            bins = buckets.get(key) or "tensorflow"
            try:
                prepared.append((tag, histogram_buckets(value, bins)))
            except (TypeError, ValueError) as err:
                raise type(err)(f"arrays[{key!r}]: {err}") from err
        for tag, counts in prepared:
            self._run.write_histogram(tag, counts, step=step)

    def write_hparams(self, hparams: Mapping[str, Any]) -> None:
        """Flattened as clu does (:func:`tbwrite.flatten_hparams`), written as ``hp.hparams`` writes
        them, session group name included (runs with the same hyperparameters form one group
        in TensorBoard's HParams dashboard, as clu's do); the session ends at :meth:`close`."""
        from .._summaries import tf_rules
        from .._summaries.hparam_values import config_hparams

        values = config_hparams(hparams)
        group = tf_rules.hparams_group_name(flatten_hparams(hparams), values)
        self._run.start_session(values, group=group)  # HParamsError if twice

    def write_pointcloud(
        self,
        step: int,
        point_clouds: Mapping[str, ArrayLike],
        *,
        point_colors: Mapping[str, ArrayLike] | None = None,
        configs: Mapping[str, Any] | None = None,
    ) -> None:
        import numpy as np

        from .._summaries import mesh as _mesh

        step = as_step(step, "step")
        colors = {} if point_colors is None else _check_mapping(point_colors, "point_colors")
        clouds = _check_mapping(point_clouds, "point_clouds")
        try:
            config = _mesh.mesh_config(dict(configs) if configs else None)
        except (TypeError, ValueError) as err:
            raise type(err)(f"configs: {err}") from err
        # Every cloud is checked before any is written.
        prepared = []
        for key, value in clouds.items():
            tag = check_tag(key, "point_clouds key")
            points = np.asarray(value)
            color = colors.get(key)
            if points.ndim == 2:
                points = points[None]
                color = None if color is None else np.asarray(color)[None]
            try:
                parts = _mesh.mesh_parts(points, color, None)
            except (TypeError, ValueError) as err:
                raise type(err)(f"point_clouds[{key!r}] / point_colors: {err}") from err
            prepared.append((tag, parts))
        wall_time = time.time()
        for tag, parts in prepared:
            self._run.write_mesh(tag, parts, config, step=step, wall_time=wall_time)

    def write_summaries(
        self,
        step: int,
        values: Mapping[str, ArrayLike],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:

        from .._summaries.tensors import metadata_proto, tensor_proto

        step = as_step(step, "step")
        metas = {} if metadata is None else _check_mapping(metadata, "metadata")
        # Every value and its metadata are checked before any is written. Metadata bytes
        # that are not a SummaryMetadata are kept as TensorFlow keeps them (with a warning).
        prepared = []
        for key, value in _check_mapping(values, "values").items():
            tag = check_tag(key, "values key")
            tensor_proto(value, f"values[{tag!r}]")
            md = metas.get(key)
            if md is not None:
                md = metadata_proto(md, f"metadata[{tag!r}]")
            prepared.append((tag, value, md))
        for tag, value, md in prepared:
            self._run.write_tensor(tag, value, md, step=step)

    def flush(self) -> None:
        self._run.flush()

    def close(self) -> None:
        self._run.close()
