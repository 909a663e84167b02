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
from .torch_rules import box_edge_rects, fill_rects, pixels_uint8

__all__ = [
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
    "grey_to_rgb",
    "image_hwc",
    "images_nhwc",
    "make_grid",
    "png_encode",
    "rescale_lanczos",
]

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
PNG_BIT_DEPTH: Final = 8
# channels -> PNG colour type: greyscale 0, truecolour 2, truecolour with alpha 6.
PNG_COLOR_TYPE: Final = {1: 0, 3: 2, 4: 6}
PNG_ZLIB_LEVEL: Final = 6
WAV_SAMPLE_WIDTH: Final = 2  # bytes: PCM16
GRID_COLUMNS: Final = 8  # images per row in add_images' grid, as PyTorch
GRID_PADDING: Final = 0  # pixels between the images of that grid: none, as PyTorch's grid
BOX_COLOR: Final = (255, 0, 0)
# The largest image add_image_with_boxes' rescale may make (192 MiB of RGB).
MAX_PIXELS: Final = 1 << 26
VIDEO_EXTRA_HINT: Final = "pip install 'tbwrite[video]'"

_CHANNELS: Final = (1, 3, 4)


def show_shape(arr: np.ndarray) -> str:
    return f"shape {tuple(arr.shape)}"


def as_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a numpy array of real numbers (bool included)."""
    arr: np.ndarray = as_real_array(value, name)
    return arr


def as_uint8_pixels(arr: np.ndarray, name: str) -> np.ndarray:
    """Pixels as uint8 as PyTorch makes them: uint8 as it is; anything else times 255 in
    float32, clipped to [0, 255] (with a one-time warning) and truncated."""
    return pixels_uint8(arr, name)


def grey_to_rgb(pixels: np.ndarray) -> np.ndarray:
    """(..., 1) grey pixels as (..., 3) RGB, as PyTorch writes grey images; others as they are."""
    return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels


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
    """One image as (H, W, C) uint8, grey as RGB. ``dataformats``: CHW, HWC, HW, ..."""
    fmt = _parse_format(dataformats, "CHW", "HW", "CHW")
    arr = _to_layout(as_array(value, name), fmt, "HWC", name)
    return np.ascontiguousarray(grey_to_rgb(as_uint8_pixels(arr, name)))


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
    """(K, 4) finite (xmin, ymin, xmax, ymax) pixel coordinates (in any order, as PyTorch
    draws them: from corner to corner)."""
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
    return arr


def box_labels(labels: Any, count: int) -> list[str] | None:
    """``labels``: None, or one str per box."""
    if labels is None:
        return None
    if isinstance(labels, str) and count == 1:
        labels = [labels]
    if isinstance(labels, str) or not isinstance(labels, Sequence) or len(labels) != count:
        raise ValueError(f"labels must be a list of {count} str, one per box, got {labels!r}")
    for i, text in enumerate(labels):
        if not isinstance(text, str):
            raise TypeError(f"labels[{i}] must be a str, got {text!r}")
    return list(labels)


def draw_boxes(
    pixels: np.ndarray, boxes: np.ndarray, labels: Sequence[str] | None = None
) -> np.ndarray:
    """A copy of (H, W, C) ``pixels`` (grey becomes RGB) with a red outline per box drawn
    as PyTorch draws it (2-pixel edges, see :func:`.torch_rules.box_edge_rects`)
    and, when ``labels`` are given, each label on a red strip at the box's bottom (Pillow)."""
    out = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels.copy()
    color = np.array(BOX_COLOR + (255,) * (out.shape[2] - 3), dtype=np.uint8)
    if labels:
        return _draw_labelled(out, boxes, labels)
    for box in boxes:
        fill_rects(out, box_edge_rects(box), color)
    return out


def _draw_labelled(pixels: np.ndarray, boxes: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    # Box by box, outline then label, as PyTorch: a later box's outline covers an earlier label.
    image_module, draw_module, font_module = pillow("add_image_with_boxes(labels=...)")
    image = image_module.fromarray(pixels)
    draw = draw_module.Draw(image)
    font = font_module.load_default()
    fill = BOX_COLOR + (255,) * (pixels.shape[2] - 3)
    ink = (0,) * len(fill)
    for box, text in zip(boxes.tolist(), labels):
        for x0, y0, x1, y1 in box_edge_rects(box):
            draw.rectangle([(x0, y0), (x1, y1)], fill=fill)
        if not text:
            continue
        left, _, _, bottom = box
        bbox = font.getbbox(text)
        tw, th = bbox[2] - bbox[0], bbox[3] - bbox[1]
        margin = math.ceil(0.05 * th)
        draw.rectangle([(left, bottom - th - 2 * margin), (left + tw, bottom)], fill=fill)
        draw.text((left + margin, bottom - th - margin), text, fill=ink, font=font)
    return np.asarray(image)


def rescale_lanczos(pixels: np.ndarray, factor: float) -> np.ndarray:
    """``pixels`` resized by ``factor`` to (int(H * factor), int(W * factor)), at least 1x1,
    with Pillow's Lanczos filter, as PyTorch resizes (needs Pillow unless the factor keeps
    the size). At most ``MAX_PIXELS`` pixels, else ``ValueError`` naming ``rescale``."""
    h, w = pixels.shape[:2]
    nh, nw = max(1, int(h * factor)), max(1, int(w * factor))
    if (nh, nw) == (h, w):
        return pixels
    if nh * nw > MAX_PIXELS:
        raise ValueError(
            f"rescale={factor!r} makes the {w}x{h} image {nw}x{nh}, more than {MAX_PIXELS} pixels"
        )
    image_module, _, _ = pillow("add_image_with_boxes(rescale=...)")
    resized = image_module.fromarray(pixels).resize((nw, nh), image_module.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(resized))


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

    # Any: matplotlib's own annotations leave draw() and buffer_rgba() untyped, and in an
    # environment without matplotlib the module is not there for mypy at all.
    canvas: Any = (
        figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    )
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
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
