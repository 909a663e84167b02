"""Pixels: the array handling and PNG encoding behind the image kinds (and video frames).

Strategy: every input is first turned into one canonical numpy form and checked, with
errors naming the argument: images into (H, W, C) uint8 with C in {1, 3, 4}, batches into
(N, H, W, C). Encoders then take only canonical arrays. PNG is written with ``zlib``
(adaptive per-row filters, as libpng chooses them) from the standard library; GIF and WAV
are in :mod:`.av`. Pillow (the ``video`` extra) is imported only to draw box labels or
write a video. matplotlib is never imported here
unless a figure is handed in (and then it is already loaded). Nothing here does file I/O.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from .._checks import as_real_array

__all__ = [
    "PCM16_MAX",
    "WAV_SAMPLE_WIDTH",
    "pillow",
    "show_shape",
    "PNG_SIGNATURE",
    "VIDEO_EXTRA_HINT",
    "as_array",
    "as_uint8_pixels",
    "box_labels",
    "boxes_array",
    "close_figure",
    "draw_boxes",
    "figure_pixels",
    "figures_image",
    "image_hwc",
    "images_nhwc",
    "make_grid",
    "png_encode",
    "rescale_nearest",
]

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
PNG_BIT_DEPTH: Final = 8
# channels -> PNG colour type: greyscale 0, truecolour 2, truecolour with alpha 6.
PNG_COLOR_TYPE: Final = {1: 0, 3: 2, 4: 6}
PNG_ZLIB_LEVEL: Final = 6
WAV_SAMPLE_WIDTH: Final = 2  # bytes: PCM16
PCM16_MAX: Final = 32767
GRID_COLUMNS: Final = 8  # images per row in add_images' grid, as PyTorch
GRID_PADDING: Final = 2  # pixels around each image in that grid, as torchvision.make_grid
BOX_COLOR: Final = (255, 0, 0)
# The largest image add_image_with_boxes' rescale may make (192 MiB of RGB).
MAX_PIXELS: Final = 1 << 26
BOX_THICKNESS: Final = 2
VIDEO_EXTRA_HINT: Final = "pip install 'tbwrite[video]'"

_CHANNELS: Final = (1, 3, 4)


def show_shape(arr: np.ndarray) -> str:
    return f"shape {tuple(arr.shape)}"


def as_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a numpy array of real numbers (bool included)."""
    arr: np.ndarray = as_real_array(value, name)
    return arr


def as_uint8_pixels(arr: np.ndarray, name: str) -> np.ndarray:
    """Pixels as uint8: uint8 as it is; floats (and bools) in [0, 1] times 255, rounded."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "b":
        return arr.astype(np.uint8) * np.uint8(255)
    if arr.dtype.kind != "f":
        raise TypeError(
            f"{name} must be uint8 (0-255) or float (0.0-1.0), got an array of dtype {arr.dtype}"
        )
    if arr.size:
        lo, hi = float(arr.min()), float(arr.max())  # NaN propagates into both
        if not (lo >= 0.0 and hi <= 1.0):
            bad = arr[~((arr >= 0.0) & (arr <= 1.0))].flat[0]
            raise ValueError(f"{name} as floats must lie in [0, 1], found {float(bad)!r}")
    return np.floor(arr.astype(np.float64) * 255.0 + 0.5).astype(np.uint8)


def _parse_format(dataformats: Any, allowed: str, required: str, name: str) -> str:
    if not isinstance(dataformats, str):
        raise TypeError(f"dataformats must be a str such as {name!r}, got {dataformats!r}")
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt) or not set(fmt) <= set(allowed) or not set(required) <= set(fmt):
        raise ValueError(
            f"dataformats must name each of the axes {', '.join(allowed)} at most once "
            f"and include {', '.join(required)} (e.g. {name!r}), got {dataformats!r}"
        )
    return fmt


def _layout_hint(shape: tuple[int, ...], fmt: str) -> str:
    """A suggestion when the channels sit where the other usual layout puts them: last
    (HWC, NHWC) instead of before the height (CHW, NCHW), or the other way round."""
    if len(shape) < 3 or "C" not in fmt:
        return ""
    rest = fmt.replace("C", "")
    if fmt.index("C") < len(fmt) - 1:
        guess, channels = rest + "C", shape[-1]
    else:
        guess, channels = rest[:-2] + "C" + rest[-2:], shape[-3]
    if channels not in _CHANNELS:
        return ""
    return (
        f"; if the {channels} channels are its axis {guess.index('C')}, pass dataformats={guess!r}"
    )


def _to_layout(arr: np.ndarray, fmt: str, target: str, what: str) -> np.ndarray:
    """Transpose ``arr`` (laid out as ``fmt``) to ``target``, adding a missing C axis."""
    if arr.ndim != len(fmt):
        raise ValueError(
            f"{what} has {show_shape(arr)} but dataformats {fmt!r} needs {len(fmt)} dimensions"
        )
    given = arr.shape
    if "C" not in fmt:
        arr = arr[..., np.newaxis]
        fmt += "C"
    arr = arr.transpose([fmt.index(axis) for axis in target])
    channels = arr.shape[-1]
    if channels not in _CHANNELS:
        raise ValueError(
            f"{what} must have 1 (grey), 3 (RGB) or 4 (RGBA) channels, got {channels} "
            f"in shape {tuple(given)} read as dataformats {fmt!r}{_layout_hint(given, fmt)}"
        )
    if 0 in arr.shape:
        raise ValueError(f"{what} must not be empty, got {show_shape(arr)} as {target}")
    return arr


def image_hwc(value: Any, dataformats: Any = "CHW", name: str = "img_tensor") -> np.ndarray:
    """One image as (H, W, C) uint8. ``dataformats``: CHW, HWC, HW or another order."""
    fmt = _parse_format(dataformats, "CHW", "HW", "CHW")
    arr = _to_layout(as_array(value, name), fmt, "HWC", name)
    return np.ascontiguousarray(as_uint8_pixels(arr, name))


def images_nhwc(value: Any, dataformats: Any = "NCHW", name: str = "img_tensor") -> np.ndarray:
    """A batch of images as (N, H, W, C) uint8. ``dataformats``: NCHW, NHWC, NHW, ..."""
    fmt = _parse_format(dataformats, "NCHW", "NHW", "NCHW")
    arr = _to_layout(as_array(value, name), fmt, "NHWC", name)
    return as_uint8_pixels(arr, name)


def make_grid(
    images: np.ndarray, ncols: int = GRID_COLUMNS, padding: int = GRID_PADDING, pad_value: int = 0
) -> np.ndarray:
    """Tile (N, H, W, C) images into one (H', W', C) image, row by row, ``ncols`` per row,
    with ``padding`` pixels of ``pad_value`` around every image (torchvision's layout)."""
    n, h, w, c = images.shape
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    grid = np.full(
        (nrows * (h + padding) + padding, ncols * (w + padding) + padding, c),
        pad_value,
        dtype=images.dtype,
    )
    for i in range(n):
        y = (i // ncols) * (h + padding) + padding
        x = (i % ncols) * (w + padding) + padding
        grid[y : y + h, x : x + w] = images[i]
    return grid


# -- PNG --------------------------------------------------------------------------------
#
#   signature | IHDR (width, height, bit depth 8, colour type, 0, 0, 0) | IDAT | IEND
#   chunk:    uint32 length (big-endian) | type | data | uint32 CRC-32(type + data)
#   IDAT:     zlib(for each row: filter type byte + filtered row bytes)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack("!I", len(data)) + kind + data + struct.pack("!I", zlib.crc32(kind + data))


def _filtered_rows(pixels: np.ndarray) -> bytes:
    """Each row with the filter libpng's heuristic picks: least sum of |signed bytes|."""
    h, w, c = pixels.shape
    x = pixels.reshape(h, w * c).astype(np.int16)
    a = np.zeros_like(x)  # left (the same channel of the previous pixel)
    a[:, c:] = x[:, :-c]
    b = np.zeros_like(x)  # up
    b[1:] = x[:-1]
    cc = np.zeros_like(x)  # up-left
    cc[1:, c:] = x[:-1, :-c]
    p = a + b - cc
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - cc)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, cc))
    candidates = np.stack([x, x - a, x - b, x - ((a + b) >> 1), x - paeth]).astype(np.uint8)
    cost = np.abs(candidates.view(np.int8).astype(np.int32)).sum(axis=2)  # (5, h)
    best = cost.argmin(axis=0)
    rows = np.empty((h, 1 + w * c), dtype=np.uint8)
    rows[:, 0] = best
    rows[:, 1:] = candidates[best, np.arange(h)]
    return rows.tobytes()


def png_encode(pixels: np.ndarray) -> bytes:
    """PNG of (H, W, C) uint8 pixels, C in {1, 3, 4}; standard library only."""
    h, w, c = pixels.shape
    header = struct.pack("!IIBBBBB", w, h, PNG_BIT_DEPTH, PNG_COLOR_TYPE[c], 0, 0, 0)
    data = zlib.compress(_filtered_rows(pixels), PNG_ZLIB_LEVEL)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


# -- boxes, rescaling, figures ------------------------------------------------------------


def boxes_array(value: Any, name: str = "box_tensor") -> np.ndarray:
    """(K, 4) finite (xmin, ymin, xmax, ymax) pixel coordinates."""
    arr = as_array(value, name)
    if arr.ndim == 1 and arr.size == 4:
        arr = arr.reshape(1, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(
            f"{name} must have shape (K, 4) of (xmin, ymin, xmax, ymax), got {show_shape(arr)}"
        )
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, found {arr[~np.isfinite(arr)][0]!r}")
    if (arr[:, 2] < arr[:, 0]).any() or (arr[:, 3] < arr[:, 1]).any():
        i = int(np.flatnonzero((arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1]))[0])
        raise ValueError(
            f"{name}[{i}] must have xmin <= xmax and ymin <= ymax, got {arr[i].tolist()}"
        )
    return arr


def box_labels(labels: Any, count: int) -> list[str] | None:
    """``labels``: None, or one str per box."""
    if labels is None:
        return None
    if isinstance(labels, str) or not isinstance(labels, Sequence) or len(labels) != count:
        raise ValueError(f"labels must be a list of {count} str, one per box, got {labels!r}")
    for i, text in enumerate(labels):
        if not isinstance(text, str):
            raise TypeError(f"labels[{i}] must be a str, got {text!r}")
    return list(labels)


def draw_boxes(
    pixels: np.ndarray, boxes: np.ndarray, labels: Sequence[str] | None = None
) -> np.ndarray:
    """A copy of (H, W, C) ``pixels`` (grey becomes RGB) with a red outline per box and,
    when ``labels`` are given, each label on a red strip at the box's bottom (Pillow)."""
    out = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels.copy()
    color = np.array(BOX_COLOR + (255,) * (out.shape[2] - 3), dtype=np.uint8)
    h, w = out.shape[:2]
    t = BOX_THICKNESS
    for x0, y0, x1, y1 in np.rint(boxes).astype(np.int64):
        x0, x1 = max(x0, 0), min(x1, w - 1)
        y0, y1 = max(y0, 0), min(y1, h - 1)
        if x0 > x1 or y0 > y1:
            continue  # entirely outside the image
        out[y0 : min(y0 + t, y1 + 1), x0 : x1 + 1] = color
        out[max(y1 - t + 1, y0) : y1 + 1, x0 : x1 + 1] = color
        out[y0 : y1 + 1, x0 : min(x0 + t, x1 + 1)] = color
        out[y0 : y1 + 1, max(x1 - t + 1, x0) : x1 + 1] = color
    if labels:
        out = _draw_labels(out, boxes, labels)
    return out


def _draw_labels(pixels: np.ndarray, boxes: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    image_module, draw_module, font_module = pillow("add_image_with_boxes(labels=...)")
    image = image_module.fromarray(pixels)
    draw = draw_module.Draw(image)
    font = font_module.load_default()
    fill = BOX_COLOR + (255,) * (pixels.shape[2] - 3)
    for (x0, _, _, y1), text in zip(boxes.tolist(), labels):
        if not text:
            continue
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left, bottom - top
        margin = math.ceil(0.05 * th)
        draw.rectangle([(x0, y1 - th - 2 * margin), (x0 + tw, y1)], fill=fill)
        draw.text((x0 + margin, y1 - th - margin - top), text, fill=(0,) * len(fill), font=font)
    return np.asarray(image)


def rescale_nearest(pixels: np.ndarray, factor: float) -> np.ndarray:
    """``pixels`` resized by ``factor`` (nearest neighbour), at least 1x1, at most
    ``MAX_PIXELS`` pixels (else ``ValueError`` naming ``rescale``)."""
    if factor == 1:
        return pixels
    h, w = pixels.shape[:2]
    nh, nw = max(1, int(h * factor)), max(1, int(w * factor))
    if nh * nw > MAX_PIXELS:
        raise ValueError(
            f"rescale={factor!r} makes the {w}x{h} image {nw}x{nh}, more than {MAX_PIXELS} pixels"
        )
    rows = np.minimum((np.arange(nh) * h) // nh, h - 1)
    cols = np.minimum((np.arange(nw) * w) // nw, w - 1)
    return np.ascontiguousarray(pixels[rows][:, cols])


def figure_pixels(figure: Any, name: str = "figure") -> np.ndarray:
    """A matplotlib figure rendered with Agg, as (H, W, 3) uint8."""
    figure_module = sys.modules.get("matplotlib.figure")
    # A Figure cannot exist unless matplotlib is loaded, so it is never imported here.
    if figure_module is None or not isinstance(figure, figure_module.Figure):
        raise TypeError(
            f"{name} must be a matplotlib.figure.Figure or a list of them, "
            f"got {type(figure).__name__}"
        )
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = (
        figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    )
    canvas.draw()  # type: ignore[no-untyped-call]
    rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    return np.ascontiguousarray(rgba[:, :, :3])


def figures_image(figure: Any) -> tuple[np.ndarray, list[Any]]:
    """``add_figure``'s image: one figure as it is, a list of figures (of one size) tiled
    as :func:`make_grid` tiles ``add_images``. Returns the pixels and the figures."""
    if isinstance(figure, (list, tuple)):
        figures = list(figure)
        if not figures:
            raise ValueError("figure must be a Figure or a non-empty list of them, got []")
        pixels = [figure_pixels(f, f"figure[{i}]") for i, f in enumerate(figures)]
        if any(p.shape != pixels[0].shape for p in pixels):
            sizes = [p.shape[:2] for p in pixels]
            raise ValueError(
                f"figure: the figures of a list must have one size (H, W), got {sizes}"
            )
        return make_grid(np.stack(pixels)), figures
    return figure_pixels(figure), [figure]


def close_figure(figure: Any) -> None:
    """Close ``figure`` in pyplot's registry (only if pyplot is in use at all)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(figure)


def pillow(feature: str) -> tuple[Any, Any, Any]:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as err:
        raise ModuleNotFoundError(
            f"{feature} needs Pillow, which is not installed: {VIDEO_EXTRA_HINT}"
        ) from err
    return Image, ImageDraw, ImageFont
