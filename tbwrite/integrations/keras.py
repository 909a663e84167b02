"""Keras 3's TensorBoard callback without TensorFlow: the same arguments, run layout and tag
names, written by tbwrite.

``keras.callbacks.TensorBoard`` writes through ``tf.summary``, so on the JAX or PyTorch
backends it needs TensorFlow installed only to log. This callback takes the same
constructor and writes what Keras writes, where Keras writes it, so that dashboards and
scripts built on Keras's layout keep working. Scalars take ``tf.summary.scalar``'s form (a
rank-0 float32 tensor with the scalars plugin's metadata), so readers file them under
``tensors`` as they do Keras's own:

- ``<log_dir>/train``: ``epoch_<metric>`` for every training metric of ``fit``'s logs
  (``epoch_loss``, ``epoch_accuracy``, ...), ``epoch_learning_rate`` (or
  ``epoch_learning_rate_<optimizer name>`` for a multi-optimizer), and with
  ``write_steps_per_second`` ``epoch_steps_per_second``, at step = the epoch (0-based);
- ``<log_dir>/validation``: the validation metrics without their ``val_`` prefix
  (``epoch_loss``, ...) at step = the epoch, and after every evaluation (``fit``'s
  validation, ``model.evaluate``) ``evaluation_<metric>_vs_iterations`` at step = the
  optimizer's iteration count (always: Keras, with ``update_freq`` = N > 1, writes it
  only when the evaluation batches counted so far are a multiple of N, and the epoch's
  summaries only when the epoch's last batch number is, a side effect of the
  ``tf.summary.record_if`` it sets for its batch summaries);
- with ``update_freq="batch"`` or N: ``batch_<metric>`` (the running values ``fit``
  reports after a batch) and with ``write_steps_per_second`` ``batch_steps_per_second``
  in ``train``, every N-th batch, at step = the batch number counted from 1 across
  epochs;
- with ``histogram_freq`` = k, every k-th epoch (0, k, 2k, ...): each weight of each layer
  as the histogram ``<weight path, ':' as '_'>/histogram`` (30 equal-width buckets, as
  ``tf.summary.histogram``), and with ``write_images`` as the image ``<weight path>/image``
  shaped as Keras shapes it (a bias as a column, a dense kernel with its long side
  across, a 1-D conv kernel as one image per output channel, the first three kept as the
  tag's samples as ``tf.summary.image`` keeps them), pixels as TensorFlow converts floats
  (``clip(w * 255.5, 0, 255)``);
- with ``embeddings_freq`` = k, every k-th epoch: the table of each ``Embedding`` layer
  for TensorBoard's projector (see :meth:`TensorBoard._log_embeddings`).

Not supported: ``write_graph`` (accepted; Keras documents it as not supported either),
``profile_batch`` (accepted; a value that would start the profiler warns once).

Usage (any backend; ``KERAS_BACKEND=jax`` needs no TensorFlow)::

    from tbwrite.integrations.keras import TensorBoard

    model.fit(x, y, validation_data=(xv, yv), epochs=10,
              callbacks=[TensorBoard("logs/run-1", histogram_freq=1)])
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Mapping
from typing import Any, Union

import keras
import numpy as np

from .. import MetricWriter, SummaryWriter

__all__ = ["TensorBoard"]

# tf.summary.image's default: at most this many images of a batch are kept.
_MAX_IMAGES = 3

# An Embedding layer's projector labels: (one label, or one row of labels, per row;
# the column names of a multi-column file, or None).
_Metadata = tuple[list[Any], Union[list[str], None]]

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(key: str, message: str) -> None:
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(message, UserWarning, stacklevel=3)


def _check_freq(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


class TensorBoard(keras.callbacks.Callback):  # type: ignore[misc]  # keras is untyped
    """``model.fit(..., callbacks=[TensorBoard(log_dir)])``: Keras's TensorBoard callback,
    written by tbwrite (see the module docstring for every tag written).

    Args:
        log_dir: the directory holding the runs ``train`` and ``validation``.
        histogram_freq: every this many epochs, log each weight as a histogram (0: never).
        write_graph: accepted for compatibility; no graph is written.
        write_images: with ``histogram_freq``, log each weight as an image too.
        write_steps_per_second: log training steps per second (per epoch, and per batch
            with ``update_freq`` other than ``"epoch"``).
        update_freq: ``"epoch"`` (default), ``"batch"`` (= 1) or N: log the batch-level
            ``batch_<metric>`` every N batches as well.
        profile_batch: accepted for compatibility; nothing is profiled (a non-zero value
            warns once).
        embeddings_freq: every this many epochs, log each ``Embedding`` layer's table for
            the projector (0: never).
        embeddings_metadata: a metadata file (one label per line, or a TSV whose first
            line names the columns) for every ``Embedding`` layer, or a dict of layer
            name -> such a file.

    Every file is flushed at the end of each epoch and closed at the end of training.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: str | int = "epoch",
        profile_batch: Any = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: str | Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise TypeError(f"log_dir must be a non-empty str or os.PathLike, got {log_dir!r}")
        _check_freq("histogram_freq", histogram_freq)
        _check_freq("embeddings_freq", embeddings_freq)
        if update_freq == "batch":
            update_freq = 1
        elif update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1
        ):
            raise ValueError(
                f"update_freq must be 'epoch', 'batch' or a positive int, got {update_freq!r}"
            )
        if embeddings_metadata is not None and not isinstance(embeddings_metadata, (str, Mapping)):
            raise TypeError(
                "embeddings_metadata must be a file name, a dict of layer name -> file name, "
                f"or None, got {embeddings_metadata!r}"
            )
        if profile_batch not in (0, "0", None, (0, 0), [0, 0], "0,0"):
            _warn_once(
                "profile_batch",
                "tbwrite.integrations.keras.TensorBoard does not profile: "
                f"profile_batch={profile_batch!r} is ignored.",
            )
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self.profile_batch = profile_batch
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers: dict[str, MetricWriter] = {}
        self._training = False
        self._global_train_batch = 0
        self._batch_start_time = 0.0
        self._epoch_start_time = 0.0
        self._previous_epoch_iterations = 0.0
        self._metadata: dict[str, _Metadata] = {}

    # -- writers ------------------------------------------------------------------------

    def _writer(self, run: str) -> SummaryWriter:
        return self._metric_writer(run).tb_writer

    def _metric_writer(self, run: str) -> MetricWriter:
        writer = self._writers.get(run)
        if writer is None:  # created when first needed, as Keras does: no empty runs
            # Keras writes through tf.summary: TensorFlow's forms (MetricWriter), with
            # histograms as its [k, 3] tensor, not PyTorch's.
            writer = MetricWriter(
                os.path.join(self.log_dir, run), max_queue=1000, histogram_form="tensor"
            )
            self._writers[run] = writer
        return writer

    def _close_writers(self) -> None:
        writers, self._writers = self._writers, {}
        for writer in writers.values():
            writer.close()

    def _flush_writers(self) -> None:
        for writer in self._writers.values():
            writer.flush()

    # -- Keras's callback protocol ------------------------------------------------------

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        self._close_writers()
        if self.embeddings_freq:
            self._metadata = self._read_embeddings_metadata(model)

    def on_train_begin(self, logs: Any = None) -> None:
        self._training = True
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0.0

    def on_train_end(self, logs: Any = None) -> None:
        self._training = False
        self._close_writers()

    def on_test_end(self, logs: Any = None) -> None:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "iterations") and logs:
            step = int(keras.ops.convert_to_numpy(optimizer.iterations))
            writer = self._writer("validation")
            for name, value in logs.items():
                writer.add_scalar(f"evaluation_{name}_vs_iterations", value, step, new_style=True)
        if not self._training:  # model.evaluate() on its own
            self._close_writers()

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        freq = self.update_freq
        if not isinstance(freq, int) or self._global_train_batch % freq:  # "epoch"
            return
        step = self._global_train_batch
        writer = self._writer("train")
        if self.write_steps_per_second:
            elapsed = time.time() - self._batch_start_time
            if elapsed > 0:
                writer.add_scalar("batch_steps_per_second", 1.0 / elapsed, step, new_style=True)
        if isinstance(logs, dict):
            for name, value in logs.items():
                writer.add_scalar(f"batch_{name}", value, step, new_style=True)

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        if self.write_steps_per_second:
            self._previous_epoch_iterations = float(
                keras.ops.convert_to_numpy(self.model.optimizer.iterations)
            )
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._log_embeddings(epoch)
        self._flush_writers()

    # -- what is logged -----------------------------------------------------------------

    def _learning_rates(self) -> dict[str, float]:
        optimizer: Any = getattr(self.model, "optimizer", None)
        # A LossScaleOptimizer wraps the one that has the learning rate.
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if hasattr(optimizer, "optimizers"):
            return {
                f"learning_rate_{opt.name}": float(keras.ops.convert_to_numpy(opt.learning_rate))
                for opt in optimizer.optimizers
            }
        if isinstance(optimizer, keras.optimizers.Optimizer):
            return {"learning_rate": float(keras.ops.convert_to_numpy(optimizer.learning_rate))}
        return {}

    def _log_epoch_metrics(self, epoch: int, logs: Any) -> None:
        if not logs:
            return
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[len("val_") :]: v for k, v in logs.items() if k.startswith("val_")}
        train.update(self._learning_rates())
        if self.write_steps_per_second:
            iterations = float(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            elapsed = time.time() - self._epoch_start_time
            if elapsed > 0:
                train["steps_per_second"] = (iterations - self._previous_epoch_iterations) / elapsed
        for run, values in (("train", train), ("validation", val)):
            if values:
                writer = self._writer(run)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", value, epoch, new_style=True)

    def _log_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.path.replace(":", "_")
                values = np.asarray(keras.ops.convert_to_numpy(weight), dtype=np.float64)
                if values.size == 0:
                    continue
                if not np.all(np.isfinite(values)):
                    _warn_once(
                        "nonfinite",
                        f"weight {weight.path!r} has NaN or infinite values at epoch {epoch}: "
                        "not logged as a histogram or image",
                    )
                    continue
                writer.add_histogram(f"{name}/histogram", values, epoch)
                if self.write_images:
                    self._log_weight_as_image(values, f"{name}/image", epoch)

    def _log_weight_as_image(self, values: Any, tag: str, epoch: int) -> None:
        images = _weight_images(values, keras.backend.image_data_format())
        if images is None:
            return
        # tf.summary.image's form (the images plugin's [width, height, png, ...] tensor):
        # at most its default max_outputs (3) images, each a sample of the tag.
        self._metric_writer("train").write_images(epoch, {tag: images[:_MAX_IMAGES]})

    def _read_embeddings_metadata(
        self, model: Any
    ) -> dict[str, tuple[list[Any], list[str] | None]]:
        layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
        files: dict[str, str] = {}
        if isinstance(self.embeddings_metadata, str):
            files = {layer.name: self.embeddings_metadata for layer in layers}
        elif self.embeddings_metadata:
            names = {layer.name for layer in layers}
            unknown = sorted(set(self.embeddings_metadata) - names)
            if unknown:
                raise ValueError(
                    f"embeddings_metadata names layers that are not Embedding layers of the "
                    f"model: {unknown}"
                )
            files = dict(self.embeddings_metadata)
        out = {}
        for layer in layers:
            path = files.get(layer.name)
            if path is not None:
                out[layer.name] = _read_metadata(path, int(layer.input_dim), layer.name)
        return out

    def _log_embeddings(self, epoch: int) -> None:
        """Each ``Embedding`` layer's table, for the projector: written with
        :meth:`tbwrite.SummaryWriter.add_embedding` into the ``train`` run, as
        ``train/<epoch:05d>/<layer name>/tensors.tsv`` (plus ``metadata.tsv`` from
        ``embeddings_metadata``), listed in ``train/projector_config.pbtxt``. (Keras saves a
        ``.weights.h5`` checkpoint there instead, which TensorBoard's projector does not
        read.)"""
        writer = self._writer("train")
        for layer in self.model.layers:
            if isinstance(layer, keras.layers.Embedding):
                table = np.asarray(keras.ops.convert_to_numpy(layer.embeddings))
                labels, header = self._metadata.get(layer.name, (None, None))
                writer.add_embedding(
                    table, metadata=labels, global_step=epoch, tag=layer.name,
                    metadata_header=header,
                )  # fmt: skip


def _weight_images(values: Any, data_format: str) -> Any:
    """A weight as Keras's callback shapes it into images: floats [n, height, width, c]
    (converted to pixels as tf.summary.image converts them, by ``write_images``), or None
    when Keras would write no image for it."""
    w = np.squeeze(values)
    if w.ndim == 1:  # a bias: one column
        w = w.reshape(1, w.shape[0], 1, 1)
    elif w.ndim == 2:  # a dense kernel, its longer side across
        if w.shape[0] > w.shape[1]:
            w = w.T
        w = w.reshape(1, w.shape[0], w.shape[1], 1)
    elif w.ndim == 3:  # a 1-D conv kernel: one image per output channel
        if data_format == "channels_last":
            w = np.transpose(w, (2, 0, 1))
        w = w.reshape(w.shape[0], w.shape[1], w.shape[2], 1)
    if w.ndim != 4 or w.shape[-1] not in (1, 3, 4):
        return None
    return w


def _read_metadata(path: str, rows: int, layer: str) -> _Metadata:
    """A projector metadata file: one label per line, or a TSV with a header line."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if lines and "\t" in lines[0] and len(lines) == rows + 1:
        return [line.split("\t") for line in lines[1:]], lines[0].split("\t")
    if len(lines) != rows:
        raise ValueError(
            f"embeddings_metadata file {path!r} for layer {layer!r} has {len(lines)} lines, "
            f"but the layer has {rows} rows"
        )
    return lines, None
