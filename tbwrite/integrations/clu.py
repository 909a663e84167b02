"""clu's ``MetricWriter`` interface over tbwrite, for JAX and Flax code without TensorFlow.

``clu.metric_writers.SummaryWriter`` imports TensorFlow; :class:`SummaryWriter` here (the
public :class:`tbwrite.MetricWriter` under clu's name) has the same methods and writes the
same TensorBoard data with tbwrite. It imports neither clu nor JAX. When clu is imported
before a writer is made, the class is registered as a virtual subclass of clu's abstract
``MetricWriter``, so ``isinstance`` checks and clu's wrappers (``AsyncWriter``,
``MultiWriter``, ``write_values``) accept it.

Usage::

    from tbwrite.integrations.clu import SummaryWriter

    writer = SummaryWriter("runs/exp1")
    writer.write_hparams({"lr": 1e-3, "model": {"width": 128}})
    writer.write_scalars(step, {"loss": loss})         # loss: a jax.Array
    writer.write_histograms(step, {"w": params["w"]}, num_buckets={"w": 20})
    writer.close()
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import MetricWriter
from .. import flatten_hparams as _flatten

__all__ = ["SummaryWriter", "flatten_hparams"]

#: clu's ``metric_writers.SummaryWriter``, written by tbwrite: :class:`tbwrite.MetricWriter`.
SummaryWriter = MetricWriter


def flatten_hparams(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """clu's flattening (``clu.internal.utils.flatten_dict``): nested mappings (and
    anything with ``.items()``, such as an ``ml_collections.ConfigDict``) become dotted
    names, list and tuple items become ``name.0``, ``name.1``, ..., and ``None`` becomes
    ``""``."""
    return _flatten(hparams)
