"""Summaries of the scalars (tensor form) and text plugins.

Pure functions from validated values to serialized Summary bytes; the simple_value form of
a scalar is hand-encoded in :mod:`tbwrite._format.fast_scalars`.
"""

from __future__ import annotations

from .._format.plugin_names import PLUGIN_SCALARS, PLUGIN_TEXT
from .._proto import summary_pb2, tensor_pb2
from .summary_parts import single_value_summary, summary_metadata


def scalar_tensor_summary(
    tag: str, value: float, *, with_metadata: bool, display_name: str = "", description: str = ""
) -> bytes:
    """A rank-0 DT_FLOAT tensor with the scalars plugin's metadata (read by both loaders)."""
    tensor = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_FLOAT, float_val=[value])
    md = (
        summary_metadata(PLUGIN_SCALARS, summary_pb2.DATA_CLASS_SCALAR, display_name, description)
        if with_metadata
        else None
    )
    return single_value_summary(tag, tensor, md)


def text_summary(tag: str, text: str, *, with_metadata: bool) -> bytes:
    """A rank-0 DT_STRING tensor (markdown) for the text plugin."""
    tensor = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_STRING, string_val=[text.encode("utf-8")])
    md = summary_metadata(PLUGIN_TEXT, summary_pb2.DATA_CLASS_TENSOR) if with_metadata else None
    return single_value_summary(tag, tensor, md)
