"""Meshes for the mesh plugin: checks of the arrays, and one summary per part.

One tensor per part, tag ``<tag>_VERTEX`` (float32), ``_FACE`` (int32), ``_COLOR`` (uint8),
each [B, n, 3] with MeshPluginData naming the user's tag.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

from .._format.plugin_names import (
    PLUGIN_DATA_VERSION,
    PLUGIN_MESH,
)
from .._proto import plugins_pb2, summary_pb2, tensor_pb2
from .media import as_array
from .summary_parts import finite_float64, plugin_metadata, summary_value, tensor_proto

MESH_PARTS: Final = (
    ("vertices", plugins_pb2.MeshPluginData.VERTEX, "<f4", tensor_pb2.DT_FLOAT),
    ("faces", plugins_pb2.MeshPluginData.FACE, "<i4", tensor_pb2.DT_INT32),
    ("colors", plugins_pb2.MeshPluginData.COLOR, "u1", tensor_pb2.DT_UINT8),
)


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
    v = finite_float64(_mesh_array(vertices, "vertices", None), "vertices")
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
    tensor = tensor_proto(dtype, arr.shape, tensor_content=arr.tobytes())
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
        md = plugin_metadata(PLUGIN_MESH, content, summary_pb2.DATA_CLASS_TENSOR)
    return summary_pb2.Summary(
        value=[summary_value(mesh_tag(tag, part), tensor, md)]
    ).SerializeToString()


def mesh_tag(tag: str, part: Any) -> str:
    """The tag of one mesh part: ``<tag>_VERTEX``, ``<tag>_FACE`` or ``<tag>_COLOR``."""
    return f"{tag}_{plugins_pb2.MeshPluginData.ContentType.Name(part)}"


def mesh_components(parts: Sequence[Any]) -> int:
    """The bitmask of the parts present: bit (content type) set for each."""
    mask = 0
    for part in parts:
        mask |= 1 << part
    return mask
