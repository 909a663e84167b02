"""PR curves: the counts at each threshold, and the pr_curves plugin's summary.

Layout as the plugin reads it: DT_FLOAT [6, num_thresholds], rows TP, FP, TN, FN,
precision, recall.
"""

from __future__ import annotations

import operator
from typing import Any, Final

import numpy as np

from .._format.plugin_names import (
    PLUGIN_DATA_VERSION,
    PLUGIN_PR_CURVES,
)
from .._proto import plugins_pb2, summary_pb2, tensor_pb2
from .media import as_array
from .summary_parts import finite_float64, plugin_metadata, summary_value, tensor_proto

# As TensorBoard's pr_curve summary: the floor under TP + FP and TP + FN in precision and recall.
PR_MINIMUM_COUNT: Final = 1e-7
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
        w = finite_float64(as_array(weights, "weights"), "weights")
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
        arr = finite_float64(arr, name)
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
    tensor = tensor_proto(tensor_pb2.DT_FLOAT, data.shape, tensor_content=data.tobytes())
    md = None
    if with_metadata:
        content = plugins_pb2.PrCurvePluginData(
            version=PLUGIN_DATA_VERSION, num_thresholds=data.shape[1]
        ).SerializeToString()
        md = plugin_metadata(PLUGIN_PR_CURVES, content, summary_pb2.DATA_CLASS_TENSOR)
    return summary_pb2.Summary(value=[summary_value(tag, tensor, md)]).SerializeToString()
