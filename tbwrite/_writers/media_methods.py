"""The torch-style writer's methods for images, figures, video, audio, PR curves, meshes,
embeddings and custom scalars.

Thin methods: each checks its arguments with the checks and encoders of
:mod:`tbwrite._summaries` (pixels, PNG, WAV, GIF, each plugin's summary, imported on first
use together with numpy and protobuf), then hands the summary to the run core. Mixed into
:class:`tbwrite.SummaryWriter`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, SupportsIndex

from .._checks import as_float, as_step, as_walltime, check_tag
from .._format.plugin_names import CUSTOM_SCALARS_TAG
from .._run import RunWriter

if TYPE_CHECKING:
    from .._types import ArrayLike, Real, Step, WallTime

__all__ = ["MediaMethods"]


class MediaMethods:
    """Mixed into :class:`tbwrite.SummaryWriter`, which sets ``_run`` and ``_log_dir``."""

    _run: RunWriter
    _log_dir: str

    def add_image(
        self,
        tag: str,
        img_tensor: ArrayLike,
        global_step: Step = None,
        walltime: WallTime = None,
        dataformats: str = "CHW",
    ) -> None:
        """Log one image as a PNG. ``img_tensor``: uint8 (0-255) or float (0.0-1.0) pixels
        with 1, 3 or 4 channels laid out as ``dataformats`` (CHW, HWC, HW, ...)."""
        from .._summaries import media as _media

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        self._write_image(tag, _media.image_hwc(img_tensor, dataformats), step, wall_time)

    def add_images(
        self,
        tag: str,
        img_tensor: ArrayLike,
        global_step: Step = None,
        walltime: WallTime = None,
        dataformats: str = "NCHW",
    ) -> None:
        """Log a batch of images (NCHW, NHWC, NHW, ...) tiled into one PNG, 8 per row with
        no padding (PyTorch's grid; grey as RGB)."""
        from .._summaries import media as _media

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        grid = _media.make_grid(_media.grey_to_rgb(_media.images_nhwc(img_tensor, dataformats)))
        self._write_image(tag, grid, step, wall_time)

    def add_image_with_boxes(
        self,
        tag: str,
        img_tensor: ArrayLike,
        box_tensor: ArrayLike,
        global_step: Step = None,
        walltime: WallTime = None,
        rescale: Real = 1,
        dataformats: str = "CHW",
        labels: Sequence[str] | None = None,
    ) -> None:
        """Log an image with boxes (K, 4) of (xmin, ymin, xmax, ymax) pixels drawn in red as
        PyTorch draws them, then resized by ``rescale`` (Lanczos, as PyTorch). ``labels``
        (one str per box) and a ``rescale`` that changes the size need Pillow (the
        ``video`` extra); the boxes need nothing."""
        from .._summaries import media as _media

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        factor = as_float(rescale, "rescale")
        if not 0 < factor < float("inf"):
            raise ValueError(f"rescale must be a positive finite number, got {rescale!r}")
        pixels = _media.image_hwc(img_tensor, dataformats)
        boxes = _media.boxes_array(box_tensor)
        texts = _media.box_labels(labels, len(boxes))
        image = _media.rescale_lanczos(_media.draw_boxes(pixels, boxes, texts), factor)
        self._write_image(tag, image, step, wall_time)

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: Step = None,
        close: bool = True,
        walltime: WallTime = None,
    ) -> None:
        """Log a matplotlib figure rendered with Agg (a list of figures of one size: a grid,
        as :meth:`add_images`), closed afterwards unless ``close=False``."""
        from .._summaries import media as _media

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
        vid_tensor: ArrayLike,
        global_step: Step = None,
        fps: Real = 4,
        walltime: WallTime = None,
    ) -> None:
        """Log videos (N, T, C, H, W), uint8 or float in [0, 1], C 1 or 3, as one animated
        GIF at ``fps`` frames per second (the N videos tiled). Needs Pillow: the ``video``
        extra (``pip install 'tbwrite[video]'``)."""
        from .._summaries import av as _av

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        rate = as_float(fps, "fps")
        if not _av.MIN_GIF_FPS <= rate < float("inf"):
            raise ValueError(
                f"fps must be a finite number of frames per second of at least "
                f"{_av.MIN_GIF_FPS:.6g} (a GIF frame lasts at most 655.35 s), got {fps!r}"
            )
        frames = _av.video_frames(vid_tensor)
        gif = _av.gif_encode(frames, rate)
        self._write_image(tag, frames[0], step, wall_time, encoded=gif)

    def add_audio(
        self,
        tag: str,
        snd_tensor: ArrayLike,
        global_step: Step = None,
        sample_rate: SupportsIndex = 44100,
        walltime: WallTime = None,
    ) -> None:
        """Log mono audio, samples in [-1, 1] of shape (L,) or (1, L), as a PCM16 WAV in a
        Summary.Audio, as PyTorch (samples times 32767, truncated; samples outside [-1, 1]
        clipped, with a one-time warning)."""
        from .._summaries import av as _av
        from .._summaries import images_audio as _images_audio

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        rate = _images_audio.check_sample_rate(sample_rate)
        samples = _av.sound_samples(snd_tensor)
        wav = _av.wav_encode(samples, rate)
        self._run.write_legacy_audio(tag, wav, rate, len(samples), step=step, wall_time=wall_time)

    def add_pr_curve(
        self,
        tag: str,
        labels: ArrayLike,
        predictions: ArrayLike,
        global_step: Step = None,
        num_thresholds: SupportsIndex = 127,
        weights: ArrayLike | None = None,
        walltime: WallTime = None,
    ) -> None:
        """Log a precision-recall curve of binary ``labels`` (0/1 or bool) and
        ``predictions`` in [0, 1] at ``num_thresholds`` thresholds evenly spaced in [0, 1]
        (not capped at 127, unlike PyTorch); ``weights`` scale each example's count."""
        from .._summaries import pr_curves as _pr_curves

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        data = _pr_curves.pr_curve_counts(labels, predictions, num_thresholds, weights)
        self._run.write_pr_curve(tag, data, step=step, wall_time=wall_time)

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: ArrayLike,
        false_positive_counts: ArrayLike,
        true_negative_counts: ArrayLike,
        false_negative_counts: ArrayLike,
        precision: ArrayLike,
        recall: ArrayLike,
        global_step: Step = None,
        num_thresholds: SupportsIndex = 127,
        weights: ArrayLike | None = None,
        walltime: WallTime = None,
    ) -> None:
        """Log a precomputed PR curve: six 1-D arrays of one length (the number of
        thresholds TensorBoard shows, whatever ``num_thresholds`` says). ``weights`` is
        accepted for PyTorch's signature and ignored, as there."""
        from .._summaries import pr_curves as _pr_curves

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        data = _pr_curves.pr_curve_from_raw(
            true_positive_counts,
            false_positive_counts,
            true_negative_counts,
            false_negative_counts,
            precision,
            recall,
            num_thresholds,
        )
        self._run.write_pr_curve(tag, data, step=step, wall_time=wall_time)

    def add_mesh(
        self,
        tag: str,
        vertices: ArrayLike,
        colors: ArrayLike | None = None,
        faces: ArrayLike | None = None,
        config_dict: Mapping[str, Any] | None = None,
        global_step: Step = None,
        walltime: WallTime = None,
    ) -> None:
        """Log a batch of meshes for the mesh plugin: ``vertices`` (B, N, 3), ``colors``
        (B, N, 3) uint8 or floats in [0, 1], ``faces`` (B, F, 3) vertex indices, and
        ``config_dict`` of three.js settings (camera, lights, material)."""
        from .._summaries import mesh as _mesh

        tag = check_tag(tag)
        step, wall_time = as_step(global_step), as_walltime(walltime)
        parts = _mesh.mesh_parts(vertices, colors, faces)
        config = _mesh.mesh_config(config_dict)
        self._run.write_mesh(tag, parts, config, step=step, wall_time=wall_time)

    def add_embedding(
        self,
        mat: ArrayLike,
        metadata: Sequence[Any] | None = None,
        label_img: ArrayLike | None = None,
        global_step: Step = None,
        tag: str = "default",
        metadata_header: Sequence[str] | None = None,
    ) -> None:
        """Add an embedding for the projector: ``mat`` (N, D) points; ``metadata`` N labels,
        or N rows of labels with ``metadata_header`` naming the columns; ``label_img``
        (N, C, H, W) images shown as a sprite. Written, as PyTorch does, into
        ``<log_dir>/<global_step %05d>/<tag>/`` and ``<log_dir>/projector_config.pbtxt``.
        """
        from . import projector as _projector

        tag = check_tag(tag)
        step = as_step(global_step)
        prepared = _projector.prepare_embedding(
            mat, metadata, label_img, step, tag, metadata_header
        )
        self._run.check_open()
        _projector.write_embedding(self._log_dir, prepared)

    def add_custom_scalars(self, layout: Mapping[str, Any]) -> None:
        """Lay out the custom scalars dashboard, PyTorch's dict: ``{category: {title:
        ["Multiline", [tag regex, ...]] or ["Margin", [value, lower, upper]]}}``."""
        from .._summaries import custom_scalars as _custom_scalars

        layout_bytes = _custom_scalars.custom_scalars_layout(layout)
        self._run.write_custom_scalars(
            CUSTOM_SCALARS_TAG, layout_bytes, step=0, wall_time=time.time()
        )

    def _write_image(
        self, tag: str, pixels: Any, step: int, wall_time: float, encoded: bytes | None = None
    ) -> None:
        # A Summary.Image, as PyTorch writes it (both TensorBoard loaders convert it).
        from .._summaries import media as _media

        data = _media.png_encode(pixels) if encoded is None else encoded
        height, width, channels = pixels.shape
        self._run.write_legacy_image(
            tag, data, height, width, channels, step=step, wall_time=wall_time
        )
