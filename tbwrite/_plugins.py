"""Builders for the images, audio, pr_curves, mesh and custom_scalars plugins.

Like :mod:`tbwrite._builders`: pure functions from validated values to serialized Summary
bytes (plus the argument checks and the arithmetic that belong to each kind: PR curve
counts, mesh arrays, the custom scalars layout). Layouts as TensorBoard's plugins read
them (see WIRE.md, "Other plugins"):

- images: DT_STRING [width, height, encoded_1, ..., encoded_n] (PNG, or GIF for video).
- audio: DT_STRING [k, 2] of (WAV, label); no data class, so that both loaders project
  out the label column as they do for TensorFlow's audio summaries.
- pr_curves: DT_FLOAT [6, num_thresholds] rows TP, FP, TN, FN, precision, recall.
- mesh: one tensor per part, tag ``<tag>_VERTEX`` (float32), ``_FACE`` (int32),
  ``_COLOR`` (uint8), each [B, n, 3] with MeshPluginData naming the user's tag.
- custom scalars: tag ``custom_scalars__config__``, a rank-0 DT_STRING holding a Layout.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

from ._media import as_array
from ._names import (
    CUSTOM_SCALARS_TAG,
    PLUGIN_AUDIO,
    PLUGIN_CUSTOM_SCALARS,
    PLUGIN_DATA_VERSION,
    PLUGIN_IMAGES,
    PLUGIN_MESH,
    PLUGIN_PR_CURVES,
)
from ._proto import plugins_pb2, summary_pb2, tensor_pb2

__all__ = [
    "CUSTOM_SCALARS_TAG",
    "audio_summary",
    "check_num_thresholds",
    "check_sample_rate",
    "custom_scalars_layout",
    "custom_scalars_summary",
    "image_summary",
    "mesh_components",
    "mesh_config",
    "mesh_parts",
    "mesh_summary",
    "mesh_tag",
    "pr_curve_counts",
    "pr_curve_from_raw",
    "pr_curve_summary",
]

# As TensorBoard's pr_curve summary: the floor under TP + FP and TP + FN in precision and recall.
PR_MINIMUM_COUNT: Final = 1e-7
MESH_PARTS: Final = (
    ("vertices", plugins_pb2.MeshPluginData.VERTEX, "<f4", tensor_pb2.DT_FLOAT),
    ("faces", plugins_pb2.MeshPluginData.FACE, "<i4", tensor_pb2.DT_INT32),
    ("colors", plugins_pb2.MeshPluginData.COLOR, "u1", tensor_pb2.DT_UINT8),
)
CHART_KINDS: Final = ("Multiline", "Margin")


def _metadata(plugin: str, content: bytes, data_class: Any) -> summary_pb2.SummaryMetadata:
    md = summary_pb2.SummaryMetadata()
    md.plugin_data.plugin_name = plugin
    md.plugin_data.content = content
    if data_class is not None:
        md.data_class = data_class
    return md


def _value(
    tag: str, tensor: tensor_pb2.TensorProto, md: summary_pb2.SummaryMetadata | None
) -> summary_pb2.Summary.Value:
    value = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if md is not None:
        value.metadata.CopyFrom(md)
    return value


def _tensor(dtype: Any, shape: Sequence[int], **fields: Any) -> tensor_pb2.TensorProto:
    tensor = tensor_pb2.TensorProto(dtype=dtype, **fields)
    for size in shape:
        tensor.tensor_shape.dim.add(size=size)
    return tensor


# -- images and audio ---------------------------------------------------------------------


def image_summary(
    tag: str, encoded: Sequence[bytes], width: int, height: int, *, with_metadata: bool
) -> bytes:
    """The images plugin's [width, height, image...] DT_STRING tensor."""
    strings = [str(width).encode(), str(height).encode(), *encoded]
    tensor = _tensor(tensor_pb2.DT_STRING, [len(strings)], string_val=strings)
    md = None
    if with_metadata:
        content = plugins_pb2.ImagePluginData(version=PLUGIN_DATA_VERSION).SerializeToString()
        md = _metadata(PLUGIN_IMAGES, content, summary_pb2.DATA_CLASS_BLOB_SEQUENCE)
    return summary_pb2.Summary(value=[_value(tag, tensor, md)]).SerializeToString()


def audio_summary(
    tag: str, clips: Sequence[bytes], *, with_metadata: bool, labels: Sequence[str] = ()
) -> bytes:
    """The audio plugin's [k, 2] DT_STRING tensor of (WAV, markdown label)."""
    labels = list(labels) or [""] * len(clips)
    strings = [s for clip, label in zip(clips, labels) for s in (clip, label.encode("utf-8"))]
    tensor = _tensor(tensor_pb2.DT_STRING, [len(clips), 2], string_val=strings)
    md = None
    if with_metadata:
        content = plugins_pb2.AudioPluginData(
            version=PLUGIN_DATA_VERSION, encoding=plugins_pb2.AudioPluginData.WAV
        ).SerializeToString()
        # No data class: the loaders then turn [k, 2] into the blob sequence of the k clips.
        md = _metadata(PLUGIN_AUDIO, content, None)
    return summary_pb2.Summary(value=[_value(tag, tensor, md)]).SerializeToString()


# -- PR curves ------------------------------------------------------------------------------


# The most thresholds of a PR curve: a [6, n] float32 tensor of 1.5 MiB per curve.
MAX_THRESHOLDS: Final = 1 << 16


def check_num_thresholds(num_thresholds: Any) -> int:
    if isinstance(num_thresholds, bool):
        raise TypeError(f"num_thresholds must be an int >= 2, got {num_thresholds!r}")
    try:
        n = operator.index(num_thresholds)
    except TypeError:
        raise TypeError(f"num_thresholds must be an int >= 2, got {num_thresholds!r}") from None
    if not 2 <= n <= MAX_THRESHOLDS:
        raise ValueError(f"num_thresholds must be an int from 2 to {MAX_THRESHOLDS}, got {n}")
    return n


def _finite(arr: np.ndarray, name: str) -> np.ndarray:
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, found {arr[~np.isfinite(arr)].flat[0]!r}")
    return arr


def pr_curve_counts(
    labels: Any, predictions: Any, num_thresholds: Any, weights: Any = None
) -> np.ndarray:
    """The [6, num_thresholds] PR data of binary ``labels`` and ``predictions`` in [0, 1].

    Threshold i is i / (num_thresholds - 1); an example counts as predicted positive at
    threshold i when floor(prediction * (num_thresholds - 1)) >= i, as TensorBoard's own
    pr_curve summary computes it. ``weights`` (a number or an array broadcastable to
    ``labels``) multiply each example's count.
    """
    n = check_num_thresholds(num_thresholds)
    lab = as_array(labels, "labels")
    pred = as_array(predictions, "predictions")
    if lab.size == 0:
        raise ValueError("labels must not be empty")
    if lab.shape != pred.shape:
        raise ValueError(
            f"labels and predictions must have the same shape, got {lab.shape} and {pred.shape}"
        )
    lab = lab.astype(np.float64)
    bad = (lab != 0) & (lab != 1)
    if bad.any():
        raise ValueError(f"labels must be 0/1 or bool, found {lab[bad].flat[0]!r}")
    pred = pred.astype(np.float64)
    ok = (pred >= 0) & (pred <= 1)
    if not ok.all():
        raise ValueError(f"predictions must lie in [0, 1], found {pred[~ok].flat[0]!r}")
    if weights is None:
        w = np.ones_like(lab)
    else:
        w = _finite(as_array(weights, "weights"), "weights")
        try:
            w = np.broadcast_to(w, lab.shape)
        except ValueError:
            raise ValueError(
                f"weights must be a number or broadcastable to labels' shape {lab.shape}, "
                f"got shape {w.shape}"
            ) from None
        if (w < 0).any():
            raise ValueError(f"weights must be >= 0, found {w[w < 0].flat[0]!r}")
    bucket = np.floor(pred * (n - 1)).astype(np.intp).reshape(-1)
    lab, w = lab.reshape(-1), w.reshape(-1)
    tp_buckets = np.bincount(bucket, weights=lab * w, minlength=n)
    fp_buckets = np.bincount(bucket, weights=(1.0 - lab) * w, minlength=n)
    tp = np.cumsum(tp_buckets[::-1])[::-1]
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    precision = tp / np.maximum(PR_MINIMUM_COUNT, tp + fp)
    recall = tp / np.maximum(PR_MINIMUM_COUNT, tp + fn)
    return np.stack([tp, fp, tn, fn, precision, recall])


def pr_curve_from_raw(
    true_positive_counts: Any,
    false_positive_counts: Any,
    true_negative_counts: Any,
    false_negative_counts: Any,
    precision: Any,
    recall: Any,
    num_thresholds: Any,
) -> np.ndarray:
    """Precomputed PR data as [6, n]: six 1-D arrays of one length n >= 2 (which wins over
    ``num_thresholds``, only checked for being an int >= 2, as TensorBoard reads n from the
    data); counts finite and >= 0, precision and recall in [0, 1]."""
    check_num_thresholds(num_thresholds)
    named = {
        "true_positive_counts": true_positive_counts,
        "false_positive_counts": false_positive_counts,
        "true_negative_counts": true_negative_counts,
        "false_negative_counts": false_negative_counts,
        "precision": precision,
        "recall": recall,
    }
    rows = []
    length = None
    for name, value in named.items():
        arr = as_array(value, name)
        if arr.ndim != 1 or arr.size < 2:
            raise ValueError(
                f"{name} must be 1-D with at least 2 thresholds, got shape {arr.shape}"
            )
        if length is None:
            length = arr.size
        elif arr.size != length:
            raise ValueError(
                f"{name} must have the length of true_positive_counts ({length}), got {arr.size}"
            )
        arr = _finite(arr, name)
        if name.endswith("_counts"):
            if (arr < 0).any():
                raise ValueError(f"{name} must be >= 0, found {arr[arr < 0][0]!r}")
        elif ((arr < 0) | (arr > 1)).any():
            raise ValueError(f"{name} must lie in [0, 1], found {arr[(arr < 0) | (arr > 1)][0]!r}")
        rows.append(arr)
    return np.stack(rows)


def pr_curve_summary(tag: str, data: np.ndarray, *, with_metadata: bool) -> bytes:
    """The pr_curves plugin's DT_FLOAT [6, num_thresholds] tensor."""
    data = np.ascontiguousarray(data, dtype="<f4")
    tensor = _tensor(tensor_pb2.DT_FLOAT, data.shape, tensor_content=data.tobytes())
    md = None
    if with_metadata:
        content = plugins_pb2.PrCurvePluginData(
            version=PLUGIN_DATA_VERSION, num_thresholds=data.shape[1]
        ).SerializeToString()
        md = _metadata(PLUGIN_PR_CURVES, content, summary_pb2.DATA_CLASS_TENSOR)
    return summary_pb2.Summary(value=[_value(tag, tensor, md)]).SerializeToString()


# -- meshes -----------------------------------------------------------------------------


def _mesh_array(value: Any, name: str, batch: int | None) -> np.ndarray:
    arr = as_array(value, name)
    if arr.ndim == 2:
        arr = arr[np.newaxis]  # one mesh: (n, 3) -> (1, n, 3)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[1] == 0 or arr.shape[0] == 0:
        raise ValueError(f"{name} must have shape (B, n, 3) with n >= 1, got {arr.shape}")
    if batch is not None and arr.shape[0] != batch:
        raise ValueError(
            f"{name} must hold as many meshes as vertices ({batch}), got {arr.shape[0]}"
        )
    return arr


def mesh_parts(vertices: Any, colors: Any, faces: Any) -> list[tuple[str, Any, np.ndarray]]:
    """Checked mesh arrays: [(part, content type, array)] for the parts given.

    ``vertices``: (B, N, 3) finite coordinates. ``colors``: (B, N, 3) uint8 0-255 or
    floats in [0, 1]. ``faces``: (B, F, 3) integer indices into the N vertices.
    """
    v = _finite(_mesh_array(vertices, "vertices", None), "vertices")
    b, n = v.shape[0], v.shape[1]
    arrays: dict[str, np.ndarray] = {"vertices": v}
    if faces is not None:
        f = _mesh_array(faces, "faces", b)
        if f.dtype.kind not in "iu":
            raise TypeError(f"faces must hold integer vertex indices, got dtype {f.dtype}")
        out = (f < 0) | (f >= n)
        if out.any():
            raise ValueError(
                f"faces must index the {n} vertices (0..{n - 1}), found {int(f[out].flat[0])}"
            )
        arrays["faces"] = f
    if colors is not None:
        c = _mesh_array(colors, "colors", b)
        if c.shape[1] != n:
            raise ValueError(f"colors must have one row per vertex ({n}), got shape {c.shape}")
        if c.dtype == np.uint8:
            pass
        elif c.dtype.kind in "iu":
            if ((c < 0) | (c > 255)).any():
                raise ValueError(
                    "colors as integers must lie in 0..255, "
                    f"found {int(c[(c < 0) | (c > 255)].flat[0])}"
                )
        elif c.dtype.kind == "f":
            ok = (c >= 0) & (c <= 1)
            if not ok.all():
                raise ValueError(
                    f"colors as floats must lie in [0, 1], found {float(c[~ok].flat[0])!r}"
                )
            c = np.floor(c * 255.0 + 0.5)
        else:
            raise TypeError(f"colors must be uint8 0-255 or floats in [0, 1], got dtype {c.dtype}")
        arrays["colors"] = c
    return [
        (part, ctype, arrays[part].astype(dt))
        for part, ctype, dt, _ in MESH_PARTS
        if part in arrays
    ]


def mesh_config(config_dict: Any) -> str:
    """``config_dict`` (three.js settings) as sorted JSON; None is ``{}``."""
    if config_dict is None:
        return "{}"
    if not isinstance(config_dict, Mapping):
        raise TypeError(
            f"config_dict must be a dict of three.js settings, got {type(config_dict).__name__}"
        )
    try:
        return json.dumps(config_dict, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config_dict must be JSON-serializable: {err}") from None


def mesh_summary(
    tag: str, part: Any, arr: np.ndarray, components: int, json_config: str, *, with_metadata: bool
) -> bytes:
    """One mesh part as its own tag ``<tag>_<VERTEX|FACE|COLOR>``."""
    dtype = {spec[1]: spec[3] for spec in MESH_PARTS}[part]
    tensor = _tensor(dtype, arr.shape, tensor_content=arr.tobytes())
    md = None
    if with_metadata:
        content = plugins_pb2.MeshPluginData(
            version=PLUGIN_DATA_VERSION,
            name=tag,
            content_type=part,
            json_config=json_config,
            shape=list(arr.shape),
            components=components,
        ).SerializeToString()
        md = _metadata(PLUGIN_MESH, content, summary_pb2.DATA_CLASS_TENSOR)
    return summary_pb2.Summary(value=[_value(mesh_tag(tag, part), tensor, md)]).SerializeToString()


def mesh_tag(tag: str, part: Any) -> str:
    """The tag of one mesh part: ``<tag>_VERTEX``, ``<tag>_FACE`` or ``<tag>_COLOR``."""
    return f"{tag}_{plugins_pb2.MeshPluginData.ContentType.Name(part)}"


def mesh_components(parts: Sequence[Any]) -> int:
    """The bitmask of the parts present: bit (content type) set for each."""
    mask = 0
    for part in parts:
        mask |= 1 << part
    return mask


# -- custom scalars -----------------------------------------------------------------------


def _tag_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{where} must be a list of tags, got {value!r}")
    tags = []
    for tag in value:
        if not isinstance(tag, str) or not tag:
            raise TypeError(f"{where} must hold non-empty str tags, got {tag!r}")
        tags.append(tag)
    return tags


def custom_scalars_layout(layout: Any) -> bytes:
    """PyTorch's layout dict as a serialized Layout.

    ``{category: {chart title: ["Multiline", [tag regex, ...]] | ["Margin", [value,
    lower, upper]]}}``.
    """
    if not isinstance(layout, Mapping) or not layout:
        raise TypeError(
            "layout must be a non-empty dict {category: {title: ['Multiline', [tags]] "
            f"| ['Margin', [value, lower, upper]]}}, got {layout!r}"
        )
    msg = plugins_pb2.Layout()
    for category, charts in layout.items():
        if not isinstance(category, str):
            raise TypeError(f"layout keys must be category names (str), got {category!r}")
        if not isinstance(charts, Mapping):
            raise TypeError(
                f"layout[{category!r}] must be a dict {{title: [kind, tags]}}, got {charts!r}"
            )
        cat = msg.category.add(title=category)
        for title, spec in charts.items():
            where = f"layout[{category!r}][{title!r}]"
            if not isinstance(title, str):
                raise TypeError(f"chart titles in layout[{category!r}] must be str, got {title!r}")
            if isinstance(spec, str) or not isinstance(spec, Sequence) or len(spec) != 2:
                raise TypeError(
                    f"{where} must be [kind, tags] with kind 'Multiline' or 'Margin', got {spec!r}"
                )
            kind, tags = spec
            tag_list = _tag_list(tags, f"{where}[1]")
            chart = cat.chart.add(title=title)
            if kind == "Multiline":
                if not tag_list:
                    raise ValueError(f"{where}[1] must name at least one tag")
                chart.multiline.tag.extend(tag_list)
            elif kind == "Margin":
                if len(tag_list) != 3:
                    raise ValueError(
                        f"{where}[1] must be the three tags [value, lower, upper], got {tag_list!r}"
                    )
                chart.margin.series.add(value=tag_list[0], lower=tag_list[1], upper=tag_list[2])
            else:
                raise ValueError(f"{where}[0] must be 'Multiline' or 'Margin', got {kind!r}")
    return msg.SerializeToString()


def custom_scalars_summary(layout: bytes, *, with_metadata: bool) -> bytes:
    """The custom scalars plugin's config: a rank-0 DT_STRING holding the Layout."""
    tensor = _tensor(tensor_pb2.DT_STRING, [], string_val=[layout])
    md = (
        _metadata(PLUGIN_CUSTOM_SCALARS, b"", summary_pb2.DATA_CLASS_TENSOR)
        if with_metadata
        else None
    )
    return summary_pb2.Summary(value=[_value(CUSTOM_SCALARS_TAG, tensor, md)]).SerializeToString()


MAX_SAMPLE_RATE: Final = 0xFFFFFFFF // 2


def check_sample_rate(sample_rate: Any) -> int:
    """A positive whole number of samples per second (WAV stores an int)."""
    if isinstance(sample_rate, bool) or not isinstance(
        sample_rate, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"sample_rate must be a positive number of samples per second, got {sample_rate!r}"
        )
    rate = float(sample_rate)
    # A WAV header stores the byte rate (sample rate x 2 bytes of PCM16 mono) in 32 bits.
    if not math.isfinite(rate) or rate != int(rate) or not 1 <= rate <= MAX_SAMPLE_RATE:
        raise ValueError(
            f"sample_rate must be a whole number of Hz from 1 to {MAX_SAMPLE_RATE}, "
            f"got {sample_rate!r}"
        )
    return int(rate)
