"""Raw tensor summaries for clu's ``write_summaries``: any array with caller-given metadata.

The metadata may be a ``SummaryMetadata`` of any protobuf package (TensorBoard's,
TensorFlow's, tbwrite's) or its serialized bytes: field numbers are the protocol, so it is
carried over as bytes and parsed into tbwrite's own message.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from .._proto import summary_pb2, tensor_pb2

_DTYPES: Final = {
    np.dtype("float32"): tensor_pb2.DT_FLOAT,
    np.dtype("float64"): tensor_pb2.DT_DOUBLE,
    np.dtype("float16"): tensor_pb2.DT_HALF,
    np.dtype("int32"): tensor_pb2.DT_INT32,
    np.dtype("int64"): tensor_pb2.DT_INT64,
    np.dtype("int16"): tensor_pb2.DT_INT16,
    np.dtype("int8"): tensor_pb2.DT_INT8,
    np.dtype("uint8"): tensor_pb2.DT_UINT8,
    np.dtype("bool"): tensor_pb2.DT_BOOL,
}


def tensor_proto(value: Any, name: str) -> tensor_pb2.TensorProto:
    """A TensorProto of ``value``: numbers little-endian in ``tensor_content``, strings and
    bytes in ``string_val``."""
    arr = np.asarray(value)
    if arr.dtype.kind in "USO":
        flat = [
            v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in arr.reshape(-1).tolist()
        ]
        tensor = tensor_pb2.TensorProto(dtype=tensor_pb2.DT_STRING, string_val=flat)
    else:
        dtype = _DTYPES.get(arr.dtype if arr.dtype.isnative else arr.dtype.newbyteorder("="))
        if dtype is None:
            raise TypeError(f"{name} has dtype {arr.dtype}, which tbwrite cannot write as a tensor")
        content = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        tensor = tensor_pb2.TensorProto(dtype=dtype, tensor_content=content)
    tensor.tensor_shape.SetInParent()  # present for a scalar too, as TensorFlow writes it
    for size in arr.shape:
        tensor.tensor_shape.dim.add(size=size)
    return tensor


def metadata_proto(metadata: Any, name: str = "metadata") -> summary_pb2.SummaryMetadata:
    """``metadata`` (a SummaryMetadata message of any package, or its bytes) as tbwrite's
    message; ``TypeError`` naming ``name`` when it is neither.

    Bytes that are not a whole SummaryMetadata are read as ``tf.summary.write`` reads them
    (protobuf's C++ parser, whose failure is ignored): the fields before the damage are
    kept, the rest dropped, so ``np.ones(3).tobytes()`` becomes an empty SummaryMetadata.
    A warning names ``name`` then, since the data's plugin is most likely lost.
    """
    from google.protobuf.message import DecodeError

    if isinstance(metadata, (bytes, bytearray)) or hasattr(metadata, "SerializeToString"):
        data = bytes(metadata) if isinstance(metadata, (bytes, bytearray)) else None
        if data is None:
            data = metadata.SerializeToString()
        try:
            return summary_pb2.SummaryMetadata.FromString(data)
        except DecodeError as err:
            import warnings

            warnings.warn(
                f"{name} is not a serialized SummaryMetadata ({err}): {metadata!r:.80}; "
                "written as TensorFlow writes it, with the fields before the damage only",
                UserWarning,
                stacklevel=3,
            )
        try:
            return summary_pb2.SummaryMetadata.FromString(_whole_fields(data))
        except DecodeError:
            return summary_pb2.SummaryMetadata()
    raise TypeError(f"{name} must be a SummaryMetadata message or its bytes, got {metadata!r:.80}")


def _whole_fields(data: bytes) -> bytes:
    """The longest prefix of ``data`` made of whole protobuf fields (what a parser that
    stops at the first bad byte has read)."""

    def varint(pos: int) -> tuple[int, int] | None:
        value = shift = 0
        while pos < len(data) and shift < 64:
            byte = data[pos]
            value |= (byte & 0x7F) << shift
            pos += 1
            if not byte & 0x80:
                return value, pos
            shift += 7
        return None

    pos = end = 0
    while pos < len(data):
        key = varint(pos)
        if key is None or key[0] >> 3 == 0:
            break
        wire, pos = key[0] & 7, key[1]
        if wire == 0:
            got = varint(pos)
            if got is None:
                break
            pos = got[1]
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        elif wire == 2:
            got = varint(pos)
            if got is None:
                break
            pos = got[1] + got[0]
        else:
            break
        if pos > len(data):
            break
        end = pos
    return data[:end]


def tensor_summary(tag: str, value: Any, metadata: Any, *, with_metadata: bool) -> bytes:
    tensor = tensor_proto(value, f"values[{tag!r}]")
    summary_value = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if with_metadata and metadata is not None:
        summary_value.metadata.CopyFrom(metadata_proto(metadata))
        summary_value.metadata.SetInParent()  # present even when empty, as TensorFlow's
    return summary_pb2.Summary(value=[summary_value]).SerializeToString()
