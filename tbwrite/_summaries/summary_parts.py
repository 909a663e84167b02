"""Shared pieces of the summary builders: metadata, one-value summaries, tensors.

Pure functions over the generated protobuf classes; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._proto import summary_pb2, tensor_pb2


def summary_metadata(
    plugin: str, data_class: Any, display_name: str = "", description: str = ""
) -> summary_pb2.SummaryMetadata:
    md = summary_pb2.SummaryMetadata(
        display_name=display_name, summary_description=description, data_class=data_class
    )
    md.plugin_data.plugin_name = plugin
    return md


def single_value_summary(
    tag: str, tensor: tensor_pb2.TensorProto, md: summary_pb2.SummaryMetadata | None
) -> bytes:
    value = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if md is not None:
        value.metadata.CopyFrom(md)
    return summary_pb2.Summary(value=[value]).SerializeToString()


def plugin_metadata(plugin: str, content: bytes, data_class: Any) -> summary_pb2.SummaryMetadata:
    md = summary_pb2.SummaryMetadata()
    md.plugin_data.plugin_name = plugin
    md.plugin_data.content = content
    if data_class is not None:
        md.data_class = data_class
    return md


def summary_value(
    tag: str, tensor: tensor_pb2.TensorProto, md: summary_pb2.SummaryMetadata | None
) -> summary_pb2.Summary.Value:
    value = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if md is not None:
        value.metadata.CopyFrom(md)
    return value


def tensor_proto(dtype: Any, shape: Sequence[int], **fields: Any) -> tensor_pb2.TensorProto:
    tensor = tensor_pb2.TensorProto(dtype=dtype, **fields)
    for size in shape:
        tensor.tensor_shape.dim.add(size=size)
    return tensor


def finite_float64(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` as float64; ``ValueError`` naming ``name`` if any value is not finite."""
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, found {arr[~np.isfinite(arr)].flat[0]!r}")
    return arr
