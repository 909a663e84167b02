"""The torch-style writer's histogram methods: ``add_histogram`` and ``add_histogram_raw``.

Thin methods: each checks its arguments, has :mod:`tbwrite._summaries.histograms` (imported
on first use together with numpy) compute the buckets in the writer's ``histogram_form``,
then hands the summary to the run core. Mixed into :class:`tbwrite.SummaryWriter`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._checks import as_float, as_step, as_walltime, check_tag
from .._run import RunWriter

if TYPE_CHECKING:
    from .._types import ArrayLike, Real, Step, WallTime

__all__ = ["HistogramMethods"]


class HistogramMethods:
    """Mixed into :class:`tbwrite.SummaryWriter`, which sets ``_run`` and
    ``_histogram_form`` (``"torch"`` or ``"tensor"``)."""

    _run: RunWriter
    _histogram_form: str

    def add_histogram(
        self,
        tag: str,
        values: ArrayLike,
        global_step: Step = None,
        bins: int | str | ArrayLike = "tensorflow",
        walltime: WallTime = None,
        max_bins: int | None = None,
    ) -> None:
        """Log a histogram of ``values`` (any array-like of finite real numbers).

        With ``histogram_form="torch"`` (the default) written as PyTorch writes it: a legacy
        HistogramProto (min, max, num, sum, sum of squares, and the buckets from the first
        to the last non-empty one, preceded by an empty one, by their right edges);
        ``bins="tensorflow"`` means PyTorch's 1,549 exponential edges (±1e-12 * 1.1**k),
        an int that many equal-width buckets, a numpy rule (``"auto"``, ``"fd"``, ...) or
        a sequence of edges; ``max_bins`` groups ``len // max_bins`` adjacent buckets, as
        PyTorch (which can leave more than ``max_bins``).

        With ``histogram_form="tensor"``: TensorBoard's current [k, 3] float64 tensor of
        (left edge, right edge, count); ``bins="tensorflow"`` means 30 equal-width buckets
        from min to max (as ``tf.summary.histogram``) and ``max_bins`` caps the count.
        """
        tag = check_tag(tag)
        step = as_step(global_step)
        wall_time = as_walltime(walltime)
        from .._summaries import histograms as b

        if self._histogram_form == "torch":
            fields = b.torch_histogram_fields(values, bins, max_bins)
            self._run.write_legacy_histogram(tag, *fields, step=step, wall_time=wall_time)
            return
        buckets = b.histogram_buckets(values, bins, max_bins)
        self._run.write_histogram(tag, buckets, step=step, wall_time=wall_time)

    def add_histogram_raw(
        self,
        tag: str,
        min: Real,
        max: Real,
        num: Real,
        sum: Real,
        sum_squares: Real,
        bucket_limits: ArrayLike,
        bucket_counts: ArrayLike,
        global_step: Step = None,
        walltime: WallTime = None,
    ) -> None:
        """Log a histogram from precomputed buckets, PyTorch's signature.

        Bucket i holds the values in (bucket_limits[i-1], bucket_limits[i]]; the first
        starts at ``min`` and the last ends at ``max``. With ``histogram_form="torch"``
        written as given, a legacy HistogramProto, as PyTorch; with ``"tensor"`` in the
        [k, 3] form, as TensorBoard's loaders would convert it (``sum`` and ``sum_squares``
        are then checked for being numbers but, as in TensorBoard's own conversion, not
        stored).
        """
        tag = check_tag(tag)
        step = as_step(global_step)
        wall_time = as_walltime(walltime)
        lo = as_float(min, "min")
        hi = as_float(max, "max")
        stats = (as_float(num, "num"), as_float(sum, "sum"), as_float(sum_squares, "sum_squares"))
        from .._summaries import histograms as b

        buckets = b.histogram_from_raw(lo, hi, num, bucket_limits, bucket_counts)
        if self._histogram_form == "torch":  # PyTorch's own form: the fields as given
            fields = (lo, hi, *stats, b.as_float_list(bucket_limits), buckets[:, 2].tolist())
            self._run.write_legacy_histogram(tag, *fields, step=step, wall_time=wall_time)
            return
        self._run.write_histogram(tag, buckets, step=step, wall_time=wall_time)
